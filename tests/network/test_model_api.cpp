// The model API over 127.0.0.1: a real faceswap-server process (real engine), nginx (Debian
// package) as a plain HTTP file server, and the libcurl client (faceswap/net/model_store.h).
// Downloads cut mid-way and resumed, pushes that replace a model while a session streams,
// refused uploads that leave the served version alone, and --model-url pulls at start-up.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "faceswap/net/client.h"
#include "faceswap/net/model_store.h"
#include "faceswap/net/sha256.h"
#include "faceswap/swap.h"
#include "faceswap/train.h"
#include "net_test_support.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace faceswap;
using namespace faceswap::test;
using namespace std::chrono_literals;

namespace {

const std::string kToken = "model-api-test-token";  // with the models right
const std::string kStreamOnlyToken = "stream-only-test-token";

fs::path demo_model() {
    return source_dir() / "resources/models/demo.fsmodel";
}

// A second, different swap model: tiny, untrained (64 px) but complete and loadable. Kept in
// the build tree so each test process does not make it again.
// A second, different model (one training step of the tiny recipe), cached between runs.
const fs::path& other_model() {
    static const fs::path path =
        tiny_swap_model_file(fs::path(FACESWAP_NETWORK_TEST_MODELS) / "model-api-v2.fsmodel");
    return path;
}

std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    socklen_t length = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    ::close(fd);
    return ntohs(address.sin_port);
}

// nginx serving a folder on 127.0.0.1 (one process, no daemon), optionally rate-limited so
// that a test can cut a download mid-way.
class Nginx {
  public:
    Nginx(fs::path root, const std::string& rate) : root_(std::move(root)), port_(free_port()) {
        fs::create_directories(dir_.path() / "tmp");
        std::ofstream(dir_.path() / "nginx.conf")
            << "daemon off;\nmaster_process off;\npid " << (dir_.path() / "nginx.pid").string()
            << ";\nerror_log " << (dir_.path() / "error.log").string()
            << ";\nevents { worker_connections 64; }\nhttp {\n  access_log "
            << access_log().string() << ";\n"
            << "  client_body_temp_path " << (dir_.path() / "tmp").string() << ";\n"
            << "  proxy_temp_path " << (dir_.path() / "tmp").string() << ";\n"
            << "  fastcgi_temp_path " << (dir_.path() / "tmp").string() << ";\n"
            << "  uwsgi_temp_path " << (dir_.path() / "tmp").string() << ";\n"
            << "  scgi_temp_path " << (dir_.path() / "tmp").string() << ";\n"
            << "  server {\n    listen 127.0.0.1:" << port_ << ";\n    root " << root_.string()
            << ";\n    limit_rate " << rate << ";\n"
            << "    location /fast/ { alias " << root_.string() << "/; limit_rate 0; }\n  }\n}\n";
        start();
    }
    ~Nginx() { kill_hard(); }

    void start() {
        pid_ = ::fork();
        if (pid_ == 0) {
            const std::string prefix = dir_.path().string() + "/";
            const std::string conf = (dir_.path() / "nginx.conf").string();
            ::execl("/usr/sbin/nginx", "nginx", "-p", prefix.c_str(), "-c", conf.c_str(),
                    static_cast<char*>(nullptr));
            ::_exit(127);
        }
        REQUIRE(wait_until([&] {
            const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in address{};
            address.sin_family = AF_INET;
            address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            address.sin_port = htons(port_);
            const bool up =
                ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
            ::close(fd);
            return up;
        }));
    }
    void kill_hard() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
    std::string url(const std::string& name) const {
        return "http://127.0.0.1:" + std::to_string(port_) + "/" + name;
    }
    fs::path access_log() const { return dir_.path() / "access.log"; }
    // Requests for `name` with this status in the access log (nginx writes it at once).
    int requests(const std::string& name, int status) const {
        std::ifstream in(access_log());
        std::string line;
        int count = 0;
        const std::string what = "GET /" + name + " HTTP/1.1\" " + std::to_string(status) + " ";
        while (std::getline(in, line)) count += line.find(what) != std::string::npos;
        return count;
    }

  private:
    TempDir dir_;
    fs::path root_;
    std::uint16_t port_;
    int pid_ = -1;
};

bool leftovers_in(const fs::path& dir) {
    for (const auto& entry : fs::directory_iterator(dir))
        if (entry.path().filename().string().rfind(".incoming-", 0) == 0) return true;
    return false;
}

std::vector<std::string> server_args(const fs::path& swap_model_dir, const fs::path& tokens) {
    return {"--address",        "127.0.0.1",
            "--port",           "0",
            "--device",         "cpu",
            "--cpu-threads",    "1",
            "--swap-model-dir", swap_model_dir.string(),
            "--tokens-file",    tokens.string(),
            "--model-dir",      model_dir().string(),
            "--log-level",      "warn"};
}

std::unique_ptr<net::Client> connected_client(std::uint16_t port, const std::string& model,
                                              std::atomic<int>* results) {
    net::ClientConfig config;
    config.url = "ws://127.0.0.1:" + std::to_string(port) + "/";
    config.model = model;
    config.token = kToken;
    config.frame_timeout = 30s;
    auto client =
        std::make_unique<net::Client>(config, [results](net::ResultFrame&&) { ++*results; });
    client->start();
    REQUIRE(wait_until([&] { return client->state() == net::ClientState::kConnected; }, 30s));
    return client;
}

}  // namespace

TEST_CASE("a download from nginx cut mid-way resumes where it stopped, verified by sha256",
          "[network][model-api]") {
    TempDir files, out;
    fs::copy_file(demo_model(), files.path() / "demo.fsmodel");
    const std::string expected = net::sha256_of_file(demo_model().string());
    Nginx nginx(files.path(), "6m");  // about 3.5 s for the 22 MB model
    const fs::path dest = out.path() / "models" / "demo.fsmodel";

    // Cut: nginx is killed once a third has arrived; with one attempt the client gives up.
    net::DownloadOptions first;
    first.max_attempts = 1;
    std::atomic<std::int64_t> seen{0};
    first.progress = [&](const net::TransferProgress& p) { seen = p.done_bytes; };
    std::thread killer([&] {
        wait_until([&] { return seen > 7'000'000; }, 30s);
        nginx.kill_hard();
    });
    try {
        net::download_file(nginx.url("demo.fsmodel"), dest.string(), {}, first);
        FAIL("the download survived nginx being killed");
    } catch (const net::TransferError& e) {
        CHECK(e.kind() == net::TransferErrorKind::kNetwork);
        CHECK(std::string(e.what()).find("run again to resume") != std::string::npos);
    }
    killer.join();
    CHECK_FALSE(fs::exists(dest));  // a partial download never looks like a model
    const fs::path partial = dest.string() + ".partial";
    REQUIRE(fs::exists(partial));
    const auto kept = static_cast<std::int64_t>(fs::file_size(partial));
    CHECK(kept >= 7'000'000);
    CHECK(kept < static_cast<std::int64_t>(fs::file_size(demo_model())));

    // Resumed from a restarted nginx: only the rest travels.
    nginx.start();
    const auto result = net::download_file(nginx.url("demo.fsmodel"), dest.string(), {}, {});
    CHECK(result.resumed_from == kept);
    CHECK(result.sha256 == expected);
    CHECK(net::sha256_of_file(dest.string()) == expected);
    CHECK(file_bytes(dest) == file_bytes(demo_model()));
    CHECK_FALSE(fs::exists(partial));
    CHECK_FALSE(fs::exists(partial.string() + ".etag"));
    CHECK(nginx.requests("demo.fsmodel", 206) == 1);

    {  // A wrong --sha256 is refused and nothing is left behind (unthrottled: /fast/).
        const fs::path other = out.path() / "other.fsmodel";
        net::DownloadOptions options;
        options.expected_sha256 = std::string(64, '0');
        try {
            net::download_file(nginx.url("fast/demo.fsmodel"), other.string(), {}, options);
            FAIL("a wrong sha256 was accepted");
        } catch (const net::TransferError& e) {
            CHECK(e.kind() == net::TransferErrorKind::kIntegrity);
            CHECK(std::string(e.what()).find(expected) != std::string::npos);
        }
        CHECK_FALSE(fs::exists(other));
        CHECK_FALSE(fs::exists(other.string() + ".partial"));
        CHECK_FALSE(fs::exists(other.string() + ".partial.etag"));
    }
    {  // The CLI refuses a wrong --sha256 the same way.
        std::string output;
        const fs::path other = out.path() / "cli.fsmodel";
        const int code = run_command(std::string(FACESWAP_CLI) + " models pull " +
                                         nginx.url("fast/demo.fsmodel") + " -o " + other.string() +
                                         " --sha256 " + std::string(64, 'a') + " 2>&1",
                                     &output);
        CHECK(code != 0);
        CHECK(output.find("sha256 of the download is " + expected) != std::string::npos);
        CHECK_FALSE(fs::exists(other));
        for (const auto& entry : fs::directory_iterator(out.path()))
            CHECK(entry.path().filename().string().rfind("cli.fsmodel", 0) == std::string::npos);
    }
}

TEST_CASE("a download from the server cancelled mid-way resumes with Range, and the CLI pulls",
          "[network][model-api]") {
    TempDir models, out;
    fs::copy_file(demo_model(), models.path() / "demo.fsmodel");
    const fs::path tokens = out.path() / "tokens";
    std::ofstream(tokens) << kToken << " models\n" << kStreamOnlyToken << "\n";
    ServerProcess server(server_args(models.path(), tokens));
    net::HttpOptions http;
    http.token = kToken;
    const net::ModelStoreClient store("ws://127.0.0.1:" + std::to_string(server.port()), http);

    const auto listed = store.list();
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].id == "demo");
    CHECK(listed[0].identity_a == "franck");
    CHECK(listed[0].identity_b == "cap12");
    CHECK(listed[0].resolution == 256);  // the demo model (format 2: 256 px faces)
    CHECK(listed[0].size_bytes == static_cast<std::int64_t>(fs::file_size(demo_model())));
    CHECK(listed[0].sha256 == net::sha256_of_file(demo_model().string()));

    std::atomic<bool> cancel{false};
    net::DownloadOptions options;
    options.cancel = &cancel;
    options.progress = [&](const net::TransferProgress& p) {
        if (p.done_bytes > 0) cancel = true;  // the first report: loopback is fast
    };
    const fs::path dest = out.path() / "demo.fsmodel";
    CHECK_THROWS_AS(store.download("demo", dest.string(), options), net::TransferError);
    CHECK_FALSE(fs::exists(dest));
    const auto kept = static_cast<std::int64_t>(fs::file_size(dest.string() + ".partial"));
    CHECK(kept > 0);
    CHECK(kept < listed[0].size_bytes);
    const auto result = store.download("demo", dest.string());
    CHECK(result.resumed_from == kept);
    CHECK(result.sha256 == listed[0].sha256);

    std::string output;
    const fs::path pulled = out.path() / "pulled.fsmodel";
    REQUIRE(run_command("FACESWAP_TOKEN=" + kToken + " " + FACESWAP_CLI +
                            " models pull http://127.0.0.1:" + std::to_string(server.port()) +
                            "/demo -o " + pulled.string() + " --sha256 " + listed[0].sha256 +
                            " 2>&1",
                        &output) == 0);
    CHECK(output.find("a swap model: franck -> cap12, 256 px") != std::string::npos);
    CHECK(net::sha256_of_file(pulled.string()) == listed[0].sha256);

    // HTTP semantics, checked with the curl tool: status, bytes and the headers that matter.
    const std::string model_url = "http://127.0.0.1:" + std::to_string(server.port()) +
                                  "/v1/models/demo -H 'Authorization: Bearer " + kToken + "'";
    auto curl = [&](const std::string& flags) {
        std::string answer;
        run_command(
            "curl -s -o /dev/null -w '%{http_code} %{size_download}' " + flags + " " + model_url,
            &answer);
        return answer;
    };
    const std::string size = std::to_string(listed[0].size_bytes);
    const std::string etag = "'If-None-Match: \"" + listed[0].sha256 + "\"'";
    CHECK(curl("") == "200 " + size);
    CHECK(curl("-r 100-199") == "206 100");
    CHECK(curl("-r -1000") == "206 1000");
    CHECK(curl("-r " + size + "-") == "416 0");
    CHECK(curl("-r 0-9,20-29") == "200 " + size);  // several ranges: the whole file
    CHECK(curl("-H " + etag) == "304 0");
    CHECK(curl("-r 100-199 -H 'If-Range: \"an-old-version\"'") == "200 " + size);
    CHECK(curl("-r 100-199 -H 'If-Range: \"" + listed[0].sha256 + "\"'") == "206 100");
    CHECK(curl("-I") == "200 0");
    CHECK(curl("-X POST").rfind("405 ", 0) == 0);

    // Without the token the server says why.
    try {
        net::ModelStoreClient("http://127.0.0.1:" + std::to_string(server.port())).list();
        FAIL("listing without a token was allowed");
    } catch (const net::TransferError& e) {
        CHECK(e.http_status() == 401);
        CHECK(e.server_message().find("token") != std::string::npos);
    }
}

TEST_CASE(
    "a model pushed while a session streams: the session keeps its version, new sessions "
    "get the new one",
    "[network][model-api]") {
    TempDir models, work;
    const fs::path tokens = work.path() / "tokens";
    std::ofstream(tokens) << kToken << " models\n" << kStreamOnlyToken << "\n";
    const std::string v2_file = other_model().string();
    ServerProcess server(server_args(models.path(), tokens));
    net::HttpOptions http;
    http.token = kToken;
    const net::ModelStoreClient store("http://127.0.0.1:" + std::to_string(server.port()), http);
    REQUIRE(store.list().empty());

    // Pushed with the CLI (progress bar, local check first).
    std::string output;
    REQUIRE(run_command(std::string(FACESWAP_CLI) +
                            " models push http://127.0.0.1:" + std::to_string(server.port()) + " " +
                            demo_model().string() + " --token " + kToken + " 2>&1",
                        &output) == 0);
    INFO(output);
    const std::string v1 = net::sha256_of_file(demo_model().string());
    const auto listed = store.list();
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].sha256 == v1);
    CHECK(fs::exists(models.path() / "demo.fsmodel"));

    std::atomic<int> results_old{0};
    auto old_session = connected_client(server.port(), "demo", &results_old);
    CHECK(old_session->welcome()->model_sha256 == v1);
    const auto& frames = video_frames(24);
    std::atomic<bool> streaming{true};
    std::thread camera([&] {
        for (int i = 0; streaming; ++i) {
            const auto& frame = frames[i % frames.size()];
            old_session->submit_jpeg(frame.jpeg, frame.width, frame.height);
            std::this_thread::sleep_for(66ms);
        }
    });
    REQUIRE(wait_until([&] { return results_old >= 3; }, 60s));

    const net::RemoteModel pushed = store.upload("demo", v2_file);
    const std::string v2 = net::sha256_of_file(v2_file);
    CHECK(pushed.sha256 == v2);
    CHECK(pushed.resolution == 64);
    const int at_push = results_old;
    REQUIRE(wait_until([&] { return results_old >= at_push + 5; }, 60s));
    streaming = false;
    camera.join();
    const auto stats = old_session->stats();
    CHECK(old_session->state() == net::ClientState::kConnected);
    CHECK(stats.connects == 1);
    CHECK(stats.errors == 0);
    CHECK(old_session->welcome()->model_sha256 == v1);

    std::atomic<int> results_new{0};
    auto new_session = connected_client(server.port(), "demo", &results_new);
    CHECK(new_session->welcome()->model_sha256 == v2);
    new_session->submit_jpeg(frames[0].jpeg, frames[0].width, frames[0].height);
    CHECK(wait_until([&] { return results_new == 1; }, 60s));
    CHECK(store.list().at(0).sha256 == v2);
    CHECK(net::sha256_of_file((models.path() / "demo.fsmodel").string()) == v2);
    CHECK_FALSE(leftovers_in(models.path()));

    // Deleted: listed no more, new sessions refused, the file gone.
    store.remove("demo");
    CHECK(store.list().empty());
    CHECK_FALSE(fs::exists(models.path() / "demo.fsmodel"));
}

TEST_CASE(
    "truncated, corrupt, unauthorised and oversized uploads are refused and the served "
    "version stays",
    "[network][model-api]") {
    TempDir models, work;
    fs::copy_file(demo_model(), models.path() / "demo.fsmodel");
    const fs::path tokens = work.path() / "tokens";
    std::ofstream(tokens) << kToken << " models\n" << kStreamOnlyToken << "\n";
    auto args = server_args(models.path(), tokens);
    args.insert(args.end(), {"--max-model-bytes", "25000000"});
    ServerProcess server(args);
    const std::string url = "http://127.0.0.1:" + std::to_string(server.port());
    net::HttpOptions http;
    http.token = kToken;
    const net::ModelStoreClient store(url, http);
    const std::string v1 = net::sha256_of_file(demo_model().string());
    const std::string bytes = file_bytes(demo_model());

    auto refused = [&](const net::ModelStoreClient& client, const fs::path& file) {
        try {
            client.upload("demo", file.string());
        } catch (const net::TransferError& e) {
            CHECK(e.kind() == net::TransferErrorKind::kHttp);
            CHECK_FALSE(e.server_message().empty());
            return std::pair{e.http_status(), std::string(e.what())};
        }
        return std::pair{0, std::string("accepted")};
    };

    const fs::path truncated = work.path() / "truncated.fsmodel";
    std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
    auto [status, message] = refused(store, truncated);
    CHECK(status == 422);
    CHECK(message.find("not a loadable swap model") != std::string::npos);
    CHECK(message.find("previous version") != std::string::npos);

    const fs::path garbage = work.path() / "garbage.fsmodel";
    {
        std::mt19937 rng(7);
        std::string noise(1 << 20, '\0');
        for (auto& c : noise) c = static_cast<char>(rng());
        std::ofstream(garbage, std::ios::binary) << noise;
    }
    std::tie(status, message) = refused(store, garbage);
    CHECK(status == 422);

    std::tie(status, message) = refused(net::ModelStoreClient(url, {}), other_model());
    CHECK(status == 401);
    net::HttpOptions wrong = http;
    wrong.token = "not-the-token";
    std::tie(status, message) = refused(net::ModelStoreClient(url, wrong), other_model());
    CHECK(status == 401);
    CHECK(message.find("--token") != std::string::npos);
    // A token without the models right streams and reads, but cannot change models.
    net::HttpOptions stream_only = http;
    stream_only.token = kStreamOnlyToken;
    CHECK_FALSE(net::ModelStoreClient(url, stream_only).list().empty());
    std::tie(status, message) = refused(net::ModelStoreClient(url, stream_only), other_model());
    CHECK(status == 403);
    CHECK(message.find("models") != std::string::npos);

    // A sha256 header that is not one is refused before the body is read.
    std::tie(status, message) = http_exchange(
        server.port(), "PUT", "/v1/models/demo",
        {{"Authorization", std::string("Bearer ") + kToken}, {"X-Faceswap-Sha256", "not-a-digest"}},
        bytes.substr(0, 1000));
    CHECK(status == 400);
    CHECK(message.find("64 hex digits") != std::string::npos);

    const fs::path oversized = work.path() / "oversized.fsmodel";
    std::ofstream(oversized, std::ios::binary) << bytes << bytes.substr(0, 4'000'000);
    std::tie(status, message) = refused(store, oversized);
    CHECK(status == 413);
    CHECK(message.find("max_model_bytes") != std::string::npos);

    // The CLI checks a model before sending it.
    std::string output;
    CHECK(run_command(std::string(FACESWAP_CLI) + " models push " + url + " " + truncated.string() +
                          " --id demo --token " + kToken + " 2>&1",
                      &output) != 0);
    CHECK(output.find(truncated.string()) != std::string::npos);

    const std::string metrics = http_get(server.port(), "/metrics").second;
    // Truncated, garbage, no token, wrong token, stream-only token, bad sha256, oversized.
    CHECK(metrics.find("faceswap_model_uploads_total{result=\"refused\"} 7\n") !=
          std::string::npos);
    CHECK(metrics.find("faceswap_model_uploads_total{result=\"installed\"} 0\n") !=
          std::string::npos);

    // Untouched: the listing, the file, new sessions.
    const auto listed = store.list();
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].sha256 == v1);
    CHECK(net::sha256_of_file((models.path() / "demo.fsmodel").string()) == v1);
    CHECK_FALSE(leftovers_in(models.path()));
    std::atomic<int> results{0};
    auto session = connected_client(server.port(), "demo", &results);
    CHECK(session->welcome()->model_sha256 == v1);
}

TEST_CASE(
    "a server started with --model-url turns ready with the pulled model, and a restart "
    "does not download it again",
    "[network][model-api]") {
    TempDir files, models, work;
    fs::copy_file(demo_model(), files.path() / "demo.fsmodel");
    const std::string sha = net::sha256_of_file(demo_model().string());
    Nginx nginx(files.path(), "10m");  // about 2 s: /readyz is seen not ready first
    const fs::path tokens = work.path() / "tokens";
    std::ofstream(tokens) << kToken << " models\n" << kStreamOnlyToken << "\n";
    auto args = server_args(models.path(), tokens);
    args.insert(args.end(), {"--model-url", nginx.url("demo.fsmodel")});

    auto started = std::make_unique<ServerProcess>(args);
    CHECK(http_get(started->port(), "/healthz").first == 200);
    CHECK(http_get(started->port(), "/readyz").first == 503);  // pulling
    REQUIRE(wait_until([&] { return http_get(started->port(), "/readyz").first == 200; }, 60s));
    net::HttpOptions http;
    http.token = kToken;
    auto listed =
        net::ModelStoreClient("http://127.0.0.1:" + std::to_string(started->port()), http).list();
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].id == "demo");
    CHECK(listed[0].sha256 == sha);
    std::atomic<int> results{0};
    CHECK(connected_client(started->port(), "demo", &results)->welcome()->model_sha256 == sha);
    CHECK(nginx.requests("demo.fsmodel", 200) == 1);

    // Restarted: a conditional request (304), no second download.
    CHECK(started->terminate() == 0);
    started = std::make_unique<ServerProcess>(args);
    REQUIRE(wait_until([&] { return http_get(started->port(), "/readyz").first == 200; }, 60s));
    CHECK(nginx.requests("demo.fsmodel", 200) == 1);
    CHECK(nginx.requests("demo.fsmodel", 304) == 1);

    // Pinned by sha256 and already here: no request at all.
    CHECK(started->terminate() == 0);
    args.back() += "#sha256=" + sha;
    started = std::make_unique<ServerProcess>(args);
    REQUIRE(wait_until([&] { return http_get(started->port(), "/readyz").first == 200; }, 60s));
    CHECK(nginx.requests("demo.fsmodel", 200) + nginx.requests("demo.fsmodel", 304) == 2);
    CHECK(started->terminate() == 0);

    // A pinned hash the source does not match: the server says why and exits with status 1.
    fs::remove(models.path() / "demo.fsmodel");
    args.back() = nginx.url("demo.fsmodel") + "#sha256=" + std::string(64, 'b');
    std::string command = "timeout 120 " + std::string(FACESWAP_SERVER);
    for (const auto& arg : args) command += " '" + arg + "'";
    std::string output;
    CHECK(run_command(command, &output) == 1);
    CHECK(output.find("sha256 of the download is " + sha) != std::string::npos);
    CHECK_FALSE(fs::exists(models.path() / "demo.fsmodel"));
    CHECK_FALSE(leftovers_in(models.path()));
}

TEST_CASE("the model API's config keys load, and --model-url needs a model directory",
          "[network][model-api]") {
    TempDir dir;
    const fs::path file = dir.path() / "server.toml";
    std::ofstream(file) << "[limits]\nmax_model_bytes = 5000000\n[engine]\n"
                        << "model_urls = [\"http://127.0.0.1:1/a.fsmodel\"]\n";
    server::ServerConfig config;
    server::load_config_file(file.string(), config);
    CHECK(config.max_model_bytes == 5000000);
    CHECK(config.model_urls == std::vector<std::string>{"http://127.0.0.1:1/a.fsmodel"});
    CHECK_THROWS_WITH(config.validate(), Catch::Contains("swap_model_dir"));
    config.swap_model_dir = (dir.path() / "models").string();
    CHECK_NOTHROW(config.validate());

    server::ServerConfig example;
    server::load_config_file((source_dir() / "server/faceswap-server.example.toml").string(),
                             example);
    CHECK(example.max_model_bytes == std::int64_t{1} << 30);
}

TEST_CASE("the model API over TLS: the certificate is verified unless told otherwise",
          "[network][model-api]") {
    TempDir dir, models;
    const auto [cert, key] = make_test_certificate(dir.path().string());
    fs::copy_file(demo_model(), models.path() / "demo.fsmodel");
    const fs::path tokens = dir.path() / "tokens";
    std::ofstream(tokens) << kToken << " models\n" << kStreamOnlyToken << "\n";
    auto args = server_args(models.path(), tokens);
    args.insert(args.end(), {"--tls-cert", cert, "--tls-key", key});
    ServerProcess server(args);
    const std::string url = "https://127.0.0.1:" + std::to_string(server.port());

    net::HttpOptions trusted;
    trusted.token = kToken;
    trusted.tls_ca_file = cert;
    const net::ModelStoreClient store(url, trusted);
    REQUIRE(store.list().size() == 1);
    const fs::path dest = dir.path() / "demo.fsmodel";
    CHECK(store.download("demo", dest.string()).sha256 ==
          net::sha256_of_file(demo_model().string()));

    net::HttpOptions system_store;  // the self-signed certificate is not in it
    system_store.token = kToken;
    try {
        net::ModelStoreClient(url, system_store).list();
        FAIL("an unverifiable certificate was accepted");
    } catch (const net::TransferError& e) {
        CHECK(e.kind() == net::TransferErrorKind::kTls);
        CHECK(std::string(e.what()).find("certificate") != std::string::npos);
    }
    net::HttpOptions insecure = system_store;
    insecure.tls_verify = false;
    CHECK(net::ModelStoreClient(url, insecure).list().size() == 1);

    // A replica pulls from this server's model API over https, with its CA and token.
    TempDir replica_models;
    auto replica_args = server_args(replica_models.path(), tokens);
    replica_args.insert(replica_args.end(),
                        {"--model-url", url + "/v1/models/demo", "--model-url-ca", cert,
                         "--model-url-token-file", tokens.string()});
    ServerProcess replica(replica_args);
    REQUIRE(wait_until([&] { return http_get(replica.port(), "/readyz").first == 200; }, 60s));
    CHECK(net::sha256_of_file((replica_models.path() / "demo.fsmodel").string()) ==
          net::sha256_of_file(demo_model().string()));
}
