// One WebSocket connection behind a small virtual interface, so that the client's and the
// server's session logic is written once and runs over plain TCP (ws://) or TLS (wss://).
//
// Beast-dependent: included by the client and server implementations only (never by the UI or
// by a public API header). All calls must come from the connection's executor, and the Beast
// rule holds: at most one read, one write and one close in flight.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

namespace faceswap::net {

namespace beast = boost::beast;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

using PlainWs = beast::websocket::stream<beast::tcp_stream>;
using TlsWs = beast::websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

class WsTransport {
  public:
    using Handler = std::function<void(beast::error_code)>;
    using ReadHandler = std::function<void(beast::error_code, bool is_text)>;

    virtual ~WsTransport() = default;

    // Client side: TCP connect (with timeout), TLS handshake where TLS, WebSocket upgrade.
    // host is the bare name (for SNI), host_header "name:port" (for the upgrade request).
    virtual void connect(const tcp::resolver::results_type& endpoints, const std::string& host,
                         const std::string& host_header, const std::string& target,
                         std::chrono::milliseconds timeout, Handler done) = 0;
    // Server side: completes the upgrade of an already read HTTP request.
    virtual void accept(const beast::http::request<beast::http::string_body>& request,
                        Handler done) = 0;

    // The caller keeps data alive until done runs.
    virtual void write(const void* data, std::size_t size, bool text, Handler done) = 0;
    virtual void read(beast::flat_buffer& buffer, ReadHandler done) = 0;
    virtual void close(std::uint16_t code, const std::string& reason, Handler done) = 0;
    virtual beast::websocket::close_reason close_reason() const = 0;
    virtual void set_read_limit(std::size_t bytes) = 0;
    // Idle timeout with keep-alive pings: a silent peer is dropped after idle.
    virtual void set_timeouts(beast::role_type role, std::chrono::seconds handshake,
                              std::chrono::seconds idle) = 0;
    // Closes the socket at once: pending operations complete with an error.
    virtual void abort() = 0;
};

template <class Ws>
class BasicWsTransport final : public WsTransport {
  public:
    static constexpr bool kTls = !std::is_same_v<Ws, PlainWs>;

    template <class... Args>
    explicit BasicWsTransport(Args&&... args) : ws_(std::forward<Args>(args)...) {}

    Ws& stream() { return ws_; }

    void connect(const tcp::resolver::results_type& endpoints, const std::string& host,
                 const std::string& host_header, const std::string& target,
                 std::chrono::milliseconds timeout, Handler done) override {
        auto& tcp_layer = beast::get_lowest_layer(ws_);
        // This deadline covers TCP connect and TLS; the upgrade has the websocket's own.
        tcp_layer.expires_after(timeout);
        tcp_layer.async_connect(
            endpoints, [this, host, host_header, target, done = std::move(done)](
                           beast::error_code ec, const tcp::endpoint&) {
                if (ec) return done(ec);
                // Nagle + delayed ACK would add tens of ms to every frame (measured: ~44 ms).
                beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true), ec);
                if constexpr (kTls) {
                    if (!SSL_set_tlsext_host_name(ws_.next_layer().native_handle(), host.c_str()))
                        return done(beast::error_code(static_cast<int>(::ERR_get_error()),
                                                      asio::error::get_ssl_category()));
                    ws_.next_layer().async_handshake(
                        asio::ssl::stream_base::client,
                        [this, host_header, target, done](beast::error_code ec) {
                            if (ec) return done(ec);
                            upgrade(host_header, target, done);
                        });
                } else {
                    upgrade(host_header, target, done);
                }
            });
    }

    void accept(const beast::http::request<beast::http::string_body>& request,
                Handler done) override {
        beast::get_lowest_layer(ws_).expires_never();  // the websocket timeouts take over
        ws_.async_accept(request, [done = std::move(done)](beast::error_code ec) { done(ec); });
    }

    void write(const void* data, std::size_t size, bool text, Handler done) override {
        ws_.text(text);
        ws_.async_write(asio::buffer(data, size),
                        [done = std::move(done)](beast::error_code ec, std::size_t) { done(ec); });
    }

    void read(beast::flat_buffer& buffer, ReadHandler done) override {
        ws_.async_read(buffer, [this, done = std::move(done)](beast::error_code ec, std::size_t) {
            done(ec, !ec && ws_.got_text());
        });
    }

    void close(std::uint16_t code, const std::string& reason, Handler done) override {
        ws_.async_close(
            beast::websocket::close_reason(static_cast<beast::websocket::close_code>(code), reason),
            [done = std::move(done)](beast::error_code ec) { done(ec); });
    }

    beast::websocket::close_reason close_reason() const override { return ws_.reason(); }
    void set_read_limit(std::size_t bytes) override { ws_.read_message_max(bytes); }

    void set_timeouts(beast::role_type role, std::chrono::seconds handshake,
                      std::chrono::seconds idle) override {
        beast::websocket::stream_base::timeout timeouts =
            beast::websocket::stream_base::timeout::suggested(role);
        timeouts.handshake_timeout = handshake;
        timeouts.idle_timeout = idle;
        timeouts.keep_alive_pings = true;
        ws_.set_option(timeouts);
    }

    void abort() override {
        beast::error_code ignored;
        beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
        beast::get_lowest_layer(ws_).socket().close(ignored);
    }

  private:
    void upgrade(const std::string& host_header, const std::string& target, Handler done) {
        // As in Beast's examples: the websocket timeouts (set_timeouts) govern from here on.
        beast::get_lowest_layer(ws_).expires_never();
        ws_.set_option(
            beast::websocket::stream_base::decorator([](beast::websocket::request_type& request) {
                request.set(beast::http::field::user_agent, "faceswap-net/1");
            }));
        ws_.async_handshake(host_header, target,
                            [done = std::move(done)](beast::error_code ec) { done(ec); });
    }

    Ws ws_;
};

// The messages waiting to go out on one WebSocket. Beast allows one write in flight, and its
// buffer must live until the write completes: the queue keeps it at the front until then.
// Shared by the client and the server's sessions. Not thread-safe: use it on the connection's
// strand, and keep its owner alive in on_written (the completion touches the queue).
class WriteQueue {
  public:
    struct Message {
        std::vector<std::uint8_t> bytes;
        bool text = false;
    };

    // Queues a message. While more than `binary_limit` messages, or more than `byte_limit`
    // bytes, wait, the oldest binary one not being written goes (text messages always stay, and
    // so does the new one): returns how many went.
    std::size_t push(Message message,
                     std::size_t binary_limit = std::numeric_limits<std::size_t>::max(),
                     std::size_t byte_limit = std::numeric_limits<std::size_t>::max()) {
        std::size_t dropped = 0;
        if (!message.text) {
            while (queue_.size() >= binary_limit || bytes_ + message.bytes.size() > byte_limit) {
                auto it = queue_.begin() + (writing_ && !queue_.empty() ? 1 : 0);
                while (it != queue_.end() && it->text) ++it;
                if (it == queue_.end()) break;
                bytes_ -= it->bytes.size();
                queue_.erase(it);
                ++dropped;
            }
        }
        bytes_ += message.bytes.size();
        queue_.push_back(std::move(message));
        return dropped;
    }

    // Writes the front message unless a write is in flight or nothing waits (returns false
    // then). on_written(ec) runs when it completes; on success the message is gone by then.
    bool write_next(WsTransport& transport, std::function<void(beast::error_code)> on_written) {
        if (writing_ || queue_.empty()) return false;
        writing_ = true;
        const Message& front = queue_.front();
        transport.write(front.bytes.data(), front.bytes.size(), front.text,
                        [this, on_written = std::move(on_written)](beast::error_code ec) {
                            writing_ = false;
                            if (!ec) {
                                bytes_ -= queue_.front().bytes.size();
                                queue_.pop_front();
                            }
                            on_written(ec);
                        });
        return true;
    }

    bool writing() const { return writing_; }
    bool empty() const { return queue_.empty(); }
    std::size_t size() const { return queue_.size(); }
    std::size_t bytes() const { return bytes_; }  // of every message waiting or mid-write
    void clear() {
        queue_.erase(queue_.begin() + (writing_ && !queue_.empty() ? 1 : 0), queue_.end());
        bytes_ = 0;
        for (const auto& message : queue_) bytes_ += message.bytes.size();
    }

  private:
    std::deque<Message> queue_;
    std::size_t bytes_ = 0;
    bool writing_ = false;
};

}  // namespace faceswap::net
