#include "faceswap/net/client.h"
#include "faceswap/net/url.h"
#include "faceswap/stats.h"

#include <boost/asio/ssl/host_name_verification.hpp>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

#include "faceswap/clock.h"
#include "faceswap/net/jpeg.h"
#include "faceswap/net/ws_transport.h"

namespace faceswap::net {
namespace {

namespace websocket = beast::websocket;

// The newest samples, for percentiles over a recent window rather than all time.
class SampleWindow {
  public:
    explicit SampleWindow(std::size_t capacity) : capacity_(std::max<std::size_t>(capacity, 1)) {}
    void add(double value) {
        if (samples_.size() < capacity_) {
            samples_.push_back(value);
        } else {
            samples_[next_] = value;
            next_ = (next_ + 1) % capacity_;
        }
    }
    void clear() {
        samples_.clear();
        next_ = 0;
    }
    LatencySummary summary() const { return stats::summarize(samples_); }

  private:
    std::size_t capacity_;
    std::size_t next_ = 0;
    std::vector<double> samples_;
};

bool is_final_refusal(ProtocolErrorCode code) {
    // Retrying cannot fix these: the token, the model or the protocol version is wrong.
    return code == ProtocolErrorCode::kUnauthorized || code == ProtocolErrorCode::kUnknownModel ||
           code == ProtocolErrorCode::kUnsupportedVersion;
}

}  // namespace

const char* state_name(ClientState state) {
    switch (state) {
        case ClientState::kStopped:
            return "stopped";
        case ClientState::kConnecting:
            return "connecting";
        case ClientState::kConnected:
            return "connected";
        case ClientState::kReconnecting:
            return "reconnecting";
        case ClientState::kFailed:
            return "failed";
    }
    return "?";
}

struct Client::Impl : std::enable_shared_from_this<Impl> {
    // One connection attempt. Handlers hold it, so a stale completion finds its own buffers
    // alive and is recognised (conn != current_) and ignored.
    struct Connection {
        std::shared_ptr<WsTransport> transport;
        beast::flat_buffer read_buffer;
        WriteQueue write_queue;
        bool welcomed = false;
        std::optional<ProtocolErrorCode> refusal;  // an error message the server sent
        std::string refusal_text;
    };

    struct Pending {
        std::uint64_t id = 0;
        std::vector<std::uint8_t> jpeg;
        int width = 0;
        int height = 0;
        std::int64_t capture_us = 0;
    };

    struct InFlight {
        std::int64_t sent_us = 0;
        std::int64_t capture_us = 0;
    };

    Impl(ClientConfig c, ResultCallback r, EventCallback e)
        : config(std::move(c)),
          url(parse_ws_url(config.url)),
          on_result(std::move(r)),
          on_event(std::move(e)),
          ssl_context(asio::ssl::context::tls_client),
          resolver(ioc),
          backoff_timer(ioc),
          handshake_timer(ioc),
          tick_timer(ioc),
          rng(std::random_device{}()),
          rtt(config.latency_samples),
          e2e(config.latency_samples) {
        if (config.max_in_flight < 1 || config.max_in_flight > 64)
            throw std::invalid_argument("max_in_flight must be 1 to 64");
        if (config.quality < 1 || config.quality > 100)
            throw std::invalid_argument("quality must be 1 to 100");
        if (url.tls) {
            if (config.tls_verify) {
                ssl_context.set_verify_mode(asio::ssl::verify_peer);
                if (config.tls_ca_file.empty())
                    ssl_context.set_default_verify_paths();
                else
                    ssl_context.load_verify_file(config.tls_ca_file);
            } else {
                ssl_context.set_verify_mode(asio::ssl::verify_none);
            }
        }
    }

    // ---- called from other threads ---------------------------------------------------------
    void start() {
        ioc.restart();
        stopping = false;
        work.emplace(asio::make_work_guard(ioc));
        thread = std::thread([this] { ioc.run(); });
        asio::post(ioc, [self = shared_from_this()] {
            self->tick();
            self->connect();
        });
    }

    void stop() {
        if (!thread.joinable()) return;
        {
            std::lock_guard lock(mu);
            stop_done = false;
        }
        asio::post(ioc, [self = shared_from_this()] { self->begin_stop(); });
        std::unique_lock lock(mu);
        // A server that never answers our close must not hold stop() up: drop the socket, and
        // as a last resort stop the loop (pending handlers then die with the io_context).
        if (!stop_cv.wait_for(lock, std::chrono::seconds(2), [this] { return stop_done; })) {
            lock.unlock();
            asio::post(ioc, [self = shared_from_this()] {
                if (self->current) self->current->transport->abort();
                self->current.reset();
                self->work.reset();
            });
            lock.lock();
            if (!stop_cv.wait_for(lock, std::chrono::seconds(1), [this] { return stop_done; }))
                ioc.stop();
        }
        lock.unlock();
        thread.join();
        set_state(ClientState::kStopped, "stopped", {}, 0, /*notify=*/false);
    }

    std::uint64_t submit(std::vector<std::uint8_t> jpeg, int width, int height,
                         std::int64_t capture_us) {
        const std::uint64_t id = next_frame_id++;
        {
            std::lock_guard lock(mu);
            if (pending) ++stats.dropped;
            pending = Pending{id, std::move(jpeg), width, height,
                              capture_us < 0 ? clock::now_us() : capture_us};
            ++stats.submitted;
        }
        asio::post(ioc, [self = shared_from_this()] { self->pump(); });
        return id;
    }

    // ---- network thread ----------------------------------------------------------------------
    void begin_stop() {
        stopping = true;
        backoff_timer.cancel();
        handshake_timer.cancel();
        tick_timer.cancel();
        resolver.cancel();
        auto finish = [self = shared_from_this()] {
            self->work.reset();
            std::lock_guard lock(self->mu);
            self->stop_done = true;
            self->stop_cv.notify_all();
        };
        if (current && current->welcomed) {
            auto conn = current;
            conn->transport->close(1000, "client stopped", [conn, finish](beast::error_code) {
                conn->transport->abort();
                finish();
            });
        } else {
            if (current) current->transport->abort();
            finish();
        }
    }

    void connect() {
        if (stopping) return;
        set_state(ClientState::kConnecting, "connecting to " + config.url);
        resolver.async_resolve(
            url.host, url.port,
            [self = shared_from_this()](beast::error_code ec,
                                        const tcp::resolver::results_type& results) {
                if (self->stopping) return;
                if (ec) return self->connection_failed(nullptr, "cannot resolve: " + ec.message());
                self->on_resolved(results);
            });
    }

    void on_resolved(const tcp::resolver::results_type& endpoints) {
        auto conn = std::make_shared<Connection>();
        if (url.tls) {
            auto transport = std::make_shared<BasicWsTransport<TlsWs>>(ioc, ssl_context);
            if (config.tls_verify)
                transport->stream().next_layer().set_verify_callback(
                    asio::ssl::host_name_verification(url.host));
            conn->transport = transport;
        } else {
            conn->transport = std::make_shared<BasicWsTransport<PlainWs>>(ioc);
        }
        current = conn;
        const auto handshake_s = std::chrono::ceil<std::chrono::seconds>(config.connect_timeout);
        conn->transport->set_timeouts(beast::role_type::client, handshake_s, config.idle_timeout);
        conn->transport->set_read_limit(64u << 20);
        // One deadline for everything up to the welcome.
        handshake_timer.expires_after(config.connect_timeout);
        handshake_timer.async_wait([self = shared_from_this(), conn](beast::error_code ec) {
            if (!ec && conn == self->current && !conn->welcomed)
                self->connection_failed(conn, "no welcome within the connect timeout");
        });
        conn->transport->connect(
            endpoints, url.host, url.authority(), url.target, config.connect_timeout,
            [self = shared_from_this(), conn](beast::error_code ec) {
                if (conn != self->current) return;
                if (ec) return self->connection_failed(conn, "cannot connect: " + ec.message());
                Hello hello;
                hello.token = self->config.token;
                hello.model = self->config.model;
                hello.direction = self->config.direction;
                hello.quality = self->config.quality;
                hello.detail = self->config.detail;
                hello.faces = self->config.faces;
                hello.client_marks = self->config.client_marks;
                const std::string text = encode_hello(hello);
                self->enqueue(conn, std::vector<std::uint8_t>(text.begin(), text.end()), true);
                self->read(conn);
            });
    }

    void enqueue(const std::shared_ptr<Connection>& conn, std::vector<std::uint8_t> bytes,
                 bool text) {
        conn->write_queue.push({std::move(bytes), text});
        write_next(conn);
    }

    void write_next(const std::shared_ptr<Connection>& conn) {
        conn->write_queue.write_next(
            *conn->transport, [self = shared_from_this(), conn](beast::error_code ec) {
                if (conn != self->current) return;
                if (ec) return self->connection_failed(conn, "write failed: " + ec.message());
                self->write_next(conn);
            });
    }

    void read(const std::shared_ptr<Connection>& conn) {
        conn->transport->read(conn->read_buffer, [self = shared_from_this(), conn](
                                                     beast::error_code ec, bool is_text) {
            if (conn != self->current) return;
            if (ec) return self->read_failed(conn, ec);
            const auto data = conn->read_buffer.cdata();
            const std::span<const std::uint8_t> bytes(static_cast<const std::uint8_t*>(data.data()),
                                                      data.size());
            const bool keep_going =
                is_text ? self->on_text(conn, bytes) : self->on_binary(conn, bytes);
            conn->read_buffer.consume(conn->read_buffer.size());
            if (keep_going && conn == self->current) self->read(conn);
        });
    }

    void read_failed(const std::shared_ptr<Connection>& conn, beast::error_code ec) {
        if (ec == websocket::error::closed) {
            const auto reason = conn->transport->close_reason();
            std::string detail =
                "server closed the connection (" + std::to_string(static_cast<int>(reason.code)) +
                (reason.reason.empty() ? "" : " " + std::string(reason.reason)) + ")";
            if (conn->refusal) detail = conn->refusal_text + "; " + detail;
            return connection_failed(conn, detail, static_cast<std::uint16_t>(reason.code));
        }
        connection_failed(conn, "connection lost: " + ec.message());
    }

    bool on_text(const std::shared_ptr<Connection>& conn, std::span<const std::uint8_t> bytes) {
        const std::string text(bytes.begin(), bytes.end());
        try {
            const Welcome welcome = decode_welcome(text);
            if (conn->welcomed) {
                connection_failed(conn, "server sent a second welcome");
                return false;
            }
            on_welcome(conn, welcome);
        } catch (const ProtocolError& e) {
            // An error message: the server closes next; the close tells the rest.
            conn->refusal = e.code();
            conn->refusal_text = e.what();
            {
                std::lock_guard lock(mu);
                ++stats.errors;
            }
            emit({state_now(), e.what(), e.code(), 0});
        }
        return true;
    }

    void on_welcome(const std::shared_ptr<Connection>& conn, const Welcome& welcome) {
        conn->welcomed = true;
        handshake_timer.cancel();
        attempts = 0;
        window = std::min(config.max_in_flight, welcome.max_in_flight);
        {
            std::lock_guard lock(mu);
            current_welcome = welcome;
            ++stats.connects;
        }
        set_state(ClientState::kConnected, "session " + welcome.session_id);
        pump();
    }

    bool on_binary(const std::shared_ptr<Connection>& conn, std::span<const std::uint8_t> bytes) {
        if (!conn->welcomed) {
            connection_failed(conn, "server sent a frame before its welcome");
            return false;
        }
        Message message;
        try {
            message = decode_message(bytes, Limits{64u << 20, 65535, 65535});
            if (message.header.type == MessageType::kFrame)
                throw ProtocolError(ProtocolErrorCode::kMalformed, "server sent a frame message");
        } catch (const ProtocolError& e) {
            connection_failed(conn, std::string("bad message from the server: ") + e.what());
            return false;
        }
        const auto it = in_flight.find(message.header.frame_id);
        if (it == in_flight.end()) return true;  // written off already (timed out)
        if (message.header.type == MessageType::kSkipped) {
            in_flight.erase(it);
            in_flight_count = static_cast<int>(in_flight.size());
            {
                std::lock_guard lock(mu);
                ++stats.skipped;
            }
            pump();
            return true;
        }
        const std::int64_t now = clock::now_us();
        ResultFrame result;
        result.frame_id = message.header.frame_id;
        result.capture_timestamp_us = message.header.capture_timestamp_us;
        result.width = message.header.width;
        result.height = message.header.height;
        result.jpeg.assign(message.payload.begin(), message.payload.end());
        result.server = message.result;
        result.rtt_ms = (now - it->second.sent_us) / 1000.0;
        result.e2e_ms = (now - it->second.capture_us) / 1000.0;
        in_flight.erase(it);
        in_flight_count = static_cast<int>(in_flight.size());
        {
            std::lock_guard lock(mu);
            ++stats.received;
            rtt.add(result.rtt_ms);
            e2e.add(result.e2e_ms);
        }
        if (on_result && !stopping) on_result(std::move(result));
        pump();
        return true;
    }

    // Sends the waiting frame while the window has room.
    void pump() {
        if (stopping || !current || !current->welcomed) return;
        while (static_cast<int>(in_flight.size()) < window) {
            Pending frame;
            {
                std::lock_guard lock(mu);
                if (!pending) return;
                frame = std::move(*pending);
                pending.reset();
                ++stats.sent;
                // Counted in flight in the same step, so unanswered() never dips in between.
                in_flight_count = static_cast<int>(in_flight.size()) + 1;
            }
            FrameHeader header;
            header.type = MessageType::kFrame;
            header.frame_id = frame.id;
            header.capture_timestamp_us = frame.capture_us;
            header.width = static_cast<std::uint16_t>(frame.width);
            header.height = static_cast<std::uint16_t>(frame.height);
            in_flight[frame.id] = {clock::now_us(), frame.capture_us};
            in_flight_count = static_cast<int>(in_flight.size());
            enqueue(current, encode_message(header, frame.jpeg), false);
        }
    }

    // Writes off frames that stay unanswered, so the window cannot stall.
    void tick() {
        if (stopping) return;
        const std::int64_t cutoff =
            clock::now_us() -
            std::chrono::duration_cast<std::chrono::microseconds>(config.frame_timeout).count();
        std::uint64_t expired = 0;
        for (auto it = in_flight.begin(); it != in_flight.end();) {
            if (it->second.sent_us < cutoff) {
                it = in_flight.erase(it);
                ++expired;
            } else {
                ++it;
            }
        }
        if (expired) {
            in_flight_count = static_cast<int>(in_flight.size());
            {
                std::lock_guard lock(mu);
                stats.lost += expired;
            }
            pump();
        }
        tick_timer.expires_after(std::chrono::milliseconds(100));
        tick_timer.async_wait([self = shared_from_this()](beast::error_code ec) {
            if (!ec) self->tick();
        });
    }

    void connection_failed(const std::shared_ptr<Connection>& conn, const std::string& why,
                           std::uint16_t close_code = 0) {
        if (conn && conn != current) return;
        std::optional<ProtocolErrorCode> refusal;
        if (conn) {
            refusal = conn->refusal;
            conn->transport->abort();
        }
        current.reset();
        handshake_timer.cancel();
        {
            std::lock_guard lock(mu);
            stats.lost += in_flight.size();
            if (!conn || !conn->welcomed) ++stats.errors;
            current_welcome.reset();
        }
        in_flight.clear();
        in_flight_count = 0;
        if (stopping) return;
        if (!config.reconnect || (refusal && is_final_refusal(*refusal))) {
            set_state(ClientState::kFailed, why, refusal, close_code);
            return;
        }
        // Exponential backoff with "equal jitter": half fixed, half random, so that many
        // clients dropped by one server restart do not all come back in the same instant.
        const auto base =
            std::min<std::int64_t>(config.reconnect_max.count(), config.reconnect_initial.count()
                                                                     << std::min(attempts, 20));
        const auto delay = std::chrono::milliseconds(
            base / 2 + std::uniform_int_distribution<std::int64_t>(0, base / 2)(rng));
        ++attempts;
        set_state(ClientState::kReconnecting,
                  why + "; retrying in " + std::to_string(delay.count()) + " ms", refusal,
                  close_code);
        backoff_timer.expires_after(delay);
        backoff_timer.async_wait([self = shared_from_this()](beast::error_code ec) {
            if (!ec) self->connect();
        });
    }

    ClientState state_now() const {
        std::lock_guard lock(mu);
        return state;
    }

    void set_state(ClientState next, const std::string& detail,
                   std::optional<ProtocolErrorCode> error = {}, std::uint16_t close_code = 0,
                   bool notify = true) {
        {
            std::lock_guard lock(mu);
            state = next;
        }
        if (notify) emit({next, detail, error, close_code});
    }

    void emit(const ClientEvent& event) {
        if (on_event && !stopping) on_event(event);
    }

    ClientConfig config;
    WsUrl url;
    ResultCallback on_result;
    EventCallback on_event;

    asio::io_context ioc{1};
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
    std::thread thread;
    asio::ssl::context ssl_context;
    tcp::resolver resolver;
    asio::steady_timer backoff_timer;
    asio::steady_timer handshake_timer;
    asio::steady_timer tick_timer;
    std::mt19937_64 rng;
    std::atomic<std::uint64_t> next_frame_id{1};

    // Network thread only.
    std::shared_ptr<Connection> current;
    std::map<std::uint64_t, InFlight> in_flight;
    std::atomic<int> window{1};  // read by ready_for_frame()
    int attempts = 0;
    std::atomic<int> in_flight_count{0};  // read by stats()
    bool stopping = false;

    // Shared with the callers' threads.
    mutable std::mutex mu;
    std::condition_variable stop_cv;
    bool stop_done = false;
    std::optional<Pending> pending;
    ClientStats stats;
    SampleWindow rtt;
    SampleWindow e2e;
    ClientState state = ClientState::kStopped;
    std::optional<Welcome> current_welcome;
};

Client::Client(ClientConfig config, ResultCallback on_result, EventCallback on_event)
    : impl_(std::make_shared<Impl>(std::move(config), std::move(on_result), std::move(on_event))) {}

Client::~Client() {
    stop();
}

void Client::start() {
    if (impl_->thread.joinable()) return;
    impl_->start();
}

void Client::stop() {
    impl_->stop();
}

std::uint64_t Client::submit_jpeg(std::vector<std::uint8_t> jpeg, int width, int height,
                                  std::int64_t capture_timestamp_us) {
    if (width < 1 || height < 1 || width > 65535 || height > 65535 || jpeg.empty())
        throw std::invalid_argument("submit_jpeg: empty frame or impossible size");
    return impl_->submit(std::move(jpeg), width, height, capture_timestamp_us);
}

std::uint64_t Client::submit_bgr(const std::uint8_t* bgr, int width, int height, int stride_bytes,
                                 std::int64_t capture_timestamp_us) {
    if (capture_timestamp_us < 0) capture_timestamp_us = clock::now_us();
    thread_local JpegCodec codec;  // TurboJPEG handles are per thread
    std::vector<std::uint8_t> jpeg;
    codec.encode(bgr, width, height, stride_bytes, PixelOrder::kBgr, impl_->config.quality, jpeg);
    return submit_jpeg(std::move(jpeg), width, height, capture_timestamp_us);
}

ClientState Client::state() const {
    return impl_->state_now();
}

ClientStats Client::stats() const {
    std::lock_guard lock(impl_->mu);
    ClientStats stats = impl_->stats;
    stats.rtt_ms = impl_->rtt.summary();
    stats.e2e_ms = impl_->e2e.summary();
    stats.in_flight = impl_->in_flight_count;
    return stats;
}

bool Client::ready_for_frame() const {
    std::lock_guard lock(impl_->mu);
    return !impl_->pending && impl_->state == ClientState::kConnected &&
           impl_->in_flight_count < impl_->window;
}

void Client::reset_stats() {
    std::lock_guard lock(impl_->mu);
    impl_->stats = {};
    impl_->rtt.clear();
    impl_->e2e.clear();
}

std::optional<Welcome> Client::welcome() const {
    std::lock_guard lock(impl_->mu);
    return impl_->current_welcome;
}

}  // namespace faceswap::net
