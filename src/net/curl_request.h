// Internal to faceswap_net_http: one libcurl request with the options every transfer
// shares, and the helpers that turn an HTTP answer into one clear line. Not installed.
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include "faceswap/net/model_store.h"

namespace faceswap::net::detail {

void global_init();  // curl_global_init, once per process
std::string lower(std::string text);
std::string trim(const std::string& text);
// What the server said, on one line: a JSON {"error": ...} body, else its text (not HTML).
std::string server_message_of(const std::string& body, const std::string& content_type);
const char* reason_of(int status);  // "Not Found" for 404
std::string hint_of(int status);    // what to do about it, or ""

using Clock = std::chrono::steady_clock;

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

}  // namespace faceswap::net::detail
