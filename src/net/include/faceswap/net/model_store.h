// Swap models over HTTP(S) with libcurl: list what a faceswap-server offers, download a model
// (from the server's model API or any plain HTTP(S) URL: a bucket, a web server) and upload one.
// docs/model-api.md describes the server side.
//
//   faceswap::net::HttpOptions http;
//   http.token = "secret";                                    // Authorization: Bearer secret
//   faceswap::net::ModelStoreClient store("http://gpu-box:8080", http);   // ws:// works too
//   for (const auto& model : store.list()) std::printf("%s\n", model.id.c_str());
//
//   std::atomic<bool> cancel{false};
//   faceswap::net::DownloadOptions options;
//   options.progress = [](const faceswap::net::TransferProgress& p) { /* p.done_bytes */ };
//   options.cancel = &cancel;                                  // set from another thread
//   store.download("demo", "models/demo.fsmodel", options);    // resumes a cut download
//   store.upload("mine", "mine.fsmodel");                      // validated by the server
//   faceswap::net::download_file("https://bucket.example/demo.fsmodel", "demo.fsmodel", http, {});
//
// Downloads go to DEST.partial (with DEST.partial.etag, what a resume needs) and are renamed to
// DEST only once complete and verified (sha256), so a partial download never looks like a
// finished model; a wrong sha256 leaves nothing behind. TLS certificates are verified unless
// HttpOptions::tls_verify is false.
//
// Threading: every call blocks until done: call it from a worker thread, never a GUI thread.
// Progress callbacks run on the calling thread. One ModelStoreClient per thread at a time;
// separate objects are independent. No curl, Boost, Qt or Torch type appears here.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "faceswap/net/protocol.h"  // is_valid_model_id

namespace faceswap::net {

// Why a transfer failed, so a caller can react without parsing the message.
enum class TransferErrorKind {
    kNetwork,      // no connection, reset, timeout, stalled: retrying may help
    kTls,          // certificate or handshake refused
    kHttp,         // the server answered with an error status (http_status(), server_message())
    kBadResponse,  // the server answered something this client cannot use
    kIntegrity,    // the bytes do not match the expected sha256 (nothing is kept)
    kCancelled,    // the cancel flag was set (a download keeps DEST.partial to resume)
    kLocalFile,    // reading or writing a local file failed
};

// One line a user can act on, e.g. "PUT http://h:8080/v1/models/x: HTTP 401 Unauthorized:
// wrong or missing token (pass --token or $FACESWAP_TOKEN)".
class TransferError : public std::runtime_error {
  public:
    TransferError(TransferErrorKind kind, const std::string& message, int http_status = 0,
                  std::string server_message = {})
        : std::runtime_error(message),
          kind_(kind),
          http_status_(http_status),
          server_message_(std::move(server_message)) {}
    TransferErrorKind kind() const noexcept { return kind_; }
    int http_status() const noexcept { return http_status_; }  // 0 when none came
    const std::string& server_message() const noexcept { return server_message_; }

  private:
    TransferErrorKind kind_;
    int http_status_;
    std::string server_message_;
};

struct HttpOptions {
    std::string token;        // sent as "Authorization: Bearer TOKEN" when not empty
    bool tls_verify = true;   // false only for tests and trusted LANs
    std::string tls_ca_file;  // PEM bundle instead of the system store
    std::chrono::milliseconds connect_timeout{10000};
    // A transfer slower than 1 byte/s for this long is cut as stalled (kNetwork).
    std::chrono::seconds stall_timeout{30};
};

struct TransferProgress {
    std::int64_t done_bytes = 0;    // of the whole file, a resumed part included
    std::int64_t total_bytes = -1;  // -1 while unknown
    std::int64_t resumed_from = 0;  // bytes that were already there before this transfer
    double bytes_per_s = 0;         // of this transfer so far
};
using ProgressCallback = std::function<void(const TransferProgress&)>;

struct DownloadOptions {
    std::string expected_sha256;  // hex; a mismatch is refused and the download deleted
    ProgressCallback progress;    // about 10 times a second, and once at the end
    const std::atomic<bool>* cancel = nullptr;
    bool resume = true;    // continue DEST.partial with a Range request
    int max_attempts = 3;  // a cut connection is resumed this many times in all
    // With expected_sha256 set and DEST already holding exactly that: no request at all.
    bool reuse_existing = true;
    // The validator (ETag or Last-Modified) of the copy the caller already has: the request is
    // conditional, and a "304 Not Modified" answer returns with not_modified set, DEST untouched.
    std::string cached_validator;
};

struct DownloadResult {
    std::string path;    // DEST
    std::string sha256;  // of DEST
    std::int64_t size_bytes = 0;
    std::int64_t resumed_from = 0;  // bytes taken over from an earlier, interrupted download
    int attempts = 0;               // requests made (0: DEST was already up to date)
    double seconds = 0;
    bool already_present = false;  // DEST already had expected_sha256
    bool not_modified = false;     // the server said the cached_validator's copy is current
    std::string validator;         // ETag (or Last-Modified) of what was downloaded
};

struct UploadOptions {
    ProgressCallback progress;
    const std::atomic<bool>* cancel = nullptr;
};

// One model as a server lists it.
struct RemoteModel {
    std::string id;
    std::string identity_a, identity_b;
    int resolution = 0;
    std::int64_t size_bytes = 0;
    std::string sha256;
    std::string added;  // when the server added it, ISO 8601 UTC
    std::int64_t training_steps = 0;
    double server_check_ms = 0;  // an upload's answer: the server's sha256 and complete load
};

// A faceswap-server's model API (/v1/models).
class ModelStoreClient {
  public:
    // server_url: http(s)://host:port[/prefix]; ws:// and wss:// are taken as http:// and https://.
    explicit ModelStoreClient(std::string server_url, HttpOptions options = {});

    const std::string& base_url() const { return base_url_; }
    std::string model_url(const std::string& id) const;  // BASE/v1/models/ID

    std::vector<RemoteModel> list() const;
    // Downloads model `id` to dest_path (verifying the server's sha256 as well as the expected
    // one).
    DownloadResult download(const std::string& id, const std::string& dest_path,
                            const DownloadOptions& options = {}) const;
    // Uploads a model file under `id`; the server loads it fully before serving it. Returns the
    // server's listing entry of the new version.
    RemoteModel upload(const std::string& id, const std::string& file_path,
                       const UploadOptions& options = {}) const;
    void remove(const std::string& id) const;

  private:
    std::string base_url_;
    HttpOptions options_;
};

// Any HTTP(S) URL (a bucket, nginx, the model API) to dest_path, as described above.
DownloadResult download_file(const std::string& url, const std::string& dest_path,
                             const HttpOptions& http, const DownloadOptions& options);

}  // namespace faceswap::net
