#include "faceswap/net/model_store.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "faceswap/net/sha256.h"

namespace faceswap::net {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    return text;
}

std::string trim(const std::string& text) {
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return {};
    return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

// What the server said, on one line: a JSON {"error": ...} body, else its text (not HTML).
std::string server_message_of(const std::string& body, const std::string& content_type) {
    if (body.empty()) return {};
    try {
        const auto json = nlohmann::json::parse(body);
        if (json.is_object() && json.contains("error") && json["error"].is_string())
            return json["error"].get<std::string>();
    } catch (const nlohmann::json::exception&) {
    }
    if (lower(content_type).find("html") != std::string::npos) return {};
    std::string line = trim(body.substr(0, body.find('\n')));
    if (line.size() > 300) line = line.substr(0, 300) + "...";
    return line;
}

const char* reason_of(int status) {
    switch (status) {
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 409:
            return "Conflict";
        case 411:
            return "Length Required";
        case 413:
            return "Payload Too Large";
        case 416:
            return "Range Not Satisfiable";
        case 422:
            return "Unprocessable Content";
        case 500:
            return "Internal Server Error";
        case 501:
            return "Not Implemented";
        case 502:
            return "Bad Gateway";
        case 503:
            return "Service Unavailable";
        case 504:
            return "Gateway Timeout";
        default:
            return "";
    }
}

// What to do about an HTTP error status, said once for all calls.
std::string hint_of(int status) {
    switch (status) {
        case 401:
            return " (pass the server's token: --token or $FACESWAP_TOKEN)";
        case 413:
            return " (the server's limits.max_model_bytes is lower than the file)";
        default:
            return {};
    }
}

// One curl easy handle with the options every request shares; collects the response headers
// of the final response (redirects reset them) and an error body.
class Request {
  public:
    Request(const std::string& method, const std::string& url, const HttpOptions& options)
        : method_(method), url_(url) {
        global_init();
        curl_ = curl_easy_init();
        if (!curl_) throw TransferError(TransferErrorKind::kLocalFile, "curl_easy_init failed");
        set(CURLOPT_URL, url.c_str());
        set(CURLOPT_NOSIGNAL, 1L);
        set(CURLOPT_FOLLOWLOCATION, 1L);  // buckets and CDNs redirect
        set(CURLOPT_MAXREDIRS, 5L);
        set(CURLOPT_PROTOCOLS_STR, "http,https");
        set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()));
        set(CURLOPT_LOW_SPEED_LIMIT, 1L);
        set(CURLOPT_LOW_SPEED_TIME, static_cast<long>(options.stall_timeout.count()));
        set(CURLOPT_SSL_VERIFYPEER, options.tls_verify ? 1L : 0L);
        set(CURLOPT_SSL_VERIFYHOST, options.tls_verify ? 2L : 0L);
        if (!options.tls_ca_file.empty()) set(CURLOPT_CAINFO, options.tls_ca_file.c_str());
        set(CURLOPT_USERAGENT, "faceswap-model-client/1");
        set(CURLOPT_ERRORBUFFER, error_buffer_);
        set(CURLOPT_HEADERFUNCTION, &Request::on_header);
        set(CURLOPT_HEADERDATA, this);
        set(CURLOPT_WRITEFUNCTION, &Request::on_body);
        set(CURLOPT_WRITEDATA, this);
        set(CURLOPT_NOPROGRESS, 0L);
        set(CURLOPT_XFERINFOFUNCTION, &Request::on_progress);
        set(CURLOPT_XFERINFODATA, this);
        if (method == "HEAD")
            set(CURLOPT_NOBODY, 1L);
        else if (method != "GET" && method != "PUT")
            set(CURLOPT_CUSTOMREQUEST, method.c_str());
        if (!options.token.empty()) header("Authorization: Bearer " + options.token);
    }
    ~Request() {
        curl_slist_free_all(headers_);
        curl_easy_cleanup(curl_);
    }
    Request(const Request&) = delete;
    Request& operator=(const Request&) = delete;

    template <typename T>
    void set(CURLoption option, T value) {
        curl_easy_setopt(curl_, option, value);
    }
    void header(const std::string& line) { headers_ = curl_slist_append(headers_, line.c_str()); }

    // Body bytes of a successful response go here; the return value is bytes taken (fewer
    // aborts the transfer). Error responses are kept in memory for the message instead.
    std::function<bool(const char*, std::size_t)> on_success_body;
    // Called about 10 times a second with curl's counters (of this transfer only).
    std::function<void(std::int64_t down_total, std::int64_t down_now, std::int64_t up_total,
                       std::int64_t up_now)>
        on_transfer;
    const std::atomic<bool>* cancel = nullptr;
    std::function<bool(int status)> is_success = [](int status) { return status / 100 == 2; };

    // Runs the request. Returns the final status; throws TransferError for transport failures
    // and, unless allow_error_status, for an error status (with the server's message).
    int perform(bool allow_error_status = false) {
        if (headers_) set(CURLOPT_HTTPHEADER, headers_);
        error_buffer_[0] = '\0';
        const CURLcode code = curl_easy_perform(curl_);
        long status = 0;
        curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
        status_ = static_cast<int>(status);
        if (code == CURLE_ABORTED_BY_CALLBACK && cancel && cancel->load())
            throw TransferError(TransferErrorKind::kCancelled, what() + ": cancelled");
        if (code == CURLE_WRITE_ERROR && write_failed_.size())
            throw TransferError(TransferErrorKind::kLocalFile, write_failed_);
        if (code != CURLE_OK && !(status_ >= 400 && !is_success(status_))) {
            const std::string detail = error_buffer_[0] ? error_buffer_ : curl_easy_strerror(code);
            const bool tls = code == CURLE_PEER_FAILED_VERIFICATION ||
                             code == CURLE_SSL_CONNECT_ERROR || code == CURLE_SSL_CACERT_BADFILE ||
                             code == CURLE_SSL_CERTPROBLEM;
            throw TransferError(tls ? TransferErrorKind::kTls : TransferErrorKind::kNetwork,
                                what() + ": " + trim(detail) +
                                    (tls ? " (check the certificate, or --insecure on a LAN)" : ""),
                                status_);
        }
        if (!is_success(status_) && !allow_error_status) throw http_error();
        return status_;
    }

    TransferError http_error() const {
        const std::string message = server_message_of(error_body_, response_header("content-type"));
        std::string text = what() + ": HTTP " + std::to_string(status_);
        if (*reason_of(status_)) text += std::string(" ") + reason_of(status_);
        if (!message.empty()) text += ": " + message;
        text += hint_of(status_);
        return TransferError(TransferErrorKind::kHttp, text, status_, message);
    }

    // Lower-case name; empty when absent.
    std::string response_header(const std::string& name) const {
        const auto it = response_headers_.find(name);
        return it == response_headers_.end() ? std::string{} : it->second;
    }
    int status() const { return status_; }
    std::string what() const { return method_ + " " + url_; }
    void fail_write(std::string why) { write_failed_ = std::move(why); }

  private:
    static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* self_) {
        auto* self = static_cast<Request*>(self_);
        const std::string line(data, size * count);
        if (line.rfind("HTTP/", 0) == 0) {
            self->response_headers_.clear();  // a redirect or a 100 Continue came before
            self->error_body_.clear();
        } else if (const auto colon = line.find(':'); colon != std::string::npos) {
            self->response_headers_[lower(trim(line.substr(0, colon)))] =
                trim(line.substr(colon + 1));
        }
        return size * count;
    }

    static std::size_t on_body(char* data, std::size_t size, std::size_t count, void* self_) {
        auto* self = static_cast<Request*>(self_);
        const std::size_t bytes = size * count;
        long status = 0;
        curl_easy_getinfo(self->curl_, CURLINFO_RESPONSE_CODE, &status);
        if (!self->is_success(static_cast<int>(status))) {
            if (self->error_body_.size() < 8192) self->error_body_.append(data, bytes);
            return bytes;
        }
        if (self->on_success_body && !self->on_success_body(data, bytes)) return 0;
        return bytes;
    }

    static int on_progress(void* self_, curl_off_t down_total, curl_off_t down_now,
                           curl_off_t up_total, curl_off_t up_now) {
        auto* self = static_cast<Request*>(self_);
        if (self->cancel && self->cancel->load()) return 1;
        if (self->on_transfer) self->on_transfer(down_total, down_now, up_total, up_now);
        return 0;
    }

    std::string method_, url_;
    CURL* curl_ = nullptr;
    curl_slist* headers_ = nullptr;
    char error_buffer_[CURL_ERROR_SIZE] = {};
    std::map<std::string, std::string> response_headers_;
    std::string error_body_;
    std::string write_failed_;
    int status_ = 0;
};

// Reports progress at most 10 times a second (and always at the end).
class ProgressThrottle {
  public:
    explicit ProgressThrottle(const ProgressCallback& callback) : callback_(callback) {}
    void report(TransferProgress progress, bool force = false) {
        if (!callback_) return;
        const auto now = Clock::now();
        if (!force && now - last_ < std::chrono::milliseconds(100)) return;
        last_ = now;
        const double seconds = std::chrono::duration<double>(now - start_).count();
        progress.bytes_per_s =
            seconds > 0 ? (progress.done_bytes - progress.resumed_from) / seconds : 0.0;
        callback_(progress);
    }

  private:
    const ProgressCallback& callback_;
    Clock::time_point start_ = Clock::now(), last_{};
};

std::int64_t file_size_or(const std::string& path, std::int64_t fallback) {
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    return ec ? fallback : static_cast<std::int64_t>(size);
}

std::string read_small_file(const std::string& path) {
    std::ifstream in(path);
    std::string text;
    std::getline(in, text);
    return trim(text);
}

void fsync_directory_of(const std::string& path) {
    const fs::path parent = fs::absolute(path).parent_path();
    const int fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

// The partial file of a download, appended to by the transfer.
class PartialFile {
  public:
    explicit PartialFile(std::string path) : path_(std::move(path)) {}
    ~PartialFile() { close(); }

    void open(bool truncate) {
        close();
        fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | (truncate ? O_TRUNC : O_APPEND), 0644);
        if (fd_ < 0)
            throw TransferError(TransferErrorKind::kLocalFile,
                                "cannot write " + path_ + ": " + std::strerror(errno));
    }
    void truncate() {
        if (::ftruncate(fd_, 0) != 0 || ::lseek(fd_, 0, SEEK_SET) < 0)
            throw TransferError(TransferErrorKind::kLocalFile,
                                "cannot truncate " + path_ + ": " + std::strerror(errno));
    }
    bool write(const char* data, std::size_t size, std::string& error) {
        while (size > 0) {
            const ssize_t n = ::write(fd_, data, size);
            if (n < 0) {
                if (errno == EINTR) continue;
                error = "cannot write " + path_ + ": " + std::strerror(errno);
                return false;
            }
            data += n;
            size -= static_cast<std::size_t>(n);
        }
        return true;
    }
    void sync_and_close() {
        if (fd_ >= 0 && ::fsync(fd_) != 0)
            throw TransferError(TransferErrorKind::kLocalFile,
                                "cannot flush " + path_ + ": " + std::strerror(errno));
        close();
    }
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

  private:
    std::string path_;
    int fd_ = -1;
};

// "bytes START-END/TOTAL" -> START (or -1).
std::int64_t content_range_start(const std::string& value) {
    long long start = -1;
    if (std::sscanf(value.c_str(), "bytes %lld-", &start) != 1) return -1;
    return start;
}

std::int64_t content_range_total(const std::string& value) {
    const auto slash = value.find('/');
    if (slash == std::string::npos || value.compare(slash + 1, 1, "*") == 0) return -1;
    return std::atoll(value.c_str() + slash + 1);
}

bool retryable(const TransferError& e) {
    if (e.kind() == TransferErrorKind::kNetwork) return true;
    return e.kind() == TransferErrorKind::kHttp &&
           (e.http_status() == 502 || e.http_status() == 503 || e.http_status() == 504);
}

// Feeds the first `length` bytes of a file to hash; false when they cannot all be read.
bool hash_prefix(const std::string& path, std::int64_t length, Sha256& hash) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> buffer(1 << 20);
    while (length > 0 && in) {
        in.read(buffer.data(), std::min<std::int64_t>(length, buffer.size()));
        hash.update(buffer.data(), static_cast<std::size_t>(in.gcount()));
        length -= in.gcount();
    }
    return length == 0;
}

void remove_quietly(const std::string& path) {
    std::error_code ignored;
    fs::remove(path, ignored);
}

std::string strip_trailing_slashes(std::string url) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
}

std::string json_string(const nlohmann::json& json, const char* key) {
    return json.contains(key) && json[key].is_string() ? json[key].get<std::string>() : "";
}

RemoteModel remote_model_of(const nlohmann::json& json) {
    RemoteModel model;
    model.id = json_string(json, "id");
    if (json.contains("identities") && json["identities"].is_array() &&
        json["identities"].size() == 2) {
        model.identity_a = json["identities"][0].get<std::string>();
        model.identity_b = json["identities"][1].get<std::string>();
    }
    model.resolution = json.value("resolution", 0);
    model.size_bytes = json.value("size_bytes", std::int64_t{0});
    model.sha256 = json_string(json, "sha256");
    model.added = json_string(json, "added");
    model.training_steps = json.value("training_steps", std::int64_t{0});
    model.server_check_ms = json.value("check_ms", 0.0);
    if (model.id.empty()) throw std::runtime_error("a model entry without an id");
    return model;
}

}  // namespace

DownloadResult download_file(const std::string& url, const std::string& dest_path,
                             const HttpOptions& http, const DownloadOptions& options) {
    const auto started = Clock::now();
    if (!options.expected_sha256.empty() && !is_sha256_hex(options.expected_sha256))
        throw TransferError(
            TransferErrorKind::kBadResponse,
            "--sha256 must be 64 hex digits, not '" + options.expected_sha256 + "'");
    const std::string expected = lower(options.expected_sha256);
    DownloadResult result;
    result.path = dest_path;
    if (!expected.empty() && options.reuse_existing && fs::is_regular_file(dest_path) &&
        sha256_of_file(dest_path) == expected) {
        result.sha256 = expected;
        result.size_bytes = file_size_or(dest_path, 0);
        result.already_present = true;
        return result;
    }
    if (const auto parent = fs::path(dest_path).parent_path(); !parent.empty()) {
        std::error_code ec;
        fs::create_directories(parent, ec);
        if (ec)
            throw TransferError(TransferErrorKind::kLocalFile,
                                "cannot create " + parent.string() + ": " + ec.message());
    }
    const std::string partial_path = dest_path + ".partial";
    const std::string validator_path = partial_path + ".etag";  // ETag or Last-Modified
    if (!options.resume) {
        remove_quietly(partial_path);
        remove_quietly(validator_path);
    }
    auto discard_partial = [&] {
        remove_quietly(partial_path);
        remove_quietly(validator_path);
    };

    ProgressThrottle progress(options.progress);
    PartialFile file(partial_path);
    Sha256 hash;
    std::string server_sha256;
    std::int64_t total = -1;
    for (int attempt = 1;; ++attempt) {
        result.attempts = attempt;
        // Resume only what a validator can vouch for: If-Range makes the server send the whole
        // file instead when it changed since.
        std::string validator = read_small_file(validator_path);
        std::int64_t offset = file_size_or(partial_path, 0);
        if (validator.empty() || offset == 0) offset = 0;
        hash.reset();
        if (offset > 0 && !hash_prefix(partial_path, offset, hash)) {
            offset = 0;
            hash.reset();
        }
        file.open(offset == 0);
        if (attempt == 1) result.resumed_from = offset;

        Request request("GET", url, http);
        request.cancel = options.cancel;
        const std::string& cached = options.cached_validator;
        if (!cached.empty()) {
            const bool etag = cached.front() == '"' || cached.rfind("W/", 0) == 0;
            request.header((etag ? "If-None-Match: " : "If-Modified-Since: ") + cached);
            request.is_success = [](int status) { return status / 100 == 2 || status == 304; };
        }
        if (offset > 0) {
            request.header("Range: bytes=" + std::to_string(offset) + "-");
            request.header("If-Range: " + validator);
        }
        bool started_body = false;
        std::int64_t written = offset;
        request.on_success_body = [&](const char* data, std::size_t size) {
            if (!started_body) {
                started_body = true;
                const std::string range = request.response_header("content-range");
                if (offset > 0 && (range.empty() || content_range_start(range) != offset)) {
                    // 200: the whole file again (it changed, or ranges are not supported).
                    file.truncate();
                    hash.reset();
                    written = 0;
                    if (attempt == 1) result.resumed_from = 0;
                }
                if (!range.empty())
                    total = content_range_total(range);
                else if (const auto length = request.response_header("content-length");
                         !length.empty())
                    total = written + std::atoll(length.c_str());
                const std::string etag = request.response_header("etag");
                const std::string modified = request.response_header("last-modified");
                const std::string fresh = etag.rfind("W/", 0) == 0 ? modified
                                          : etag.empty()           ? modified
                                                                   : etag;
                std::ofstream(validator_path, std::ios::trunc) << fresh << "\n";
                result.validator = fresh;
                server_sha256 = lower(request.response_header("x-faceswap-sha256"));
            }
            std::string error;
            if (!file.write(data, size, error)) {
                request.fail_write(error);
                return false;
            }
            hash.update(data, size);
            written += static_cast<std::int64_t>(size);
            progress.report({written, total, result.resumed_from, 0});
            return true;
        };
        try {
            request.perform();
            if (request.status() == 304) {
                file.close();
                if (offset == 0) discard_partial();
                result.not_modified = true;
                result.validator = cached;
                result.seconds = std::chrono::duration<double>(Clock::now() - started).count();
                return result;
            }
            if (request.status() != 200 && request.status() != 206)
                throw TransferError(
                    TransferErrorKind::kBadResponse,
                    request.what() + ": unexpected HTTP " + std::to_string(request.status()));
            if (!started_body && offset > 0) {
                // An empty 206/200: nothing new arrived; start over next time.
                discard_partial();
                throw TransferError(TransferErrorKind::kBadResponse,
                                    request.what() + ": empty answer to a resume");
            }
            if (total >= 0 && written != total)
                throw TransferError(TransferErrorKind::kNetwork,
                                    request.what() + ": connection ended at " +
                                        std::to_string(written) + " of " + std::to_string(total) +
                                        " bytes");
            file.sync_and_close();
            result.size_bytes = written;
            break;
        } catch (const TransferError& e) {
            file.close();
            if (e.kind() == TransferErrorKind::kCancelled) throw;  // DEST.partial stays
            if (e.kind() == TransferErrorKind::kHttp && e.http_status() == 416) {
                discard_partial();  // our partial is not a prefix of what is there now
                if (attempt < options.max_attempts) continue;
            }
            if (retryable(e) && attempt < options.max_attempts) {
                std::this_thread::sleep_for(std::chrono::milliseconds(250 << attempt));
                continue;
            }
            if (e.kind() == TransferErrorKind::kNetwork && fs::exists(validator_path) &&
                file_size_or(partial_path, 0) > 0)
                throw TransferError(e.kind(),
                                    std::string(e.what()) + "; " +
                                        std::to_string(file_size_or(partial_path, 0)) +
                                        " bytes kept in " + partial_path + ": run again to resume",
                                    e.http_status(), e.server_message());
            discard_partial();
            throw;
        }
    }
    result.sha256 = hash.hex_digest();
    progress.report({result.size_bytes, result.size_bytes, result.resumed_from, 0}, true);
    for (const auto& [wanted, who] :
         {std::pair{expected, std::string("expected (--sha256)")},
          std::pair{server_sha256, std::string("the server's X-Faceswap-Sha256")}}) {
        if (!wanted.empty() && wanted != result.sha256) {
            discard_partial();
            throw TransferError(TransferErrorKind::kIntegrity,
                                "GET " + url + ": sha256 of the download is " + result.sha256 +
                                    ", " + who + " is " + wanted +
                                    "; nothing was kept (check the hash, or the source changed)");
        }
    }
    std::error_code ec;
    fs::rename(partial_path, dest_path, ec);
    if (ec) {
        discard_partial();
        throw TransferError(
            TransferErrorKind::kLocalFile,
            "cannot rename " + partial_path + " to " + dest_path + ": " + ec.message());
    }
    remove_quietly(validator_path);
    fsync_directory_of(dest_path);
    result.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    return result;
}

ModelStoreClient::ModelStoreClient(std::string server_url, HttpOptions options)
    : options_(std::move(options)) {
    if (server_url.rfind("ws://", 0) == 0)
        server_url = "http://" + server_url.substr(5);
    else if (server_url.rfind("wss://", 0) == 0)
        server_url = "https://" + server_url.substr(6);
    if (server_url.rfind("http://", 0) != 0 && server_url.rfind("https://", 0) != 0)
        throw TransferError(
            TransferErrorKind::kBadResponse,
            "'" + server_url + "' is not a server URL: use http://HOST:PORT or https://HOST:PORT");
    base_url_ = strip_trailing_slashes(server_url);
}

std::string ModelStoreClient::model_url(const std::string& id) const {
    if (!is_valid_model_id(id))
        throw TransferError(TransferErrorKind::kBadResponse,
                            "'" + id +
                                "' is not a model id: 1-128 letters, digits, '.', '_' or "
                                "'-', not starting with '.'");
    return base_url_ + "/v1/models/" + id;
}

std::vector<RemoteModel> ModelStoreClient::list() const {
    Request request("GET", base_url_ + "/v1/models", options_);
    std::string body;
    request.on_success_body = [&](const char* data, std::size_t size) {
        if (body.size() + size > (16u << 20)) return false;
        body.append(data, size);
        return true;
    };
    request.perform();
    std::vector<RemoteModel> models;
    try {
        const auto json = nlohmann::json::parse(body);
        for (const auto& entry : json.at("models")) models.push_back(remote_model_of(entry));
    } catch (const std::exception& e) {
        throw TransferError(
            TransferErrorKind::kBadResponse,
            request.what() + ": not a model list (" + e.what() + "); is this a faceswap-server?");
    }
    return models;
}

DownloadResult ModelStoreClient::download(const std::string& id, const std::string& dest_path,
                                          const DownloadOptions& options) const {
    return download_file(model_url(id), dest_path, options_, options);
}

RemoteModel ModelStoreClient::upload(const std::string& id, const std::string& file_path,
                                     const UploadOptions& options) const {
    const std::string url = model_url(id);
    std::FILE* file = std::fopen(file_path.c_str(), "rb");
    if (!file)
        throw TransferError(TransferErrorKind::kLocalFile,
                            "cannot read " + file_path + ": " + std::strerror(errno));
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(file, &std::fclose);
    const std::int64_t size = file_size_or(file_path, -1);
    if (size <= 0)
        throw TransferError(TransferErrorKind::kLocalFile, file_path + " is empty or unreadable");
    const std::string sha256 = sha256_of_file(file_path);

    Request request("PUT", url, options_);
    request.cancel = options.cancel;
    request.set(CURLOPT_UPLOAD, 1L);
    request.set(CURLOPT_READDATA, file);
    request.set(CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(size));
    request.set(CURLOPT_UPLOAD_BUFFERSIZE, 512L << 10);  // fewer, larger writes than 64 KiB
    request.header("Content-Type: application/octet-stream");
    request.header("X-Faceswap-Sha256: " + sha256);
    // The server refuses a wrong token or an oversized file before a byte of it is sent.
    request.header("Expect: 100-continue");
    request.set(CURLOPT_EXPECT_100_TIMEOUT_MS, 5000L);
    ProgressThrottle progress(options.progress);
    request.on_transfer = [&](std::int64_t, std::int64_t, std::int64_t, std::int64_t up_now) {
        progress.report({up_now, size, 0, 0});
    };
    std::string body;
    request.on_success_body = [&](const char* data, std::size_t n) {
        body.append(data, n);
        return body.size() < (1u << 20);
    };
    request.perform();
    progress.report({size, size, 0, 0}, true);
    try {
        return remote_model_of(nlohmann::json::parse(body));
    } catch (const std::exception& e) {
        throw TransferError(TransferErrorKind::kBadResponse,
                            request.what() +
                                ": the server accepted the file but its answer is "
                                "not a model entry (" +
                                e.what() + ")");
    }
}

void ModelStoreClient::remove(const std::string& id) const {
    Request request("DELETE", model_url(id), options_);
    request.perform();
}

}  // namespace faceswap::net
