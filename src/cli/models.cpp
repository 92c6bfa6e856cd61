// faceswap models list|pull|push|delete: swap models over HTTP(S) (faceswap/net/model_store.h).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli_common.h"
#include "commands.h"
#include "faceswap/net/model_store.h"
#include "faceswap/net/sha256.h"
#include "faceswap/swap.h"

namespace faceswap::cli {
namespace {

namespace fs = std::filesystem;

net::HttpOptions http_options(const ModelsOptions& options) {
    net::HttpOptions http;
    http.token = options.token;
    if (http.token.empty())
        if (const char* env = std::getenv("FACESWAP_TOKEN")) http.token = env;
    http.tls_verify = !options.insecure;
    http.tls_ca_file = options.ca_file;
    return http;
}

std::string megabytes(std::int64_t bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f MB", bytes / 1e6);
    return text;
}

// A progress bar in kilobytes (the bar's counts), with the rate in MB/s as its note.
class TransferBar {
  public:
    explicit TransferBar(std::string label) : label_(std::move(label)) {}
    net::ProgressCallback callback() {
        return [this](const net::TransferProgress& p) {
            if (!bar_) bar_.emplace(label_, p.total_bytes > 0 ? p.total_bytes / 1000 : 0);
            char note[64];
            std::snprintf(note, sizeof note, "kB  %.1f MB/s%s", p.bytes_per_s / 1e6,
                          p.resumed_from > 0 ? "  (resumed)" : "");
            bar_->update(p.done_bytes / 1000, note);
            last_ = p;
        };
    }
    void finish() {
        if (bar_) bar_->finish("kB");
    }

  private:
    std::string label_;
    std::optional<ProgressBar> bar_;
    net::TransferProgress last_;
};

// "http://host:8080/demo" (a server and a model id) or a plain file URL (ends in .fsmodel, or
// names /v1/models/ID): returns {url, id}.
std::pair<std::string, std::string> pull_source(const std::string& text) {
    const std::string path = text.substr(0, text.find_first_of("?#"));
    const std::string id = fs::path(path).stem().string();
    const bool file_url =
        fs::path(path).extension() == ".fsmodel" || path.find("/v1/models/") != std::string::npos;
    if (file_url) return {text, id};
    const auto slash = path.find_last_of('/');
    const auto scheme = path.find("://");
    if (scheme == std::string::npos || slash == std::string::npos || slash < scheme + 3)
        throw std::runtime_error("'" + text +
                                 "' is neither SERVER/ID (http://host:8080/demo) nor a model URL "
                                 "(https://host/path/demo.fsmodel)");
    const net::ModelStoreClient server(path.substr(0, slash));
    return {server.model_url(path.substr(slash + 1)), path.substr(slash + 1)};
}

int run_list(const ModelsOptions& options) {
    const net::ModelStoreClient store(options.server, http_options(options));
    const auto models = store.list();
    if (models.empty()) {
        std::printf("%s serves no model\n", store.base_url().c_str());
        return 0;
    }
    std::printf("%-24s %-26s %5s %10s %-20s %s\n", "ID", "IDENTITIES (a -> b)", "RES", "SIZE",
                "ADDED", "SHA256");
    for (const auto& m : models)
        std::printf("%-24s %-26s %5d %10s %-20s %s\n", m.id.c_str(),
                    (m.identity_a + " -> " + m.identity_b).c_str(), m.resolution,
                    megabytes(m.size_bytes).c_str(), m.added.c_str(), m.sha256.c_str());
    return 0;
}

int run_pull(const ModelsOptions& options) {
    const auto [url, id] = pull_source(options.source);
    const std::string out = options.out.empty() ? id + ".fsmodel" : options.out;
    net::DownloadOptions download;
    download.expected_sha256 = options.sha256;
    if (!options.sha256.empty() && fs::is_regular_file(out) &&
        net::sha256_of_file(out) == options.sha256) {
        std::printf("%s is up to date (sha256 %s)\n", out.c_str(), options.sha256.c_str());
        return 0;
    }
    // Downloaded under a neighbouring name and checked as a model before it takes `out`, so
    // `out` is either its previous content or a complete, loadable model.
    const std::string incoming = out + ".download";
    TransferBar bar("pull " + id);
    download.progress = bar.callback();
    // $FACESWAP_TOKEN is for faceswap servers; a plain file URL (a bucket) gets only --token.
    net::HttpOptions http = http_options(options);
    if (url.find("/v1/models/") == std::string::npos) http.token = options.token;
    const net::DownloadResult result = net::download_file(url, incoming, http, download);
    bar.finish();
    try {
        EngineConfig config = EngineConfig::defaults();
        config.device = DeviceKind::kCpu;
        const auto model = SwapModel::load(incoming, config);
        fs::rename(incoming, out);
        const SwapModelInfo& info = model->info();
        std::printf(
            "pulled %s: %s in %.3f s (%.1f MB/s)%s, sha256 %s\n", out.c_str(),
            megabytes(result.size_bytes).c_str(), result.seconds,
            (result.size_bytes - result.resumed_from) / 1e6 / std::max(result.seconds, 1e-6),
            result.resumed_from > 0 ? (", resumed at " + megabytes(result.resumed_from)).c_str()
                                    : "",
            result.sha256.c_str());
        std::printf("  a swap model: %s -> %s, %d px, %lld training steps\n",
                    info.identity_a.c_str(), info.identity_b.c_str(), info.resolution,
                    static_cast<long long>(info.training_steps));
    } catch (const Error& e) {
        fs::remove(incoming);
        throw std::runtime_error("the download is not a loadable swap model (" +
                                 std::string(e.what()) + "); nothing was kept");
    }
    return 0;
}

int run_push(const ModelsOptions& options) {
    const std::string id =
        options.id.empty() ? fs::path(options.model_file).stem().string() : options.id;
    // The server refuses a file that does not load, but a local check says why sooner.
    EngineConfig config = EngineConfig::defaults();
    config.device = DeviceKind::kCpu;
    SwapModel::load(options.model_file, config);
    const net::ModelStoreClient store(options.server, http_options(options));
    TransferBar bar("push " + id);
    net::UploadOptions upload;
    // Timed from the first progress report (the transfer's start), not the local sha256 before.
    std::optional<std::chrono::steady_clock::time_point> started;
    upload.progress = [&, show = bar.callback()](const net::TransferProgress& p) {
        if (!started) started = std::chrono::steady_clock::now();
        show(p);
    };
    const auto called = std::chrono::steady_clock::now();
    const net::RemoteModel model = store.upload(id, options.model_file, upload);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started.value_or(called))
            .count();
    bar.finish();
    std::printf("pushed %s as '%s' to %s: %s in %.3f s (%.1f MB/s), sha256 %s\n",
                options.model_file.c_str(), model.id.c_str(), store.base_url().c_str(),
                megabytes(model.size_bytes).c_str(), seconds, model.size_bytes / 1e6 / seconds,
                model.sha256.c_str());
    std::printf("  of which the server's check (sha256, complete load) %.3f s: served now\n",
                model.server_check_ms / 1000);
    return 0;
}

// Loads each local model file completely (every tensor, as the server does before serving
// it) and hands what it says about itself to `show`; a file that does not load is one line,
// "bad: FILE: why". 0 when every file loaded, else 1.
int for_each_model_file(const ModelsOptions& options,
                        const std::function<void(const std::string&, const SwapModelInfo&)>& show) {
    EngineConfig config = EngineConfig::defaults();
    config.device = DeviceKind::kCpu;
    int bad = 0;
    for (const std::string& file : options.check_files) {
        try {
            show(file, SwapModel::load(file, config)->info());
        } catch (const std::exception& e) {
            ++bad;
            std::printf("bad: %s: %s\n", file.c_str(), e.what());
        }
    }
    return bad == 0 ? 0 : 1;
}

int run_check(const ModelsOptions& options) {
    return for_each_model_file(options, [](const std::string& file, const SwapModelInfo& info) {
        std::printf("ok: %s: %s -> %s, %d px, %lld training steps, sha256 %s\n", file.c_str(),
                    info.identity_a.c_str(), info.identity_b.c_str(), info.resolution,
                    static_cast<long long>(info.training_steps), net::sha256_of_file(file).c_str());
    });
}

// One identity's sources as lines: "franck.mp4 (1.2 MB, sha256 ab12...)" or the camera.
void print_sources(const char* label, const std::string& identity, const std::string& sources) {
    std::printf("  %s %s:", label, identity.c_str());
    const nlohmann::json list = nlohmann::json::parse(sources, nullptr, false);
    if (sources.empty() || !list.is_array() || list.empty()) {
        std::printf(" sources not recorded (a model made before provenance, or from face packs)\n");
        return;
    }
    std::printf(" %zu source%s\n", list.size(), list.size() == 1 ? "" : "s");
    constexpr size_t kShown = 20;
    for (size_t i = 0; i < list.size() && i < kShown; ++i) {
        const nlohmann::json& s = list[i];
        if (s.contains("camera"))
            std::printf("    camera %s, recorded %s\n", s.value("camera", "").c_str(),
                        s.value("recorded", "").c_str());
        else
            std::printf("    %s (%s, sha256 %s)\n", s.value("file", "?").c_str(),
                        megabytes(s.value("bytes", std::int64_t{0})).c_str(),
                        s.value("sha256", "?").c_str());
    }
    if (list.size() > kShown) std::printf("    ... and %zu more\n", list.size() - kShown);
}

// What each file says about itself, its provenance included.
int run_info(const ModelsOptions& options) {
    return for_each_model_file(options, [](const std::string& file, const SwapModelInfo& info) {
        std::printf("%s\n  %s -> %s, %s, %d px faces at coverage %.2f, format %lld\n", file.c_str(),
                    info.identity_a.c_str(), info.identity_b.c_str(), info.architecture.c_str(),
                    info.resolution, info.coverage, static_cast<long long>(info.format_version));
        std::printf("  %lld training steps, last loss %.4f, detail stage %s\n",
                    static_cast<long long>(info.training_steps), info.last_loss,
                    info.detail_stage_dims > 0 ? "yes" : "no");
        std::printf("  made %s, sha256 %s\n",
                    info.created.empty() ? "(date not recorded)" : info.created.c_str(),
                    net::sha256_of_file(file).c_str());
        print_sources("A", info.identity_a, info.sources_a);
        print_sources("B", info.identity_b, info.sources_b);
    });
}

}  // namespace

int run_models(const ModelsOptions& options) {
    try {
        switch (options.action) {
            case ModelsAction::kList:
                return run_list(options);
            case ModelsAction::kPull:
                return run_pull(options);
            case ModelsAction::kPush:
                return run_push(options);
            case ModelsAction::kCheck:
                return run_check(options);
            case ModelsAction::kInfo:
                return run_info(options);
            case ModelsAction::kDelete:
                net::ModelStoreClient(options.server, http_options(options)).remove(options.id);
                std::printf("deleted '%s'\n", options.id.c_str());
                return 0;
        }
    } catch (const net::TransferError& e) {
        // On a terminal a progress bar may have been cut mid-line.
        const bool transfer =
            options.action == ModelsAction::kPull || options.action == ModelsAction::kPush;
        std::fprintf(stderr, "%serror: %s\n", transfer && ::isatty(2) ? "\n" : "", e.what());
        return 1;
    }
    return 1;
}

}  // namespace faceswap::cli
