// faceswap-server's configuration: TOML file, validation, tokens file.
#include <catch2/catch.hpp>

#include <fstream>

#include "config.h"
#include "test_support.h"

using namespace faceswap;
using server::ConfigError;
using server::ServerConfig;

TEST_CASE("the example config loads and every key lands in its field", "[network]") {
    ServerConfig config;
    server::load_config_file((test::source_dir() / "server/faceswap-server.example.toml").string(),
                             config);
    CHECK(config.port == 8080);
    CHECK(config.max_in_flight == 6);
    CHECK(config.swap_models == std::vector<std::string>{"resources/models/demo.fsmodel"});
    CHECK(config.batch_size == 8);
    CHECK(config.batch_latency_ms == 60);
    CHECK(config.stages == 2);
    CHECK(config.precision == "auto");
    CHECK_NOTHROW(config.validate());

    test::TempDir dir;
    const auto path = (dir.path() / "c.toml").string();
    std::ofstream(path) << "[server]\nport = 9001\n[limits]\nmax_width = 1280\n";
    ServerConfig partial;
    server::load_config_file(path, partial);
    CHECK(partial.port == 9001);
    CHECK(partial.max_width == 1280);
    CHECK(partial.max_height == 2160);  // untouched keys keep their defaults
}

TEST_CASE("typos, wrong types, out-of-range values and bad combinations are refused", "[network]") {
    test::TempDir dir;
    auto refused = [&](const std::string& text) {
        const auto path = (dir.path() / "c.toml").string();
        std::ofstream(path) << text;
        ServerConfig config;
        try {
            server::load_config_file(path, config);
            config.validate();
            config.validate_files();
        } catch (const ConfigError& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    CHECK_THAT(refused("[server]\nprot = 1\n"), Catch::Contains("unknown key 'server.prot'"));
    CHECK_THAT(refused("[server]\nport = \"80\"\n"), Catch::Contains("server.port"));
    CHECK_THAT(refused("[server]\nport = 70000\n"), Catch::Contains("server.port"));
    CHECK_THAT(refused("[limits]\nmax_in_flight = 0\n"), Catch::Contains("max_in_flight"));
    CHECK_THAT(refused("[scheduler]\nstages = 3\n"), Catch::Contains("scheduler.stages"));
    CHECK_THAT(refused("[engine]\nkind = \"magic\"\n"), Catch::Contains("engine.kind"));
    CHECK_THAT(refused("[engine]\nprecision = \"int8\"\n"),
               Catch::Contains("engine.precision must be auto, fp32 or bf16"));
    CHECK(refused("[engine]\nprecision = \"fp32\"\n").empty());
    CHECK_THAT(refused("[tls]\ncert = \"c.pem\"\n"), Catch::Contains("go together"));
    CHECK_THAT(refused("port = 1\n"), Catch::Contains("[section]"));
    CHECK_THAT(refused("[server\n"), Catch::Contains("line"));
    // Beyond loopback only with tokens, or when told to serve everyone.
    CHECK_THAT(refused("[server]\naddress = \"0.0.0.0\"\n"),
               Catch::Contains("--tokens-file") && Catch::Contains("--allow-anonymous"));
    CHECK(refused("[server]\naddress = \"0.0.0.0\"\n[auth]\nallow_anonymous = true\n").empty());
    const std::string tokens = (dir.path() / "tokens").string();
    const std::string with_tokens =
        "[server]\naddress = \"0.0.0.0\"\n[auth]\ntokens_file = \"" + tokens + "\"\n";
    // A tokens file that is named but missing (a container started without its secret) is
    // refused as no tokens at all, saying where it should be.
    CHECK_THAT(refused(with_tokens),
               Catch::Contains("the tokens file " + tokens + " does not exist") &&
                   Catch::Contains("mount the tokens secret there") &&
                   Catch::Contains("--allow-anonymous"));
    std::ofstream(tokens) << "secret\n";
    CHECK(refused(with_tokens).empty());
    CHECK(refused("[server]\naddress = \"127.0.0.2\"\n").empty());
    CHECK_THAT(refused("[auth]\nallow_anonymous = \"yes\"\n"), Catch::Contains("true or false"));
}

TEST_CASE("loopback addresses, and tokens compared by digest", "[network]") {
    for (const char* loopback : {"127.0.0.1", "127.1.2.3", "::1", "localhost"})
        CHECK(server::is_loopback_address(loopback));
    for (const char* network : {"0.0.0.0", "192.168.1.2", "::", "128.0.0.1", "127.0.0.1x", ""})
        CHECK_FALSE(server::is_loopback_address(network));
    const std::set<std::string> tokens = {"alpha-token", "beta-token"};
    CHECK(server::token_accepted(tokens, "beta-token"));
    CHECK_FALSE(server::token_accepted(tokens, "beta-toke"));
    CHECK_FALSE(server::token_accepted(tokens, "beta-tokenX"));
    CHECK_FALSE(server::token_accepted(tokens, ""));
    CHECK_FALSE(server::token_accepted({}, "anything"));
}

TEST_CASE("a tokens file ignores comments and blank lines", "[network]") {
    test::TempDir dir;
    const auto path = (dir.path() / "tokens").string();
    std::ofstream(path) << "# clients\n\n  alpha  \nbeta models  # the operator\n";
    const server::Tokens tokens = server::load_tokens(path);
    CHECK(tokens.all == std::set<std::string>{"alpha", "beta"});
    CHECK(tokens.models == std::set<std::string>{"beta"});
    std::ofstream(path) << "alpha admin\n";
    CHECK_THROWS_WITH(server::load_tokens(path), Catch::Contains("unknown right 'admin'"));
    std::ofstream(path) << std::string(513, 'x') << "\n";  // longer than a hello can carry
    CHECK_THROWS_WITH(server::load_tokens(path), Catch::Contains("at most 512"));
    std::ofstream(path) << "# nothing\n";
    CHECK_THROWS_AS(server::load_tokens(path), ConfigError);
    CHECK_THROWS_AS(server::load_tokens((dir.path() / "missing").string()), ConfigError);
}
