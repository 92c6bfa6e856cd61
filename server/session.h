// Internal to faceswap-server (included by server.cpp and http_routes.cpp only): what every
// connection shares, and one WebSocket session: hello, frames in, the engine's outcomes back,
// results out, drain.
#pragma once

#include <spdlog/spdlog.h>

#include <boost/asio/strand.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <random>

#include "connection_limits.h"
#include "faceswap/net/jpeg.h"
#include "faceswap/net/protocol.h"
#include "faceswap/net/ws_transport.h"
#include "model_catalog.h"
#include "result_marking.h"
#include "scheduler.h"

#include "faceswap/clock.h"
#include "server.h"

namespace faceswap::server {

namespace beast = boost::beast;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace detail {

namespace http = beast::http;
namespace websocket = beast::websocket;
using clock::Clock;
using clock::ms_since;
using net::ProtocolError;
using net::ProtocolErrorCode;

inline std::uint32_t to_us(double ms) {
    return static_cast<std::uint32_t>(std::clamp(ms * 1000.0, 0.0, 4.0e9));
}

inline net::JpegCodec& thread_codec() {
    thread_local net::JpegCodec codec;  // TurboJPEG handles are per thread
    return codec;
}

class Session;

// What every connection needs from the server.
struct Shared {
    ServerConfig config;
    std::shared_ptr<ProcessorFactory> factory;
    Tokens tokens;  // empty: no authentication
    net::Limits limits;
    ServerMetrics metrics;
    std::unique_ptr<PipelineScheduler> scheduler;
    std::unique_ptr<ModelCatalog> catalog;
    std::optional<asio::ssl::context> tls;
    std::atomic<bool> draining{false};
    std::atomic<bool> ready{true};  // false while start-up work (--model-url pulls) runs
    std::mutex not_ready_mu;
    std::string not_ready_reason;
    std::atomic<int> sessions{0};                   // slots taken, upgrade included
    std::unique_ptr<ConnectionLimits> connections;  // made from config by the Server
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

inline std::string random_session_id() {
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
            asio::any_io_executor strand, std::string peer, std::shared_ptr<void> connection_slot)
        : shared_(shared),
          transport_(std::move(transport)),
          strand_(std::move(strand)),
          peer_(std::move(peer)),
          connection_slot_(std::move(connection_slot)),
          id_(shared.next_session++),
          hello_timer_(strand_),
          close_timer_(strand_),
          rate_timer_(strand_) {}

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
        // Until the hello: room for a hello (32768 bytes) with a margin, so an overlong one
        // gets a proper too_large error rather than a bare close.
        transport_->set_read_limit(64 << 10);
        request_ = std::move(request);
        transport_->accept(request_, [self = shared_from_this()](beast::error_code ec) {
            if (ec) return self->finish("upgrade failed: " + ec.message());
            self->hello_timer_.expires_after(
                std::chrono::seconds(self->shared_.config.handshake_timeout_s));
            self->hello_timer_.async_wait([self](beast::error_code ec) {
                if (ec || self->welcomed_) return;
                if (self->shared_.metrics.count_refusal(Refusal::kHelloTimeout))
                    spdlog::warn("{}: no hello within {} s (limit: server.handshake_timeout_s)",
                                 self->peer_, self->shared_.config.handshake_timeout_s);
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
    using Outgoing = net::WriteQueue::Message;
    // The newest frame waiting for a decode token (limits.max_frame_rate), with its own copy of
    // the JPEG: the read buffer is reused for the next message.
    struct HeldFrame {
        net::FrameHeader header;
        std::vector<std::uint8_t> jpeg;
        Clock::time_point received;
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
        if (ec == beast::error::timeout && shared_.metrics.count_refusal(Refusal::kIdleTimeout))
            spdlog::warn(
                "session {} from {}: no answer to pings for {} s, dropped (limit: "
                "server.idle_timeout_s)",
                id_, peer_, shared_.config.idle_timeout_s);
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
        if (!shared_.tokens.empty() && !token_accepted(shared_.tokens.all, hello.token))
            throw ProtocolError(ProtocolErrorCode::kUnauthorized, "wrong or missing token");
        try {
            processor_ =
                shared_.factory->open(hello.model, hello.direction, hello.detail, hello.faces);
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
        // The server marks the results unless the client marks its own outputs; a
        // pass-through engine generates nothing to mark.
        mark_results_ = !hello.client_marks && processor_->swap_model() != nullptr;
        if (mark_results_) {
            watermark_payload_ = result_watermark_payload(hello.model, welcome.model_sha256);
            welcome.watermark = watermark_payload_text(watermark_payload_);
        }
        const std::string reply = net::encode_welcome(welcome);
        spdlog::info("session {} from {}: model '{}', {}, quality {}, faces: {}{}",
                     welcome.session_id, peer_, hello.model,
                     hello.direction == net::Direction::kAToB ? "a2b" : "b2a", hello.quality,
                     face_choice_mode_name(hello.faces.mode),
                     hello.faces.mode == FaceChoiceMode::kPeople
                         ? " (" + std::to_string(hello.faces.people.size()) + " chosen)"
                         : std::string());
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
        // Beyond the window (a client that floods, or one that wrote frames off early): answered
        // at once, without the cost of decoding it. Unanswered, as the client counts: at the
        // scheduler, held, or answered but not yet out of our write queue.
        const int unanswered = pending_ + (held_ ? 1 : 0) + static_cast<int>(write_queue_.size());
        if (unanswered >= shared_.config.max_in_flight) {
            shared_.metrics.count_drop(DropReason::kOverWindow);
            return answer_skipped(message.header);
        }
        // Faster than limits.max_frame_rate: the newest frame waits, undecoded, for its turn; one
        // it supersedes is answered at once, never decoded.
        if (held_ || !take_decode_token(received))
            return hold(
                {message.header, {message.payload.begin(), message.payload.end()}, received});
        decode_and_submit(message.header, message.payload, received);
    }

    void answer_skipped(const net::FrameHeader& frame) {
        net::FrameHeader header = frame;
        header.type = net::MessageType::kSkipped;
        enqueue({net::encode_message(header, {}), false});
    }

    void hold(HeldFrame frame) {
        if (held_) {
            shared_.metrics.count_drop(DropReason::kOverRate);
            answer_skipped(held_->header);
        }
        held_.emplace(std::move(frame));
        const double wait_s = (1.0 - decode_tokens_) / shared_.config.max_frame_rate;
        rate_timer_.expires_after(std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>(std::max(0.0, wait_s))));
        rate_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
            if (ec || self->finished_ || self->close_requested_ || !self->held_) return;
            HeldFrame frame = std::move(*self->held_);
            self->held_.reset();
            // The timer fired a little early: wait for the token again.
            if (!self->take_decode_token(Clock::now())) return self->hold(std::move(frame));
            try {
                self->decode_and_submit(frame.header, frame.jpeg, frame.received);
            } catch (const ProtocolError& e) {
                self->refuse(e.code(), e.what());
            }
        });
    }

    void decode_and_submit(const net::FrameHeader& frame, std::span<const std::uint8_t> jpeg,
                           Clock::time_point received) {
        if (draining_) {
            shared_.metrics.count_drop(DropReason::kDraining);
            return;
        }
        std::vector<std::uint8_t> bgr;
        const std::int64_t max_pixels =
            std::int64_t{shared_.limits.max_width} * shared_.limits.max_height;
        thread_codec().decode(jpeg, {frame.width, frame.height}, max_pixels, net::PixelOrder::kBgr,
                              bgr);
        const double decode_ms = ms_since(received);
        ++shared_.metrics.frames_in;
        shared_.metrics.decode_ms.observe(decode_ms);

        // The engine's smoothing wants increasing timestamps; a client that sends none (or
        // repeats one) gets the engine's default cadence instead.
        double timestamp_s = frame.capture_timestamp_us / 1e6;
        if (frame.capture_timestamp_us <= last_capture_us_) timestamp_s = -1.0;
        last_capture_us_ = std::max(last_capture_us_, frame.capture_timestamp_us);

        FrameJob job;
        job.session_id = id_;
        job.processor = processor_;
        job.bgr = std::move(bgr);
        job.width = frame.width;
        job.height = frame.height;
        job.timestamp_s = timestamp_s;
        job.deliver = [self = shared_from_this(), header = frame, decode_us = to_us(decode_ms),
                       received](FrameOutcome&& outcome) {
            asio::post(self->strand_,
                       [self, header, decode_us, received, outcome = std::move(outcome)]() mutable {
                           self->on_outcome(header, decode_us, received, std::move(outcome));
                       });
        };
        ++pending_;
        shared_.scheduler->submit(std::move(job));
    }

    // limits.max_frame_rate as a token bucket: a burst of max_in_flight frames or a tenth of a
    // second's worth, whichever is more, refilled at the rate. True (and one token spent) when this
    // frame may be decoded.
    bool take_decode_token(Clock::time_point now) {
        const int rate = shared_.config.max_frame_rate;
        if (rate <= 0) return true;
        const double burst = std::max(shared_.config.max_in_flight, rate / 10);
        if (decode_tokens_ < 0) decode_tokens_ = burst;  // the first frame: a full bucket
        decode_tokens_ = std::min(
            burst,
            decode_tokens_ + rate * std::chrono::duration<double>(now - tokens_refilled_).count());
        tokens_refilled_ = now;
        if (decode_tokens_ < 1.0) return false;
        decode_tokens_ -= 1.0;
        return true;
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
                     Clock::time_point received, FrameOutcome& outcome) {
        const auto encode_start = Clock::now();
        // Only frames in which a face was swapped: nothing else in a result was generated.
        if (mark_results_ && outcome.output.faces > 0)
            mark_result(outcome.output.bgr, frame.width, frame.height, watermark_payload_);
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
        const auto byte_limit = static_cast<std::size_t>(shared_.config.max_queued_bytes);
        for (auto dropped = write_queue_.push(std::move(message), limit, byte_limit); dropped > 0;
             --dropped)
            shared_.metrics.count_drop(DropReason::kOverflow);
        write_next();
    }

    void write_next() {
        if (finished_) return;
        if (!write_queue_.writing() && write_queue_.empty()) {
            if (close_requested_ && !close_sent_) send_close();
            return;
        }
        write_queue_.write_next(*transport_, [self = shared_from_this()](beast::error_code ec) {
            if (ec) return self->finish("write failed: " + ec.message());
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
        rate_timer_.cancel();
        held_.reset();
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
        connection_slot_.reset();
        spdlog::debug("session {} from {} ended: {}", id_, peer_, why);
    }

    Shared& shared_;
    std::shared_ptr<net::WsTransport> transport_;
    asio::any_io_executor strand_;
    std::string peer_;
    std::shared_ptr<void> connection_slot_;  // ConnectionLimits: freed when the session ends
    const std::uint64_t id_;
    asio::steady_timer hello_timer_;
    asio::steady_timer close_timer_;
    asio::steady_timer rate_timer_;  // a held frame's turn
    http::request<http::string_body> request_;
    beast::flat_buffer buffer_;
    net::WriteQueue write_queue_;
    std::shared_ptr<StreamProcessor> processor_;
    int quality_ = 85;
    bool mark_results_ = false;
    std::uint32_t watermark_payload_ = 0;
    std::int64_t last_capture_us_ = -1;
    int pending_ = 0;            // frames handed to the scheduler, not yet back
    double decode_tokens_ = -1;  // take_decode_token(); -1 until the first frame
    Clock::time_point tokens_refilled_{};
    std::optional<HeldFrame> held_;
    bool welcomed_ = false;
    bool draining_ = false;
    bool close_requested_ = false;
    bool close_sent_ = false;
    bool finished_ = false;
    std::uint16_t close_code_ = 1000;
    std::string close_reason_;
};

}  // namespace detail
}  // namespace faceswap::server
