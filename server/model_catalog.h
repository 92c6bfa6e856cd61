// The swap models a server offers, for the model API (docs/model-api.md): what is served (id,
// identities, resolution, size, sha256, when added), the model directory uploads and pulls go
// into, and installing a new version: the file is loaded completely before it becomes visible,
// then renamed over the old one and published, so the old version serves until then and
// sessions already open finish on theirs.
//
// Threading: every method may be called from any thread; install() blocks while the model
// loads (run it on the catalog's worker with install_async() from a network thread).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "processor.h"

namespace faceswap::server {

struct CatalogEntry {
    std::string id;
    std::string path;  // the file served for downloads
    ModelFacts facts;
    std::int64_t size_bytes = 0;
    std::string sha256;
    std::int64_t added_unix_s = 0;  // when this version was added (the file's mtime at start-up)
};

// A refusal with the HTTP status that says why (400, 409, 413, 422, 500, 501).
class CatalogError : public std::runtime_error {
  public:
    CatalogError(int http_status, const std::string& message)
        : std::runtime_error(message), http_status_(http_status) {}
    int http_status() const noexcept { return http_status_; }

  private:
    int http_status_;
};

struct InstallOutcome {
    std::optional<CatalogEntry> entry;  // set on success
    bool replaced = false;              // an earlier version of the id existed
    double check_ms = 0;                // sha256, complete load and rename of the new file
    int http_status = 0;                // on failure
    std::string error;
};

class ModelCatalog {
  public:
    // store_dir: where uploads and pulls are kept (empty: the API is read-only).
    ModelCatalog(std::shared_ptr<ProcessorFactory> factory, std::string store_dir,
                 std::int64_t max_model_bytes);
    ~ModelCatalog();  // finishes the install in progress
    ModelCatalog(const ModelCatalog&) = delete;
    ModelCatalog& operator=(const ModelCatalog&) = delete;

    bool enabled() const;   // the engine loads models at run time
    bool writable() const;  // enabled, with a model directory
    const std::string& store_dir() const { return store_dir_; }
    std::int64_t max_model_bytes() const { return max_model_bytes_; }

    // Start-up: loads the given files, then every *.fsmodel of the model directory (removing
    // uploads a crash left half-written). Throws on a file that does not load or a doubled id.
    void load_initial(const std::vector<std::string>& files);

    std::vector<CatalogEntry> list() const;
    std::optional<CatalogEntry> find(const std::string& id) const;
    std::string list_json() const;
    static std::string entry_json(const CatalogEntry& entry);

    // Opens the file of model `id` for reading (a file descriptor the caller closes), with the
    // entry of exactly that version: a replacement renames a new file in, the descriptor keeps
    // the old one. -1 when there is no such model.
    int open_model(const std::string& id, CatalogEntry& entry) const;

    // A fresh hidden file in the model directory for an upload or a pull to be written to.
    // Throws CatalogError when the catalog is not writable or the id is malformed.
    std::string staging_path(const std::string& id) const;

    // Loads `staged` completely (a file that does not load is refused with 422), checks
    // expected_sha256 when given, renames it to DIR/ID.fsmodel and publishes it. On failure the
    // staged file is deleted and the previous version keeps serving. Throws CatalogError.
    CatalogEntry install(const std::string& id, const std::string& staged,
                         const std::string& expected_sha256, bool* replaced = nullptr);
    // The same on the catalog's worker thread (one install at a time); `done` runs there.
    void install_async(std::string id, std::string staged, std::string expected_sha256,
                       std::function<void(InstallOutcome)> done);

    // Stops serving `id` (sessions already open keep it) and deletes its file when it lives in
    // the model directory (files given with --swap-model elsewhere are left alone).
    bool remove(const std::string& id);

  private:
    CatalogEntry describe(const std::string& id, const std::string& path, const LoadedModel& model,
                          std::int64_t added_unix_s) const;
    void worker_loop();

    std::shared_ptr<ProcessorFactory> factory_;
    std::string store_dir_;
    std::int64_t max_model_bytes_;

    mutable std::mutex mu_;  // entries_, and renames in the model directory
    std::map<std::string, CatalogEntry> entries_;
    std::mutex install_mu_;  // one install at a time, in order

    std::mutex jobs_mu_;
    std::condition_variable jobs_cv_;
    std::deque<std::function<void()>> jobs_;
    bool stopping_ = false;
    std::thread worker_;
};

}  // namespace faceswap::server
