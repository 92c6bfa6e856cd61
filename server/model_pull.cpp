#include "model_pull.h"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "config.h"
#include "faceswap/net/sha256.h"

namespace faceswap::server {
namespace {

namespace fs = std::filesystem;

// url -> {"sha256": what it served, "validator": its ETag or Last-Modified}
class PullIndex {
  public:
    explicit PullIndex(const std::string& dir)
        : path_((fs::path(dir) / ".model-urls.json").string()) {
        std::ifstream in(path_);
        if (!in) return;
        try {
            json_ = nlohmann::json::parse(in);
        } catch (const nlohmann::json::exception&) {
            spdlog::warn("{} is damaged: pulling every --model-url again", path_);
        }
        if (!json_.is_object()) json_ = nlohmann::json::object();
    }

    std::string get(const std::string& url, const char* key) const {
        if (!json_.contains(url) || !json_[url].contains(key)) return {};
        return json_[url][key].get<std::string>();
    }

    void put(const std::string& url, const std::string& sha256, const std::string& validator) {
        json_[url] = {{"sha256", sha256}, {"validator", validator}};
        const std::string partial = path_ + ".partial";
        {
            std::ofstream out(partial, std::ios::trunc);
            out << json_.dump(1) << "\n";
            if (!out) {
                spdlog::warn("cannot write {}: the next start pulls again", partial);
                return;
            }
        }
        std::error_code ec;
        fs::rename(partial, path_, ec);
    }

  private:
    std::string path_;
    nlohmann::json json_ = nlohmann::json::object();
};

}  // namespace

ModelSource parse_model_source(const std::string& text) {
    ModelSource source;
    source.url = text.substr(0, text.find('#'));
    if (const auto hash = text.find('#'); hash != std::string::npos) {
        const std::string fragment = text.substr(hash + 1);
        if (fragment.rfind("sha256=", 0) != 0 || !net::is_sha256_hex(fragment.substr(7)))
            throw ConfigError("--model-url " + text +
                              ": the only fragment understood is #sha256=<64 hex digits>");
        source.sha256 = fragment.substr(7);
        for (auto& c : source.sha256) c = static_cast<char>(std::tolower(c));
    }
    if (source.url.rfind("http://", 0) != 0 && source.url.rfind("https://", 0) != 0)
        throw ConfigError("--model-url " + text + ": only http:// and https:// URLs are pulled");
    std::string path = source.url.substr(0, source.url.find('?'));
    const auto scheme_end = path.find("://") + 3;
    const auto slash = path.find('/', scheme_end);
    path = slash == std::string::npos ? "" : path.substr(slash);
    source.id = fs::path(path).stem().string();
    if (!net::is_valid_model_id(source.id))
        throw ConfigError("--model-url " + text +
                          ": the URL must end in the model's file name (e.g. .../demo.fsmodel); "
                          "its stem is the model id");
    return source;
}

void pull_models(const std::vector<ModelSource>& sources, ModelCatalog& catalog,
                 const net::HttpOptions& http, const std::atomic<bool>* cancel) {
    PullIndex index(catalog.store_dir());
    for (const ModelSource& source : sources) {
        const auto current = catalog.find(source.id);
        if (!source.sha256.empty() && current && current->sha256 == source.sha256) {
            spdlog::info("model '{}': {} already here (sha256 {}), not downloaded", source.id,
                         source.url, source.sha256);
            continue;
        }
        net::DownloadOptions options;
        options.expected_sha256 = source.sha256;
        options.max_attempts = 5;
        options.reuse_existing = false;
        options.cancel = cancel;
        // Only a copy known to come from this URL may answer a conditional request.
        if (source.sha256.empty() && current && index.get(source.url, "sha256") == current->sha256)
            options.cached_validator = index.get(source.url, "validator");
        std::string staged;
        try {
            staged = catalog.staging_path(source.id);
            spdlog::info("model '{}': pulling {}", source.id, source.url);
            const net::DownloadResult result =
                net::download_file(source.url, staged, http, options);
            if (result.not_modified) {
                spdlog::info("model '{}': {} not modified, serving the copy pulled before",
                             source.id, source.url);
                continue;
            }
            const CatalogEntry entry = catalog.install(source.id, staged, result.sha256);
            index.put(source.url, entry.sha256, result.validator);
            spdlog::info("model '{}': pulled {} bytes in {:.2f} s ({:.1f} MB/s), sha256 {}",
                         source.id, result.size_bytes, result.seconds,
                         result.size_bytes / 1e6 / std::max(result.seconds, 1e-6), entry.sha256);
        } catch (const std::exception& e) {
            std::error_code ignored;
            if (!staged.empty()) fs::remove(staged, ignored);
            const bool fallback =
                current && (source.sha256.empty() || current->sha256 == source.sha256);
            if (!fallback)
                throw std::runtime_error("model '" + source.id + "' from " + source.url + ": " +
                                         e.what());
            spdlog::warn(
                "model '{}': pulling {} failed ({}); serving the copy pulled before "
                "(sha256 {})",
                source.id, source.url, e.what(), current->sha256);
        }
    }
}

}  // namespace faceswap::server
