// Internal to faceswap-server (included by server.cpp only): a TCP or TLS connection before
// it becomes a WebSocket: it reads requests and writes answers, hands plain routes (health,
// readiness, metrics, the browser page) to http_routes.h, runs the model API's transfers
// (download with ranges, upload, delete; the Beast-free parts in model_api_http.h), and hands
// upgrades over to a Session.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>

#include "faceswap/net/sha256.h"
#include "http_routes.h"
#include "model_api_http.h"
#include "session.h"

namespace faceswap::server::detail {

// The model API's answers that do not depend on the stream type (the Beast-free helpers are
// in model_api_http.h).
namespace model_api {

using namespace ::faceswap::server::model_api;  // json_error, model_id_of, byte_range

inline std::string bearer_token(const http::fields& fields) {
    const auto it = fields.find(http::field::authorization);
    return it == fields.end() ? std::string{} : bearer_token_of(it->value());
}

// A header's value, nullopt when the request does not have it.
inline std::optional<std::string_view> field_value(const http::fields& fields, http::field name) {
    const auto it = fields.find(name);
    if (it == fields.end()) return std::nullopt;
    return std::string_view(it->value());
}

}  // namespace model_api

// A TCP (or TLS) connection before it becomes a WebSocket: answers plain HTTP requests
// (health, readiness, metrics, the model API) and hands upgrades over to a Session.
template <class Stream>
class HttpConnection : public std::enable_shared_from_this<HttpConnection<Stream>> {
  public:
    static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;
    using Ws = websocket::stream<Stream>;

    template <class... Args>
    HttpConnection(Shared& shared, std::string peer, std::shared_ptr<void> connection_slot,
                   Args&&... args)
        : shared_(shared),
          peer_(std::move(peer)),
          connection_slot_(std::move(connection_slot)),
          stream_(std::forward<Args>(args)...) {}

    ~HttpConnection() {
        if (file_fd_ >= 0) ::close(file_fd_);
        if (!upload_path_.empty()) {
            std::error_code ignored;
            std::filesystem::remove(upload_path_, ignored);  // a cut upload leaves nothing
        }
    }

    void run() {
        // Start on the strand: the socket's handlers all run there.
        asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
            if constexpr (kTls) {
                beast::get_lowest_layer(self->stream_)
                    .expires_after(std::chrono::seconds(self->shared_.config.handshake_timeout_s));
                self->stream_.async_handshake(asio::ssl::stream_base::server,
                                              [self](beast::error_code ec) {
                                                  if (!ec) self->read();
                                              });
            } else {
                self->read();
            }
        });
    }

  private:
    // A transfer (model download or upload) slower than this for one chunk is cut.
    static constexpr std::chrono::seconds kTransferStall{30};

    // The header first: an upload's body goes to a file, everything else is small.
    void read() {
        header_parser_.emplace();
        header_parser_->header_limit(16 << 10);
        // Checked per request in on_header(): an upload may be large, anything else may not.
        header_parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
        beast::get_lowest_layer(stream_).expires_after(
            std::chrono::seconds(shared_.config.handshake_timeout_s));
        http::async_read_header(
            stream_, buffer_, *header_parser_,
            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                if (ec) return self->on_header_error(ec);
                self->on_header();
            });
    }

    void on_header_error(beast::error_code ec) {
        if (ec == http::error::header_limit) {
            if (shared_.metrics.count_refusal(Refusal::kHeaderTooLarge))
                spdlog::warn("{}: request header over 16 KiB, refused with 431", peer_);
            // The request line may be cut too: answer as HTTP/1.1.
            const http::request<http::empty_body> stand_in(http::verb::get, "/", 11);
            return respond(stand_in, http::status::request_header_fields_too_large,
                           "request header over 16 KiB\n", "text/plain", false);
        }
        // A timeout with some of a request read is a slow client (slowloris); without any, an
        // idle keep-alive connection ending as it should.
        if (ec == beast::error::timeout && buffer_.size() > 0 &&
            shared_.metrics.count_refusal(Refusal::kHeaderTimeout))
            spdlog::warn(
                "{}: request header not complete within {} s, closed (limit: "
                "server.handshake_timeout_s)",
                peer_, shared_.config.handshake_timeout_s);
        shut();
    }

    void on_header() {
        const auto& header = header_parser_->get();
        if (header.method() == http::verb::put) {
            if (const auto id = model_api::model_id_of(header.target()); id && !id->empty())
                return begin_upload(*id);
        }
        constexpr std::uint64_t kSmallBody = 16 << 10;
        if (header_parser_->content_length().value_or(0) > kSmallBody)
            return respond(header, http::status::payload_too_large, "request body too large\n",
                           "text/plain", false);
        parser_.emplace(std::move(*header_parser_));
        parser_->body_limit(kSmallBody);
        http::async_read(stream_, buffer_, *parser_,
                         [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                             if (ec) return self->shut();
                             self->on_request();
                         });
    }

    void on_request() {
        http::request<http::string_body> request = parser_->release();
        if (websocket::is_upgrade(request)) return upgrade(std::move(request));
        ++shared_.metrics.http_requests;
        if (const auto id = model_api::model_id_of(request.target()))
            return on_model_request(request, *id);
        PlainAnswer answer = answer_plain_request(shared_, request.method(), request.target());
        respond(request, answer.status, std::move(answer.body), answer.type, true, answer.page);
    }

    // ---- the model API (docs/model-api.md) -----------------------------------------------

    // Reading needs a token only where the server has tokens; changing always needs one.
    std::optional<std::pair<http::status, std::string>> refuse_auth(const http::fields& fields,
                                                                    bool change) const {
        const bool open = shared_.tokens.empty();
        if (change && open)
            return std::pair{http::status::forbidden,
                             std::string("changing models needs a token: start the server with "
                                         "--tokens-file")};
        const std::string token = model_api::bearer_token(fields);
        if (!open && !token_accepted(shared_.tokens.all, token))
            return std::pair{http::status::unauthorized,
                             std::string("wrong or missing token (Authorization: Bearer TOKEN)")};
        if (change && !token_accepted(shared_.tokens.models, token))
            return std::pair{http::status::forbidden,
                             std::string("this token may stream and read models but not change "
                                         "them: add the right after it in the server's tokens "
                                         "file ('TOKEN models')")};
        return std::nullopt;
    }

    template <class Request>
    void respond_json(const Request& request, http::status status, std::string body,
                      bool keep_alive = true) {
        respond(request, status, std::move(body), "application/json", keep_alive);
    }

    void on_model_request(const http::request<http::string_body>& request, const std::string& id) {
        const auto method = request.method();
        const bool read = method == http::verb::get || method == http::verb::head;
        if (!read && !(method == http::verb::delete_ && !id.empty()))
            return respond_json(
                request, http::status::method_not_allowed,
                model_api::json_error(id.empty() ? "/v1/models takes GET"
                                                 : "a model takes GET, PUT or DELETE"));
        if (!shared_.catalog->enabled())
            return respond_json(
                request, http::status::not_implemented,
                model_api::json_error("this server's engine ('" + shared_.factory->name() +
                                      "') has no model API"));
        if (const auto refusal = refuse_auth(request, !read))
            return respond_json(request, refusal->first, model_api::json_error(refusal->second));
        if (id.empty())
            return respond_json(request, http::status::ok, shared_.catalog->list_json());
        if (!net::is_valid_model_id(id))
            return respond_json(request, http::status::bad_request,
                                model_api::json_error("a model id is 1-128 letters, digits, '.', "
                                                      "'_' or '-', not starting with '.'"));
        if (method == http::verb::delete_) {
            if (!shared_.catalog->remove(id))
                return respond_json(request, http::status::not_found,
                                    model_api::json_error("model '" + id + "' is not served here"));
            return respond(request, http::status::no_content, "", "application/json");
        }
        send_model(request, id);
    }

    void send_model(const http::request<http::string_body>& request, const std::string& id) {
        CatalogEntry entry;
        const int fd = shared_.catalog->open_model(id, entry);
        if (fd < 0)
            return respond_json(request, http::status::not_found,
                                model_api::json_error("model '" + id + "' is not served here"));
        file_fd_ = fd;
        const std::string etag = "\"" + entry.sha256 + "\"";
        const std::int64_t size = entry.size_bytes;
        const auto answer = model_api::answer_download(
            etag, size, model_api::field_value(request, http::field::if_none_match),
            model_api::field_value(request, http::field::range),
            model_api::field_value(request, http::field::if_range));
        if (answer.kind == model_api::DownloadAnswer::kNotModified) {
            auto response = std::make_shared<http::response<http::empty_body>>(
                http::status::not_modified, request.version());
            response->set(http::field::etag, etag);
            return write_header_only(request, response);
        }
        if (answer.kind == model_api::DownloadAnswer::kUnsatisfiable) {
            auto response = std::make_shared<http::response<http::empty_body>>(
                http::status::range_not_satisfiable, request.version());
            response->set(http::field::content_range, "bytes */" + std::to_string(size));
            return write_header_only(request, response);
        }
        const bool partial = answer.kind == model_api::DownloadAnswer::kPartial;
        const std::int64_t first = answer.first;
        const std::int64_t last = answer.last;
        file_response_.emplace(partial ? http::status::partial_content : http::status::ok,
                               request.version());
        auto& response = *file_response_;
        response.set(http::field::server, "faceswap-server");
        response.set(http::field::content_type, "application/octet-stream");
        response.set(http::field::etag, etag);
        response.set(http::field::accept_ranges, "bytes");
        response.set("X-Faceswap-Sha256", entry.sha256);
        response.set(http::field::content_disposition,
                     "attachment; filename=\"" + id + ".fsmodel\"");
        if (partial)
            response.set(http::field::content_range, "bytes " + std::to_string(first) + "-" +
                                                         std::to_string(last) + "/" +
                                                         std::to_string(size));
        response.content_length(last - first + 1);
        response.keep_alive(request.keep_alive());
        file_pos_ = first;
        file_left_ = request.method() == http::verb::head ? 0 : last - first + 1;
        head_only_ = request.method() == http::verb::head;
        file_serializer_.emplace(response);
        if (!head_only_) ++shared_.metrics.model_downloads;
        beast::get_lowest_layer(stream_).expires_after(kTransferStall);
        http::async_write_header(
            stream_, *file_serializer_,
            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                if (ec) return self->shut();
                if (self->head_only_) return self->end_file(self->file_response_->keep_alive());
                self->write_file_chunk();
            });
    }

    void write_file_chunk() {
        auto& body = file_response_->body();
        const std::size_t want =
            static_cast<std::size_t>(std::min<std::int64_t>(file_left_, kChunkBytes));
        chunk_.resize(kChunkBytes);
        const ssize_t got = ::pread(file_fd_, chunk_.data(), want, file_pos_);
        if (got <= 0) {
            spdlog::warn("model download to {}: reading the file failed", peer_);
            return shut();
        }
        file_pos_ += got;
        file_left_ -= got;
        body.data = chunk_.data();
        body.size = static_cast<std::size_t>(got);
        body.more = file_left_ > 0;
        beast::get_lowest_layer(stream_).expires_after(kTransferStall);
        http::async_write(stream_, *file_serializer_,
                          [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec == http::error::need_buffer) ec = {};
                              if (ec) return self->shut();
                              if (self->file_left_ > 0) return self->write_file_chunk();
                              self->end_file(self->file_response_->keep_alive());
                          });
    }

    void end_file(bool keep_alive) {
        ::close(file_fd_);
        file_fd_ = -1;
        file_serializer_.reset();
        file_response_.reset();
        if (keep_alive) return read();
        shut();
    }

    template <class Response>
    void write_header_only(const http::request<http::string_body>& request,
                           std::shared_ptr<Response> response) {
        ::close(file_fd_);
        file_fd_ = -1;
        response->set(http::field::server, "faceswap-server");
        response->keep_alive(request.keep_alive());
        http::async_write(
            stream_, *response,
            [self = this->shared_from_this(), response](beast::error_code ec, std::size_t) {
                if (ec || !response->keep_alive()) return self->shut();
                self->read();
            });
    }

    // PUT /v1/models/ID: refusals come before a byte of the body is read (with "Expect:
    // 100-continue" the client has not sent it yet), then the body streams into a hidden file
    // and the catalog loads it completely before serving it.
    void begin_upload(const std::string& id) {
        ++shared_.metrics.http_requests;
        auto& header = header_parser_->get();
        auto refuse = [&](http::status status, const std::string& message) {
            ++shared_.metrics.model_uploads_refused;
            // The body was not read: the connection cannot carry another request.
            respond_json(header, status, model_api::json_error(message), false);
        };
        if (shared_.draining)
            return refuse(http::status::service_unavailable, "the server is draining");
        if (!shared_.catalog->enabled())
            return refuse(
                http::status::not_implemented,
                "this server's engine ('" + shared_.factory->name() + "') has no model API");
        if (const auto refusal = refuse_auth(header, true))
            return refuse(refusal->first, refusal->second);
        const std::int64_t limit = shared_.catalog->max_model_bytes();
        const auto length = header_parser_->content_length();
        if (!length && !header_parser_->chunked())
            return refuse(http::status::length_required, "send the model with a Content-Length");
        if (length && static_cast<std::int64_t>(*length) > limit)
            return refuse(http::status::payload_too_large,
                          "the model is " + std::to_string(*length) +
                              " bytes, over this server's limits.max_model_bytes (" +
                              std::to_string(limit) + ")");
        const auto sha256 = model_api::upload_sha256_of(header["X-Faceswap-Sha256"]);
        if (!sha256)
            return refuse(http::status::bad_request,
                          "X-Faceswap-Sha256 must be the model's sha256 in 64 hex digits");
        try {
            upload_path_ = shared_.catalog->staging_path(id);
        } catch (const CatalogError& e) {
            return refuse(static_cast<http::status>(e.http_status()), e.what());
        }
        upload_id_ = id;
        upload_sha256_ = *sha256;
        upload_version_ = header.version();
        upload_keep_alive_ = header.keep_alive();
        upload_parser_.emplace(std::move(*header_parser_));
        upload_parser_->body_limit(static_cast<std::uint64_t>(limit));
        beast::error_code ec;
        upload_parser_->get().body().open(upload_path_.c_str(), beast::file_mode::write, ec);
        if (ec) {
            upload_path_.clear();
            return respond_json(
                upload_parser_->get(), http::status::internal_server_error,
                model_api::json_error("cannot store the upload in " +
                                      shared_.config.swap_model_dir + ": " + ec.message()),
                false);
        }
        if (beast::iequals(upload_parser_->get()[http::field::expect], "100-continue")) {
            auto go_on = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                            upload_version_);
            return http::async_write(
                stream_, *go_on,
                [self = this->shared_from_this(), go_on](beast::error_code ec, std::size_t) {
                    if (ec) return self->shut();
                    self->read_upload();
                });
        }
        read_upload();
    }

    // In pieces, so the stall timeout applies per piece rather than to the whole upload.
    void read_upload() {
        beast::get_lowest_layer(stream_).expires_after(kTransferStall);
        http::async_read_some(
            stream_, buffer_, *upload_parser_,
            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                if (ec == http::error::body_limit) {
                    ++self->shared_.metrics.model_uploads_refused;
                    self->upload_parser_->get().body().close();
                    return self->respond_json(
                        self->upload_parser_->get(), http::status::payload_too_large,
                        model_api::json_error(
                            "the model is over this server's "
                            "limits.max_model_bytes (" +
                            std::to_string(self->shared_.catalog->max_model_bytes()) + ")"),
                        false);
                }
                if (ec) return self->shut();  // cut: the destructor deletes the partial file
                if (!self->upload_parser_->is_done()) return self->read_upload();
                self->finish_upload();
            });
    }

    void finish_upload() {
        upload_parser_->get().body().close();
        std::string staged = std::move(upload_path_);
        upload_path_.clear();  // the catalog owns the file now
        const std::string id = upload_id_;
        beast::get_lowest_layer(stream_).expires_never();  // loading the model takes a while
        shared_.catalog->install_async(
            id, std::move(staged), upload_sha256_,
            [self = this->shared_from_this()](InstallOutcome outcome) {
                asio::post(self->stream_.get_executor(),
                           [self, outcome = std::move(outcome)] { self->on_installed(outcome); });
            });
    }

    void on_installed(const InstallOutcome& outcome) {
        http::request<http::empty_body> request{http::verb::put, "", upload_version_};
        request.keep_alive(upload_keep_alive_);
        ++(outcome.entry ? shared_.metrics.model_uploads_installed
                         : shared_.metrics.model_uploads_refused);
        if (!outcome.entry)
            return respond_json(
                request, static_cast<http::status>(outcome.http_status),
                model_api::json_error(outcome.error + "; the previous version (if any) is still "
                                                      "served"));
        auto entry = nlohmann::json::parse(ModelCatalog::entry_json(*outcome.entry));
        entry["check_ms"] = std::round(outcome.check_ms * 10) / 10;
        respond_json(request, outcome.replaced ? http::status::ok : http::status::created,
                     entry.dump() + "\n");
    }

    // -------------------------------------------------------------------------------------

    template <class Request>
    void respond(const Request& request, http::status status, std::string body,
                 const std::string& type, bool keep_alive = true, bool page = false) {
        auto response =
            std::make_shared<http::response<http::string_body>>(status, request.version());
        response->set(http::field::server, "faceswap-server");
        response->set(http::field::content_type, type);
        response->set("X-Content-Type-Options", "nosniff");
        if (page) {
            // Only this server's own scripts, and connections back to it.
            response->set("Content-Security-Policy",
                          "default-src 'self'; img-src 'self' blob: data:; media-src 'self' "
                          "blob: mediastream:; connect-src 'self' ws: wss:; style-src 'self' "
                          "'unsafe-inline'; frame-ancestors 'none'");
            response->set(http::field::cache_control, "no-cache");
        }
        response->keep_alive(keep_alive && request.keep_alive());
        if (request.method() != http::verb::head) response->body() = std::move(body);
        response->prepare_payload();
        beast::get_lowest_layer(stream_).expires_after(
            std::chrono::seconds(shared_.config.handshake_timeout_s));
        http::async_write(
            stream_, *response,
            [self = this->shared_from_this(), response](beast::error_code ec, std::size_t) {
                if (ec || !response->keep_alive()) return self->shut();
                self->read();
            });
    }

    void upgrade(http::request<http::string_body> request) {
        // Refused before the upgrade with 503, so load balancers and clients retry elsewhere.
        if (shared_.draining) {
            shared_.metrics.count_refusal(Refusal::kDraining);
            return respond(request, http::status::service_unavailable, "draining\n", "text/plain",
                           false);
        }
        if (!shared_.reserve_session()) {
            if (shared_.metrics.count_refusal(Refusal::kMaxSessions))
                spdlog::warn("{}: refused with 503, {} sessions open (limit: server.max_sessions)",
                             peer_, shared_.config.max_sessions);
            return respond(request, http::status::service_unavailable,
                           "server full: max_sessions reached\n", "text/plain", false);
        }
        const auto strand = stream_.get_executor();
        auto transport = std::make_shared<net::BasicWsTransport<Ws>>(std::move(stream_));
        auto session = std::make_shared<Session>(shared_, std::move(transport), strand, peer_,
                                                 connection_slot_);
        session->start(std::move(request));
    }

    void shut() {
        beast::error_code ignored;
        beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
        beast::get_lowest_layer(stream_).close();
    }

    static constexpr std::int64_t kChunkBytes = 256 << 10;

    Shared& shared_;
    std::string peer_;
    std::shared_ptr<void> connection_slot_;  // ConnectionLimits; a Session takes a copy
    Stream stream_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::empty_body>> header_parser_;
    std::optional<http::request_parser<http::string_body>> parser_;
    // A model download in progress.
    int file_fd_ = -1;
    std::int64_t file_pos_ = 0, file_left_ = 0;
    bool head_only_ = false;
    std::vector<char> chunk_;
    std::optional<http::response<http::buffer_body>> file_response_;
    std::optional<http::response_serializer<http::buffer_body>> file_serializer_;
    // A model upload in progress.
    std::optional<http::request_parser<http::file_body>> upload_parser_;
    std::string upload_path_;  // deleted unless handed to the catalog
    std::string upload_id_, upload_sha256_;
    unsigned upload_version_ = 11;
    bool upload_keep_alive_ = false;
};

}  // namespace faceswap::server::detail
