#include "server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include <fcntl.h>
#include <unistd.h>

#include "faceswap/net/jpeg.h"
#include "faceswap/net/protocol.h"
#include "faceswap/net/sha256.h"
#include "faceswap/net/ws_transport.h"
#include "model_catalog.h"
#include "model_api_http.h"
#include "scheduler.h"

namespace faceswap::server {

namespace beast = boost::beast;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

namespace http = beast::http;
namespace websocket = beast::websocket;
using net::ProtocolError;
using net::ProtocolErrorCode;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::uint32_t to_us(double ms) {
    return static_cast<std::uint32_t>(std::clamp(ms * 1000.0, 0.0, 4.0e9));
}

net::JpegCodec& thread_codec() {
    thread_local net::JpegCodec codec;  // TurboJPEG handles are per thread
    return codec;
}

class Session;

// What every connection needs from the server.
struct Shared {
    ServerConfig config;
    std::shared_ptr<ProcessorFactory> factory;
    std::set<std::string> tokens;  // empty: no authentication
    net::Limits limits;
    ServerMetrics metrics;
    std::unique_ptr<FrameScheduler> scheduler;
    std::unique_ptr<ModelCatalog> catalog;
    std::optional<asio::ssl::context> tls;
    std::atomic<bool> draining{false};
    std::atomic<bool> ready{true};  // false while start-up work (--model-url pulls) runs
    std::mutex not_ready_mu;
    std::string not_ready_reason;
    std::atomic<int> sessions{0};  // slots taken, upgrade included
    std::atomic<std::uint64_t> next_session{1};

    std::mutex live_mu;
    std::map<std::uint64_t, std::weak_ptr<Session>> live;

    bool reserve_session() {
        int now = sessions.load();
        while (now < config.max_sessions)
            if (sessions.compare_exchange_weak(now, now + 1)) return true;
        return false;
    }
};

std::string random_session_id() {
    thread_local std::mt19937_64 rng(std::random_device{}());
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(rng()));
    return text;
}

// One WebSocket client. Everything here runs on the session's strand (the executor of its
// socket): reads, timers, and the outcomes the scheduler posts back.
class Session : public std::enable_shared_from_this<Session> {
  public:
    Session(Shared& shared, std::shared_ptr<net::WsTransport> transport,
            asio::any_io_executor strand, std::string peer)
        : shared_(shared),
          transport_(std::move(transport)),
          strand_(std::move(strand)),
          peer_(std::move(peer)),
          id_(shared.next_session++),
          hello_timer_(strand_),
          close_timer_(strand_) {}

    std::uint64_t id() const { return id_; }

    void start(http::request<http::string_body> request) {
        ++shared_.metrics.sessions_total;
        ++shared_.metrics.sessions_active;
        {
            std::lock_guard lock(shared_.live_mu);
            shared_.live[id_] = weak_from_this();
        }
        transport_->set_timeouts(beast::role_type::server,
                                 std::chrono::seconds(shared_.config.handshake_timeout_s),
                                 std::chrono::seconds(shared_.config.idle_timeout_s));
        // Until the hello: room for a hello (4096 bytes) with a margin, so an overlong one
        // gets a proper too_large error rather than a bare close.
        transport_->set_read_limit(64 << 10);
        request_ = std::move(request);
        transport_->accept(request_, [self = shared_from_this()](beast::error_code ec) {
            if (ec) return self->finish("upgrade failed: " + ec.message());
            self->hello_timer_.expires_after(
                std::chrono::seconds(self->shared_.config.handshake_timeout_s));
            self->hello_timer_.async_wait([self](beast::error_code ec) {
                if (!ec && !self->welcomed_)
                    self->refuse(ProtocolErrorCode::kMalformed, "no hello within the timeout");
            });
            self->read();
        });
    }

    // SIGTERM: answer what was received, then close with 1001.
    void begin_drain() {
        draining_ = true;
        if (!welcomed_ || pending_ == 0) close_with(1001, "server shutting down");
    }

    const asio::any_io_executor& strand_executor() const { return strand_; }

  private:
    struct Outgoing {
        std::vector<std::uint8_t> bytes;
        bool text = false;
    };

    void read() {
        transport_->read(buffer_, [self = shared_from_this()](beast::error_code ec, bool is_text) {
            if (ec) return self->on_read_error(ec);
            const auto data = self->buffer_.cdata();
            if (!self->close_requested_)
                self->on_message(is_text,
                                 {static_cast<const std::uint8_t*>(data.data()), data.size()});
            self->buffer_.consume(self->buffer_.size());
            self->read();  // keep reading: the peer's close frame arrives this way
        });
    }

    void on_read_error(beast::error_code ec) {
        if (ec == websocket::error::message_too_big) {
            // Beast has already failed the connection with 1009.
            shared_.metrics.count_error(ProtocolErrorCode::kTooLarge);
            return finish("message over the read limit");
        }
        if (ec == websocket::error::closed) return finish("closed by the client");
        finish(ec.message());
    }

    void on_message(bool is_text, std::span<const std::uint8_t> bytes) {
        try {
            if (!welcomed_) {
                if (!is_text)
                    throw ProtocolError(ProtocolErrorCode::kMalformed,
                                        "the first message must be a text hello");
                on_hello(std::string(bytes.begin(), bytes.end()));
            } else {
                if (is_text)
                    throw ProtocolError(ProtocolErrorCode::kMalformed,
                                        "text message after the handshake");
                on_frame(bytes);
            }
        } catch (const ProtocolError& e) {
            refuse(e.code(), e.what());
        }
    }

    void on_hello(const std::string& text) {
        const net::Hello hello = net::decode_hello(text);
        if (!shared_.tokens.empty() && !shared_.tokens.count(hello.token))
            throw ProtocolError(ProtocolErrorCode::kUnauthorized, "wrong or missing token");
        try {
            processor_ = shared_.factory->open(hello.model, hello.direction);
        } catch (const UnknownModel& e) {
            throw ProtocolError(ProtocolErrorCode::kUnknownModel, e.what());
        } catch (const std::exception& e) {
            throw ProtocolError(ProtocolErrorCode::kInternal,
                                std::string("cannot open the model: ") + e.what());
        }
        quality_ = hello.quality;
        welcomed_ = true;
        hello_timer_.cancel();
        transport_->set_read_limit(2ull * shared_.limits.max_payload_bytes + net::kHeaderBytes);
        net::Welcome welcome;
        welcome.session_id = random_session_id();
        welcome.limits = shared_.limits;
        welcome.max_in_flight = shared_.config.max_in_flight;
        welcome.model_sha256 = processor_->model_version();
        const std::string reply = net::encode_welcome(welcome);
        spdlog::info("session {} from {}: model '{}', {}, quality {}", welcome.session_id, peer_,
                     hello.model, hello.direction == net::Direction::kAToB ? "a2b" : "b2a",
                     hello.quality);
        enqueue({std::vector<std::uint8_t>(reply.begin(), reply.end()), true});
        if (draining_) close_with(1001, "server shutting down");
    }

    void on_frame(std::span<const std::uint8_t> bytes) {
        const auto received = Clock::now();
        const net::Message message = net::decode_message(bytes, shared_.limits);
        if (message.header.type != net::MessageType::kFrame)
            throw ProtocolError(ProtocolErrorCode::kMalformed,
                                "clients send frames (type 1), not results");
        if (draining_) {
            shared_.metrics.count_drop(DropReason::kDraining);
            return;
        }
        std::vector<std::uint8_t> bgr;
        const std::int64_t max_pixels =
            std::int64_t{shared_.limits.max_width} * shared_.limits.max_height;
        thread_codec().decode(message.payload, {message.header.width, message.header.height},
                              max_pixels, net::PixelOrder::kBgr, bgr);
        const double decode_ms = ms_since(received);
        ++shared_.metrics.frames_in;
        shared_.metrics.decode_ms.observe(decode_ms);

        // The engine's smoothing wants increasing timestamps; a client that sends none (or
        // repeats one) gets the engine's default cadence instead.
        double timestamp_s = message.header.capture_timestamp_us / 1e6;
        if (message.header.capture_timestamp_us <= last_capture_us_) timestamp_s = -1.0;
        last_capture_us_ = std::max(last_capture_us_, message.header.capture_timestamp_us);

        FrameJob job;
        job.session_id = id_;
        job.processor = processor_;
        job.bgr = std::move(bgr);
        job.width = message.header.width;
        job.height = message.header.height;
        job.timestamp_s = timestamp_s;
        job.deliver = [self = shared_from_this(), header = message.header,
                       decode_us = to_us(decode_ms), received](FrameOutcome&& outcome) {
            asio::post(self->strand_,
                       [self, header, decode_us, received, outcome = std::move(outcome)]() mutable {
                           self->on_outcome(header, decode_us, received, std::move(outcome));
                       });
        };
        ++pending_;
        shared_.scheduler->submit(std::move(job));
    }

    void on_outcome(const net::FrameHeader& frame, std::uint32_t decode_us,
                    Clock::time_point received, FrameOutcome&& outcome) {
        --pending_;
        if (finished_ || close_requested_) {
            if (!outcome.dropped) shared_.metrics.count_drop(DropReason::kClosed);
        } else if (!outcome.error.empty()) {
            spdlog::error("session {}: processing failed: {}", id_, outcome.error);
            refuse(ProtocolErrorCode::kInternal, "processing the frame failed");
        } else if (outcome.dropped) {
            // Frees the frame's slot in the client's window now, so a fresh frame can follow.
            net::FrameHeader header = frame;
            header.type = net::MessageType::kSkipped;
            enqueue({net::encode_message(header, {}), false});
        } else {
            send_result(frame, decode_us, received, outcome);
        }
        if (draining_ && pending_ == 0) close_with(1001, "server shutting down");
    }

    void send_result(const net::FrameHeader& frame, std::uint32_t decode_us,
                     Clock::time_point received, const FrameOutcome& outcome) {
        const auto encode_start = Clock::now();
        std::vector<std::uint8_t> jpeg;
        thread_codec().encode(outcome.output.bgr.data(), frame.width, frame.height, frame.width * 3,
                              net::PixelOrder::kBgr, quality_, jpeg);
        const double encode_ms = ms_since(encode_start);
        net::FrameHeader header = frame;
        header.type = net::MessageType::kResult;
        net::ResultInfo info;
        info.decode_us = decode_us;
        info.queue_us = to_us(outcome.queue_ms);
        info.engine_us = to_us(outcome.engine_ms);
        info.encode_us = to_us(encode_ms);
        info.faces = static_cast<std::uint16_t>(std::clamp(outcome.output.faces, 0, 65535));
        shared_.metrics.encode_ms.observe(encode_ms);
        enqueue({net::encode_message(header, jpeg, &info), false});
        shared_.metrics.server_ms.observe(ms_since(received));
        ++shared_.metrics.frames_out;
    }

    // An error message, then a close with the code the protocol assigns to it.
    void refuse(ProtocolErrorCode code, const std::string& message) {
        if (close_requested_ || finished_) return;
        shared_.metrics.count_error(code);
        spdlog::warn("session {} from {}: refused ({}): {}", id_, peer_, net::error_name(code),
                     message);
        const std::string text = net::encode_error(code, message);
        enqueue({std::vector<std::uint8_t>(text.begin(), text.end()), true});
        close_with(net::close_code_for(code), net::error_name(code));
    }

    void enqueue(Outgoing message) {
        if (finished_) return;
        // A client that does not read cannot grow our memory: past a few results the oldest
        // unsent one goes (the front may be mid-write and stays).
        const std::size_t limit = static_cast<std::size_t>(shared_.config.max_in_flight) + 4;
        if (!message.text && write_queue_.size() >= limit) {
            for (auto it = write_queue_.begin() + (writing_ ? 1 : 0); it != write_queue_.end();
                 ++it)
                if (!it->text) {
                    write_queue_.erase(it);
                    shared_.metrics.count_drop(DropReason::kOverflow);
                    break;
                }
        }
        write_queue_.push_back(std::move(message));
        write_next();
    }

    void write_next() {
        if (writing_ || finished_) return;
        if (write_queue_.empty()) {
            if (close_requested_ && !close_sent_) send_close();
            return;
        }
        writing_ = true;
        const Outgoing& front = write_queue_.front();
        transport_->write(front.bytes.data(), front.bytes.size(), front.text,
                          [self = shared_from_this()](beast::error_code ec) {
                              self->writing_ = false;
                              if (ec) return self->finish("write failed: " + ec.message());
                              self->write_queue_.pop_front();
                              self->write_next();
                          });
    }

    // Closes once the queued messages are out (the error text must precede the close).
    void close_with(std::uint16_t code, const std::string& reason) {
        if (close_requested_ || finished_) return;
        close_requested_ = true;
        close_code_ = code;
        close_reason_ = reason;
        // A peer that never completes the closing handshake is cut off.
        close_timer_.expires_after(std::chrono::seconds(5));
        close_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
            if (!ec) self->transport_->abort();
        });
        write_next();
    }

    void send_close() {
        close_sent_ = true;
        transport_->close(close_code_, close_reason_,
                          [self = shared_from_this()](beast::error_code ec) {
                              if (ec) self->finish("close failed: " + ec.message());
                              // Otherwise the read loop ends with error::closed.
                          });
    }

    void finish(const std::string& why) {
        if (finished_) return;
        finished_ = true;
        hello_timer_.cancel();
        close_timer_.cancel();
        transport_->abort();
        write_queue_.clear();
        shared_.scheduler->forget(id_);
        processor_.reset();
        {
            std::lock_guard lock(shared_.live_mu);
            shared_.live.erase(id_);
        }
        --shared_.metrics.sessions_active;
        --shared_.sessions;
        spdlog::debug("session {} from {} ended: {}", id_, peer_, why);
    }

    Shared& shared_;
    std::shared_ptr<net::WsTransport> transport_;
    asio::any_io_executor strand_;
    std::string peer_;
    const std::uint64_t id_;
    asio::steady_timer hello_timer_;
    asio::steady_timer close_timer_;
    http::request<http::string_body> request_;
    beast::flat_buffer buffer_;
    std::deque<Outgoing> write_queue_;
    std::shared_ptr<StreamProcessor> processor_;
    int quality_ = 85;
    std::int64_t last_capture_us_ = -1;
    int pending_ = 0;  // frames handed to the scheduler, not yet back
    bool welcomed_ = false;
    bool writing_ = false;
    bool draining_ = false;
    bool close_requested_ = false;
    bool close_sent_ = false;
    bool finished_ = false;
    std::uint16_t close_code_ = 1000;
    std::string close_reason_;
};

// The model API's answers that do not depend on the stream type (the Beast-free helpers are
// in model_api_http.h).
namespace model_api {

using namespace ::faceswap::server::model_api;  // json_error, model_id_of, byte_range

std::string bearer_token(const http::fields& fields) {
    const auto it = fields.find(http::field::authorization);
    if (it == fields.end()) return {};
    const std::string_view value = it->value();
    constexpr std::string_view kBearer = "Bearer ";
    if (value.size() <= kBearer.size() || !beast::iequals(value.substr(0, 7), kBearer)) return {};
    return std::string(value.substr(kBearer.size()));
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
    HttpConnection(Shared& shared, std::string peer, Args&&... args)
        : shared_(shared), peer_(std::move(peer)), stream_(std::forward<Args>(args)...) {}

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
                if (ec) return self->shut();
                self->on_header();
            });
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
        const std::string target(request.target());
        http::status status = http::status::ok;
        std::string body;
        std::string type = "text/plain; charset=utf-8";
        if (request.method() != http::verb::get && request.method() != http::verb::head) {
            status = http::status::method_not_allowed;
            body = "GET only\n";
        } else if (target == "/healthz") {
            body = "ok\n";
        } else if (target == "/readyz") {
            if (shared_.draining) {
                status = http::status::service_unavailable;
                body = "draining\n";
            } else if (!shared_.ready) {
                status = http::status::service_unavailable;
                std::lock_guard lock(shared_.not_ready_mu);
                body = shared_.not_ready_reason + "\n";
            } else {
                body = "ready\n";
            }
        } else if (target == "/metrics") {
            body = shared_.metrics.render();
            if (shared_.scheduler) shared_.scheduler->render_metrics(body);
            type = "text/plain; version=0.0.4; charset=utf-8";
        } else {
            status = http::status::not_found;
            body =
                "not found: try /healthz, /readyz, /metrics, /v1/models or a WebSocket "
                "upgrade\n";
        }
        respond(request, status, std::move(body), type);
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
        if (!open && !shared_.tokens.count(model_api::bearer_token(fields)))
            return std::pair{http::status::unauthorized,
                             std::string("wrong or missing token (Authorization: Bearer TOKEN)")};
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
        auto none_match = request.find(http::field::if_none_match);
        if (none_match != request.end() &&
            (none_match->value() == etag || none_match->value() == "*")) {
            auto response = std::make_shared<http::response<http::empty_body>>(
                http::status::not_modified, request.version());
            response->set(http::field::etag, etag);
            return write_header_only(request, response);
        }
        // If-Range: a resume of another version gets the whole file instead of a wrong tail.
        std::optional<std::pair<std::int64_t, std::int64_t>> range;
        bool unsatisfiable = false;
        const auto range_field = request.find(http::field::range);
        const auto if_range = request.find(http::field::if_range);
        if (range_field != request.end() &&
            (if_range == request.end() || if_range->value() == etag))
            range = model_api::byte_range(range_field->value(), size, unsatisfiable);
        if (unsatisfiable) {
            auto response = std::make_shared<http::response<http::empty_body>>(
                http::status::range_not_satisfiable, request.version());
            response->set(http::field::content_range, "bytes */" + std::to_string(size));
            return write_header_only(request, response);
        }
        const std::int64_t first = range ? range->first : 0;
        const std::int64_t last = range ? range->second : size - 1;
        file_response_.emplace(range ? http::status::partial_content : http::status::ok,
                               request.version());
        auto& response = *file_response_;
        response.set(http::field::server, "faceswap-server");
        response.set(http::field::content_type, "application/octet-stream");
        response.set(http::field::etag, etag);
        response.set(http::field::accept_ranges, "bytes");
        response.set("X-Faceswap-Sha256", entry.sha256);
        response.set(http::field::content_disposition,
                     "attachment; filename=\"" + id + ".fsmodel\"");
        if (range)
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
        try {
            upload_path_ = shared_.catalog->staging_path(id);
        } catch (const CatalogError& e) {
            return refuse(static_cast<http::status>(e.http_status()), e.what());
        }
        upload_id_ = id;
        upload_sha256_ = std::string(header["X-Faceswap-Sha256"]);
        for (auto& c : upload_sha256_) c = static_cast<char>(std::tolower(c));
        upload_version_ = header.version();
        upload_keep_alive_ = header.keep_alive();
        upload_parser_.emplace(std::move(*header_parser_));
        upload_parser_->body_limit(static_cast<std::uint64_t>(limit));
        beast::error_code ec;
        upload_parser_->get().body().open(upload_path_.c_str(), beast::file_mode::write, ec);
        if (ec) {
            upload_path_.clear();
            return respond_json(upload_parser_->get(), http::status::internal_server_error,
                                model_api::json_error("cannot store the upload: " + ec.message()),
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
                 const std::string& type, bool keep_alive = true) {
        auto response =
            std::make_shared<http::response<http::string_body>>(status, request.version());
        response->set(http::field::server, "faceswap-server");
        response->set(http::field::content_type, type);
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
        if (shared_.draining)
            return respond(request, http::status::service_unavailable, "draining\n", "text/plain",
                           false);
        if (!shared_.reserve_session())
            return respond(request, http::status::service_unavailable,
                           "server full: max_sessions reached\n", "text/plain", false);
        const auto strand = stream_.get_executor();
        auto transport = std::make_shared<net::BasicWsTransport<Ws>>(std::move(stream_));
        auto session = std::make_shared<Session>(shared_, std::move(transport), strand, peer_);
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

}  // namespace

struct Server::Impl {
    Shared shared;
    asio::io_context ioc;
    std::optional<tcp::acceptor> acceptor;
    std::optional<asio::signal_set> signals;
    std::optional<asio::steady_timer> drain_timer;
    std::vector<std::thread> threads;
    std::mutex mu;
    std::condition_variable stopped_cv;
    bool started = false;
    bool stopped = false;

    void accept() {
        acceptor->async_accept(
            asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
                if (ec) {
                    if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
                    spdlog::warn("accept failed: {}", ec.message());
                    return accept();
                }
                // Nagle + delayed ACK would add tens of ms to every frame (measured: ~44 ms).
                socket.set_option(tcp::no_delay(true), ec);
                std::string peer = "?";
                if (const auto remote = socket.remote_endpoint(ec); !ec)
                    peer = remote.address().to_string() + ":" + std::to_string(remote.port());
                if (shared.tls)
                    std::make_shared<HttpConnection<beast::ssl_stream<beast::tcp_stream>>>(
                        shared, std::move(peer), std::move(socket), *shared.tls)
                        ->run();
                else
                    std::make_shared<HttpConnection<beast::tcp_stream>>(shared, std::move(peer),
                                                                        std::move(socket))
                        ->run();
                accept();
            });
    }

    std::vector<std::shared_ptr<Session>> live_sessions() {
        std::vector<std::shared_ptr<Session>> sessions;
        std::lock_guard lock(shared.live_mu);
        for (auto& [id, weak] : shared.live)
            if (auto session = weak.lock()) sessions.push_back(std::move(session));
        return sessions;
    }

    // On the io_context.
    void begin_drain() {
        if (shared.draining.exchange(true)) return;
        spdlog::info("draining: no new sessions, finishing frames in flight");
        beast::error_code ignored;
        if (acceptor) acceptor->close(ignored);
        for (auto& session : live_sessions()) {
            asio::post(session->strand_executor(), [session] { session->begin_drain(); });
        }
        const auto deadline = Clock::now() + std::chrono::seconds(shared.config.drain_timeout_s);
        drain_timer.emplace(ioc);
        poll_drain(deadline);
    }

    void poll_drain(Clock::time_point deadline) {
        if (shared.sessions == 0 || Clock::now() >= deadline) {
            if (shared.sessions != 0)
                spdlog::warn("drain timeout: closing {} sessions", shared.sessions.load());
            return stop_now();
        }
        drain_timer->expires_after(std::chrono::milliseconds(20));
        drain_timer->async_wait([this, deadline](beast::error_code ec) {
            if (!ec) poll_drain(deadline);
        });
    }

    void stop_now() {
        {
            std::lock_guard lock(mu);
            if (stopped) return;
            stopped = true;
        }
        // Sockets close when the io_context lets go of the sessions (after the threads end).
        if (shared.scheduler) shared.scheduler->stop();
        ioc.stop();
        stopped_cv.notify_all();
    }

    void join() {
        for (auto& thread : threads)
            if (thread.joinable() && thread.get_id() != std::this_thread::get_id()) thread.join();
    }
};

Server::Server(ServerConfig config, std::shared_ptr<ProcessorFactory> factory)
    : impl_(std::make_unique<Impl>()) {
    config.validate();
    Shared& shared = impl_->shared;
    shared.config = std::move(config);
    shared.factory = std::move(factory);
    if (!shared.config.tokens_file.empty()) shared.tokens = load_tokens(shared.config.tokens_file);
    shared.limits.max_payload_bytes = shared.config.max_frame_bytes;
    shared.limits.max_width = shared.config.max_width;
    shared.limits.max_height = shared.config.max_height;
    if (!shared.config.tls_cert.empty()) {
        shared.tls.emplace(asio::ssl::context::tls_server);
        shared.tls->set_options(asio::ssl::context::default_workarounds |
                                asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                                asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
        try {
            shared.tls->use_certificate_chain_file(shared.config.tls_cert);
            shared.tls->use_private_key_file(shared.config.tls_key, asio::ssl::context::pem);
        } catch (const std::exception& e) {
            throw ConfigError("cannot load the TLS certificate or key: " + std::string(e.what()));
        }
    }
    // The swap models: --swap-model files and the model directory, loaded completely now.
    shared.catalog = std::make_unique<ModelCatalog>(shared.factory, shared.config.swap_model_dir,
                                                    shared.config.max_model_bytes);
    try {
        shared.catalog->load_initial(shared.config.swap_models);
    } catch (const CatalogError& e) {
        throw ConfigError(e.what());
    }
    SchedulerConfig scheduler;
    scheduler.batch_size = shared.config.batch_size;
    scheduler.batch_wait = std::chrono::milliseconds(shared.config.batch_wait_ms);
    scheduler.batch_latency = std::chrono::milliseconds(shared.config.batch_latency_ms);
    scheduler.stages = shared.config.stages;
    scheduler.per_session_depth = 1;  // the newest frame of each session waits, no older one
    shared.scheduler = shared.factory->make_scheduler(scheduler, shared.metrics);
    if (!shared.scheduler)
        shared.scheduler =
            std::make_unique<InferenceScheduler>(shared.factory, scheduler, shared.metrics);
}

Server::~Server() {
    stop();
    // Before the io_context goes: an install in progress posts its answer to a connection.
    impl_->shared.catalog.reset();
}

std::uint16_t Server::start() {
    Impl& impl = *impl_;
    std::lock_guard lock(impl.mu);
    if (impl.started) throw std::logic_error("Server::start() called twice");
    const ServerConfig& config = impl.shared.config;
    beast::error_code ec;
    const auto address = asio::ip::make_address(config.address, ec);
    if (ec) throw ConfigError("server.address '" + config.address + "' is not an IP address");
    const tcp::endpoint endpoint(address, config.port);
    tcp::acceptor& acceptor = impl.acceptor.emplace(asio::make_strand(impl.ioc));
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        throw std::runtime_error("cannot listen on " + config.address + ":" +
                                 std::to_string(config.port) + ": " + ec.message());
    const std::uint16_t port = acceptor.local_endpoint().port();
    impl.shared.scheduler->start();
    impl.accept();
    impl.started = true;
    for (int i = 0; i < config.io_threads; ++i)
        impl.threads.emplace_back([&impl] { impl.ioc.run(); });
    spdlog::info("listening on {}:{} ({}, engine '{}' on {}, models: {})", config.address, port,
                 impl.shared.tls ? "TLS" : "plain", impl.shared.factory->name(),
                 impl.shared.factory->device_name(),
                 fmt::join(impl.shared.factory->models(), ", "));
    return port;
}

void Server::handle_signals() {
    Impl& impl = *impl_;
    impl.signals.emplace(impl.ioc, SIGINT, SIGTERM);
    impl.signals->async_wait([&impl](beast::error_code ec, int signal) {
        if (ec) return;
        spdlog::info("signal {}: draining", signal);
        impl.begin_drain();
    });
}

void Server::drain() {
    asio::post(impl_->ioc, [impl = impl_.get()] { impl->begin_drain(); });
}

void Server::stop() {
    impl_->stop_now();
    impl_->join();
}

void Server::wait() {
    {
        std::unique_lock lock(impl_->mu);
        if (!impl_->started) return;
        impl_->stopped_cv.wait(lock, [this] { return impl_->stopped; });
    }
    impl_->join();
}

bool Server::draining() const {
    return impl_->shared.draining;
}

int Server::sessions() const {
    return impl_->shared.sessions;
}

const ServerMetrics& Server::metrics() const {
    return impl_->shared.metrics;
}

void Server::set_ready(bool ready, const std::string& reason) {
    {
        std::lock_guard lock(impl_->shared.not_ready_mu);
        impl_->shared.not_ready_reason = reason.empty() ? "not ready" : reason;
    }
    impl_->shared.ready = ready;
}

ModelCatalog& Server::models() {
    return *impl_->shared.catalog;
}

}  // namespace faceswap::server
