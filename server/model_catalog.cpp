#include "model_catalog.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <random>

#include "faceswap/net/model_store.h"
#include "faceswap/net/sha256.h"

namespace faceswap::server {
namespace {

namespace fs = std::filesystem;

constexpr const char* kStagingPrefix = ".incoming-";

std::int64_t now_unix_s() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::int64_t mtime_unix_s(const std::string& path) {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) return now_unix_s();
    return static_cast<std::int64_t>(info.st_mtime);
}

std::string iso8601(std::int64_t unix_s) {
    const std::time_t t = static_cast<std::time_t>(unix_s);
    std::tm utc{};
    gmtime_r(&t, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return text;
}

void fsync_dir(const std::string& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

bool inside(const std::string& path, const std::string& dir) {
    if (dir.empty()) return false;
    std::error_code ec;
    return fs::weakly_canonical(fs::path(path).parent_path(), ec) ==
           fs::weakly_canonical(fs::path(dir), ec);
}

}  // namespace

ModelCatalog::ModelCatalog(std::shared_ptr<ProcessorFactory> factory, std::string store_dir,
                           std::int64_t max_model_bytes)
    : factory_(std::move(factory)),
      store_dir_(std::move(store_dir)),
      max_model_bytes_(max_model_bytes),
      worker_([this] { worker_loop(); }) {}

ModelCatalog::~ModelCatalog() {
    {
        std::lock_guard lock(jobs_mu_);
        stopping_ = true;
    }
    jobs_cv_.notify_all();
    worker_.join();
}

bool ModelCatalog::enabled() const {
    return factory_->loads_models();
}

bool ModelCatalog::writable() const {
    // A read-only volume or another user's folder: listed models are served, uploads refused.
    return enabled() && !store_dir_.empty() && ::access(store_dir_.c_str(), W_OK) == 0;
}

CatalogEntry ModelCatalog::describe(const std::string& id, const std::string& path,
                                    const LoadedModel& model, std::int64_t added_unix_s) const {
    CatalogEntry entry;
    entry.id = id;
    entry.path = path;
    entry.facts = model.facts();
    entry.size_bytes = static_cast<std::int64_t>(fs::file_size(path));
    entry.sha256 = net::sha256_of_file(path);
    entry.added_unix_s = added_unix_s;
    return entry;
}

void ModelCatalog::load_initial(const std::vector<std::string>& files) {
    if (!enabled()) return;
    // A model pushed under the id of a --swap-model file is the newer one: the directory wins.
    std::map<std::string, std::string> from_dir;
    if (!store_dir_.empty()) {
        std::error_code ec;
        fs::create_directories(store_dir_, ec);
        if (ec)
            throw CatalogError(
                500, "cannot create the model directory " + store_dir_ + ": " + ec.message());
        for (const auto& item : fs::directory_iterator(store_dir_)) {
            const std::string name = item.path().filename().string();
            if (name.rfind(kStagingPrefix, 0) == 0) {
                spdlog::info("removing {} (an upload or pull that did not finish)", name);
                fs::remove(item.path(), ec);
            } else if (item.path().extension() == ".fsmodel" && item.is_regular_file()) {
                from_dir[item.path().stem().string()] = item.path().string();
            }
        }
    }
    std::vector<std::string> paths;
    for (const std::string& file : files) {
        const std::string id = fs::path(file).stem().string();
        const auto it = from_dir.find(id);
        if (it == from_dir.end()) {
            paths.push_back(file);
        } else if (!fs::equivalent(it->second, file)) {
            spdlog::info("model '{}': serving {} (pushed or pulled) instead of {}", id, it->second,
                         file);
        }
    }
    for (const auto& [id, path] : from_dir) paths.push_back(path);
    for (const std::string& path : paths) {
        const std::string id = fs::path(path).stem().string();
        if (entries_.count(id))
            throw CatalogError(400, "two swap models share the id '" + id + "' (" +
                                        entries_[id].path + " and " + path + "): rename one file");
        auto model = factory_->load_model(path);
        CatalogEntry entry = describe(id, path, *model, mtime_unix_s(path));
        factory_->publish_model(id, model, entry.sha256);
        std::lock_guard lock(mu_);
        entries_[id] = std::move(entry);
    }
}

std::vector<CatalogEntry> ModelCatalog::list() const {
    std::lock_guard lock(mu_);
    std::vector<CatalogEntry> out;
    for (const auto& [id, entry] : entries_) out.push_back(entry);
    return out;
}

std::optional<CatalogEntry> ModelCatalog::find(const std::string& id) const {
    std::lock_guard lock(mu_);
    const auto it = entries_.find(id);
    if (it == entries_.end()) return std::nullopt;
    return it->second;
}

std::string ModelCatalog::entry_json(const CatalogEntry& entry) {
    return nlohmann::json{{"id", entry.id},
                          {"identities", {entry.facts.identity_a, entry.facts.identity_b}},
                          {"resolution", entry.facts.resolution},
                          {"training_steps", entry.facts.training_steps},
                          {"size_bytes", entry.size_bytes},
                          {"sha256", entry.sha256},
                          {"added", iso8601(entry.added_unix_s)}}
        .dump();
}

std::string ModelCatalog::list_json() const {
    nlohmann::json models = nlohmann::json::array();
    for (const CatalogEntry& entry : list())
        models.push_back(nlohmann::json::parse(entry_json(entry)));
    return nlohmann::json{{"models", models}, {"writable", writable()}}.dump() + "\n";
}

int ModelCatalog::open_model(const std::string& id, CatalogEntry& entry) const {
    std::lock_guard lock(mu_);  // renames happen under it too: the fd and the entry agree
    const auto it = entries_.find(id);
    if (it == entries_.end()) return -1;
    const int fd = ::open(it->second.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) entry = it->second;
    return fd;
}

std::string ModelCatalog::staging_path(const std::string& id) const {
    if (!enabled())
        throw CatalogError(501, "this server's engine ('" + factory_->name() +
                                    "') cannot load models at run time");
    if (store_dir_.empty())
        throw CatalogError(409,
                           "this server has no model directory: start it with --swap-model-dir "
                           "DIR to accept models");
    if (::access(store_dir_.c_str(), W_OK) != 0)
        throw CatalogError(409, "the model directory " + store_dir_ +
                                    " is not writable by the server (" + std::strerror(errno) +
                                    "): its models are served, uploads are refused");
    if (!net::is_valid_model_id(id))
        throw CatalogError(400, "'" + id +
                                    "' is not a model id: 1-128 letters, digits, '.', '_' or '-', "
                                    "not starting with '.'");
    static std::atomic<std::uint64_t> counter{0};
    thread_local std::mt19937_64 rng(std::random_device{}());
    return (fs::path(store_dir_) /
            (std::string(kStagingPrefix) + id + "-" + std::to_string(rng() % 1000000) + "-" +
             std::to_string(++counter) + ".partial"))
        .string();
}

CatalogEntry ModelCatalog::install(const std::string& id, const std::string& staged,
                                   const std::string& expected_sha256, bool* replaced) {
    std::lock_guard install_lock(install_mu_);
    auto discard = [&] {
        std::error_code ignored;
        fs::remove(staged, ignored);
    };
    try {
        (void)staging_path(id);  // the same refusals (no directory, bad id)
        std::error_code ec;
        const auto size = static_cast<std::int64_t>(fs::file_size(staged, ec));
        if (ec) throw CatalogError(500, "cannot read the uploaded file: " + ec.message());
        if (size > max_model_bytes_)
            throw CatalogError(413, "the model is " + std::to_string(size) +
                                        " bytes, over limits.max_model_bytes (" +
                                        std::to_string(max_model_bytes_) + ")");
        const std::string sha256 = net::sha256_of_file(staged);
        if (!expected_sha256.empty() && expected_sha256 != sha256)
            throw CatalogError(422, "the upload's sha256 is " + sha256 + ", the client sent " +
                                        expected_sha256 + " (damaged in transit?)");
        std::shared_ptr<const LoadedModel> model;
        try {
            model = factory_->load_model(staged);
        } catch (const std::exception& e) {
            // The client does not know the hidden name the upload was stored under.
            std::string reason = e.what();
            for (auto at = reason.find(staged); at != std::string::npos; at = reason.find(staged))
                reason.replace(at, staged.size(), "the file");
            throw CatalogError(422, "not a loadable swap model: " + reason);
        }
        const std::string final_path = (fs::path(store_dir_) / (id + ".fsmodel")).string();
        CatalogEntry entry;
        entry.id = id;
        entry.path = final_path;
        entry.facts = model->facts();
        entry.size_bytes = size;
        entry.sha256 = sha256;
        entry.added_unix_s = now_unix_s();
        // On disk before the rename, so a crash cannot leave a renamed but empty file.
        if (const int fd = ::open(staged.c_str(), O_RDONLY); fd >= 0) {
            ::fsync(fd);
            ::close(fd);
        }
        {
            std::lock_guard lock(mu_);
            fs::rename(staged, final_path, ec);
            if (ec) throw CatalogError(500, "cannot move the model into place: " + ec.message());
            fsync_dir(store_dir_);
            if (replaced) *replaced = entries_.count(id) > 0;
            factory_->publish_model(id, model, sha256);
            entries_[id] = entry;
        }
        spdlog::info("model '{}' installed: {} bytes, sha256 {}, {} -> {}, {} px", id, size, sha256,
                     entry.facts.identity_a, entry.facts.identity_b, entry.facts.resolution);
        return entry;
    } catch (const CatalogError& e) {
        discard();
        spdlog::warn("model '{}' refused: {}", id, e.what());
        throw;
    } catch (const std::exception& e) {
        discard();
        spdlog::warn("model '{}' refused: {}", id, e.what());
        throw CatalogError(500, e.what());
    }
}

void ModelCatalog::install_async(std::string id, std::string staged, std::string expected_sha256,
                                 std::function<void(InstallOutcome)> done) {
    {
        std::lock_guard lock(jobs_mu_);
        jobs_.push_back([this, id = std::move(id), staged = std::move(staged),
                         expected = std::move(expected_sha256), done = std::move(done)] {
            InstallOutcome outcome;
            const auto started = std::chrono::steady_clock::now();
            try {
                outcome.entry = install(id, staged, expected, &outcome.replaced);
                outcome.check_ms = std::chrono::duration<double, std::milli>(
                                       std::chrono::steady_clock::now() - started)
                                       .count();
            } catch (const CatalogError& e) {
                outcome.http_status = e.http_status();
                outcome.error = e.what();
            }
            done(std::move(outcome));
        });
    }
    jobs_cv_.notify_one();
}

void ModelCatalog::worker_loop() {
    std::unique_lock lock(jobs_mu_);
    while (true) {
        jobs_cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;  // stopping, nothing left
        auto job = std::move(jobs_.front());
        jobs_.pop_front();
        lock.unlock();
        job();
        lock.lock();
    }
}

bool ModelCatalog::remove(const std::string& id) {
    std::lock_guard install_lock(install_mu_);
    std::lock_guard lock(mu_);
    const auto it = entries_.find(id);
    if (it == entries_.end()) return false;
    factory_->unpublish_model(id);
    if (inside(it->second.path, store_dir_)) {
        std::error_code ec;
        fs::remove(it->second.path, ec);
        if (ec) spdlog::warn("model '{}': cannot delete {}: {}", id, it->second.path, ec.message());
        fsync_dir(store_dir_);
    }
    spdlog::info("model '{}' removed", id);
    entries_.erase(it);
    return true;
}

}  // namespace faceswap::server
