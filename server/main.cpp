// faceswap-server: serves the swap pipeline to remote clients over WebSocket (docs/server.md).
//
//   faceswap-server --config server.toml
//   faceswap-server --port 8080 --swap-model resources/models/demo.fsmodel --device cuda
//   faceswap-server --engine none --port 8080     # transport benchmark: frames come back as sent
//   faceswap-server --swap-model-dir models --tokens-file tokens   # accepts pushed models
//   faceswap-server --swap-model-dir models --model-url https://bucket.example/demo.fsmodel
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <thread>

#include "config.h"
#include "faceswap/paths.h"
#include "model_pull.h"
#include "server.h"

namespace fs = std::filesystem;
using namespace faceswap::server;

namespace {

// The --config file is read before the flags, so flags override it.
std::string find_config_flag(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if ((arg == "--config" || arg == "-c") && i + 1 < argc) return argv[i + 1];
        if (arg.rfind("--config=", 0) == 0) return arg.substr(9);
    }
    return {};
}

std::vector<std::string> swap_models_of(const ServerConfig& config) {
    std::vector<std::string> paths = config.swap_models;
    if (!config.swap_model_dir.empty()) {
        std::error_code ec;
        for (const auto& entry : fs::directory_iterator(config.swap_model_dir, ec))
            if (entry.path().extension() == ".fsmodel") paths.push_back(entry.path().string());
        if (ec)
            throw ConfigError("cannot list engine.swap_model_dir " + config.swap_model_dir + ": " +
                              ec.message());
    }
    return paths;
}

}  // namespace

namespace {

// Every connection is a descriptor: take the hard limit (the soft one is often 1024), and say
// when limits.max_connections cannot be reached under it (accept then fails with EMFILE, and
// the server pauses accepting instead of refusing with a reason).
void raise_descriptor_limit(int max_connections) {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
        ::getrlimit(RLIMIT_NOFILE, &limit);
    }
    constexpr rlim_t kSpare = 128;  // models, logs, the engine's own files
    if (max_connections == 0 || static_cast<rlim_t>(max_connections) + kSpare > limit.rlim_cur)
        spdlog::warn(
            "open files are limited to {}: limits.max_connections ({}) plus {} spare "
            "does not fit; raise 'ulimit -n' (LimitNOFILE= in systemd) or lower it",
            static_cast<unsigned long long>(limit.rlim_cur), max_connections,
            static_cast<unsigned long long>(kSpare));
}

// A models folder the server cannot write (a read-only volume, one owned by another user):
// its models are still served, but uploads and pulls would fail one by one later; say so once
// now, naming the folder, and refuse outright when pulls are configured.
void check_model_dir_writable(const ServerConfig& config) {
    if (config.swap_model_dir.empty() || config.engine != "faceswap") return;
    if (::access(config.swap_model_dir.c_str(), W_OK) == 0) return;
    const std::string why = std::strerror(errno);
    const std::string problem = "engine.swap_model_dir " + config.swap_model_dir +
                                " is not writable by this process (uid " +
                                std::to_string(::getuid()) + "): " + why;
    if (!config.model_urls.empty())
        throw ConfigError(problem + "; --model-url pulls models into it: make it writable");
    spdlog::warn(
        "{}; its models are served, uploads there are refused (a writable volume "
        "accepts them: fsGroup in Kubernetes, --user or chown for a container)",
        problem);
}

}  // namespace

int main(int argc, char** argv) {
    ServerConfig config;
    std::string config_path = find_config_flag(argc, argv);
    std::string log_level = "info";
    try {
        if (!config_path.empty()) load_config_file(config_path, config);
    } catch (const ConfigError& e) {
        std::cerr << "faceswap-server: " << e.what() << "\n";
        return 2;
    }

    CLI::App app{"faceswap-server: the face-swap pipeline for remote clients over WebSocket"};
    app.add_option("-c,--config", config_path, "TOML config file (flags override it)");
    app.add_option("--address", config.address, "listen address");
    app.add_option("-p,--port", config.port, "listen port (0: any free port)");
    app.add_option("--io-threads", config.io_threads, "network threads")->check(CLI::Range(1, 64));
    app.add_option("--max-sessions", config.max_sessions, "concurrent sessions")
        ->check(CLI::Range(1, 100000));
    app.add_option("--engine", config.engine,
                   "faceswap, or none (pass-through: frames come back unchanged; for transport "
                   "benchmarks only)")
        ->check(CLI::IsMember({"faceswap", "none"}));
    app.add_option("--model-dir", config.model_dir, "detector and landmark models");
    app.add_option("--swap-model", config.swap_models,
                   "swap model file to serve (repeatable; its id is the file stem)");
    app.add_option("--swap-model-dir", config.swap_model_dir,
                   "serve every *.fsmodel in it; uploads and --model-url pulls are kept here");
    app.add_option("--model-url", config.model_urls,
                   "pull a model over HTTP(S) into --swap-model-dir before turning ready "
                   "(repeatable; URL#sha256=HEX pins its content)");
    app.add_option("--model-url-ca", config.model_url_ca,
                   "PEM CA bundle for https --model-url sources (default: the system's)");
    app.add_option("--model-url-token-file", config.model_url_token_file,
                   "its first token is sent to --model-url sources (another server's model API)");
    app.add_option("--max-model-bytes", config.max_model_bytes, "largest model upload")
        ->check(CLI::Range(std::int64_t{1024}, std::int64_t{1} << 40));
    app.add_option("--max-connections", config.max_connections,
                   "open TCP connections in all (0: no limit)");
    app.add_option("--max-connections-per-address", config.max_connections_per_address,
                   "open TCP connections from one client address (0: no limit; raise it behind a "
                   "proxy)");
    app.add_option("--max-queued-bytes", config.max_queued_bytes,
                   "result bytes waiting to be written to one session")
        ->check(CLI::Range(std::int64_t{65536}, std::int64_t{1} << 34));
    app.add_option("--max-frame-rate", config.max_frame_rate,
                   "frames per second one session may have decoded (0: no limit)");
    app.add_option("--device", config.device, "auto, cpu or cuda")
        ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
    app.add_option("--cpu-threads", config.cpu_threads, "engine CPU threads (0: all cores)");
    app.add_option("--precision", config.precision,
                   "the nets' arithmetic: auto (bfloat16 on CPUs with AVX-512 BF16), fp32, bf16")
        ->check(CLI::IsMember({"auto", "fp32", "bf16"}));
    app.add_option("--max-frame-bytes", config.max_frame_bytes, "largest JPEG payload");
    app.add_option("--max-width", config.max_width, "widest frame");
    app.add_option("--max-height", config.max_height, "tallest frame");
    app.add_option("--max-in-flight", config.max_in_flight, "frames in flight per session")
        ->check(CLI::Range(1, 64));
    app.add_option("--batch-size", config.batch_size, "frames per engine batch")
        ->check(CLI::Range(1, 64));
    app.add_option("--batch-wait-ms", config.batch_wait_ms, "wait to fill a batch")
        ->check(CLI::Range(0, 1000));
    app.add_option("--batch-latency-ms", config.batch_latency_ms,
                   "engine time a batch may take per stage (0: no limit)")
        ->check(CLI::Range(0, 10000));
    app.add_option("--stages", config.stages, "engine stages on their own threads (1 or 2)")
        ->check(CLI::Range(1, 2));
    app.add_option("--tokens-file", config.tokens_file, "accepted tokens, one per line");
    app.add_flag("--allow-anonymous", config.allow_anonymous,
                 "serve anyone who connects, without a token, on a non-loopback address "
                 "(without it, --address beyond 127.0.0.1 needs --tokens-file)");
    app.add_option("--tls-cert", config.tls_cert, "PEM certificate chain (serve wss://)");
    app.add_option("--tls-key", config.tls_key, "PEM private key");
    app.add_option("--handshake-timeout-s", config.handshake_timeout_s, "upgrade + hello");
    app.add_option("--idle-timeout-s", config.idle_timeout_s, "silent client cut-off");
    app.add_option("--drain-timeout-s", config.drain_timeout_s, "SIGTERM: longest drain");
    app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
    CLI11_PARSE(app, argc, argv);
    // Logs go to stderr; stdout carries only the "listening on port N" line, for scripts.
    spdlog::set_default_logger(spdlog::stderr_color_mt("faceswap-server"));
    spdlog::set_level(spdlog::level::from_str(log_level));

    try {
        if (config.engine == "faceswap" && config.swap_models.empty() &&
            config.swap_model_dir.empty() && config.model_urls.empty()) {
            const std::string fallback = faceswap::paths::swap_model();
            if (fs::exists(fallback)) config.swap_models.push_back(fallback);
        }
        config.validate();
        config.validate_files();
        std::shared_ptr<ProcessorFactory> factory;
        if (config.engine == "none") {
            spdlog::warn("--engine none: frames come back unchanged (transport benchmark mode)");
            std::vector<std::string> ids{"demo"};
            for (const auto& path : swap_models_of(config))
                ids.push_back(fs::path(path).stem().string());
            factory = make_passthrough_factory(ids);
        } else {
            if (config.swap_models.empty() && config.swap_model_dir.empty())
                throw ConfigError(
                    "no swap model: pass --swap-model FILE (or engine.swap_models in the config); "
                    "train one with 'faceswap train'");
            // The swap models load in the Server (its model catalog), which can also replace
            // them at run time.
            EngineSettings settings;
            settings.model_dir = faceswap::paths::face_model_dir(config.model_dir);
            settings.allow_no_swap_models = true;
            settings.device = config.device;
            settings.cpu_threads = config.cpu_threads;
            settings.precision = config.precision;
            spdlog::info("loading models from {}", settings.model_dir);
            factory = make_engine_factory(settings);
        }
        faceswap::net::HttpOptions pull_http;
        pull_http.tls_ca_file = config.model_url_ca;
        if (!config.model_url_token_file.empty())
            pull_http.token = *load_tokens(config.model_url_token_file).all.begin();
        std::vector<ModelSource> sources;
        for (const std::string& url : config.model_urls) sources.push_back(parse_model_source(url));
        if (!sources.empty() && config.engine != "faceswap")
            throw ConfigError("--model-url needs the real engine (--engine faceswap)");
        raise_descriptor_limit(config.max_connections);
        check_model_dir_writable(config);
        Server server(config, factory);
        if (config.engine == "faceswap" && server.models().list().empty() && sources.empty())
            spdlog::warn(
                "no swap model yet: sessions are refused until one is pushed "
                "(PUT /v1/models/ID)");
        server.handle_signals();
        if (!sources.empty()) server.set_ready(false, "pulling models");
        const std::uint16_t port = server.start();
        // One parseable line for scripts and tests that start us on port 0.
        std::cout << "listening on port " << port << std::endl;
        // Pulled with the port open, so /healthz answers (a liveness probe does not kill a
        // replica during a long download) while /readyz holds load balancers off.
        std::atomic<int> status{0};
        std::atomic<bool> stop_pulling{false};
        std::thread puller;
        if (!sources.empty()) {
            puller = std::thread([&] {
                try {
                    pull_models(sources, server.models(), pull_http, &stop_pulling);
                    server.set_ready(true);
                    spdlog::info("models pulled: ready");
                } catch (const std::exception& e) {
                    if (stop_pulling) return;  // stopped by a signal meanwhile
                    spdlog::error("{}", e.what());
                    status = 1;
                    server.drain();  // returns at once; wait() below ends when it is done
                }
            });
        }
        server.wait();
        stop_pulling = true;
        if (puller.joinable()) puller.join();
        spdlog::info("stopped");
        return status;
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
}
