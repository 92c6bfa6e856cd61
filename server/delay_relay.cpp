#include "delay_relay.h"

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange under C++20

#include <boost/asio.hpp>

#include <array>
#include <deque>
#include <thread>
#include <vector>

namespace faceswap::server {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// One direction of a relayed connection: reads as fast as data comes, writes each chunk once
// its delay has passed, in order.
class Pipe : public std::enable_shared_from_this<Pipe> {
  public:
    Pipe(std::shared_ptr<tcp::socket> from, std::shared_ptr<tcp::socket> to,
         std::chrono::microseconds delay)
        : from_(std::move(from)),
          to_(std::move(to)),
          delay_(delay),
          timer_(from_->get_executor()) {}

    void start() { read(); }

  private:
    void read() {
        from_->async_read_some(
            asio::buffer(buffer_),
            [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                if (ec) {
                    self->eof_ = true;
                    if (!self->writing_) self->finish();
                    return;
                }
                self->queue_.push_back(
                    {Clock::now() + self->delay_,
                     std::vector<char>(self->buffer_.begin(), self->buffer_.begin() + n)});
                if (!self->writing_) self->write_next();
                self->read();
            });
    }

    void write_next() {
        if (queue_.empty()) {
            writing_ = false;
            if (eof_) finish();
            return;
        }
        writing_ = true;
        timer_.expires_at(queue_.front().first);
        timer_.async_wait([self = shared_from_this()](boost::system::error_code) {
            asio::async_write(*self->to_, asio::buffer(self->queue_.front().second),
                              [self](boost::system::error_code ec, std::size_t) {
                                  if (ec) return self->finish();
                                  self->queue_.pop_front();
                                  self->write_next();
                              });
        });
    }

    void finish() {
        boost::system::error_code ignored;
        to_->shutdown(tcp::socket::shutdown_send, ignored);
        from_->shutdown(tcp::socket::shutdown_receive, ignored);
    }

    std::shared_ptr<tcp::socket> from_;
    std::shared_ptr<tcp::socket> to_;
    std::chrono::microseconds delay_;
    asio::steady_timer timer_;
    std::array<char, 64 << 10> buffer_;
    std::deque<std::pair<Clock::time_point, std::vector<char>>> queue_;
    bool writing_ = false;
    bool eof_ = false;
};

}  // namespace

struct DelayRelay::Impl {
    asio::io_context ioc{1};
    tcp::acceptor acceptor{ioc};
    tcp::endpoint upstream;
    std::chrono::microseconds delay{0};
    std::thread thread;

    void accept() {
        acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
            if (ec) return;
            auto client = std::make_shared<tcp::socket>(std::move(socket));
            auto server = std::make_shared<tcp::socket>(ioc);
            server->async_connect(upstream, [this, client, server](boost::system::error_code ec) {
                if (ec) return;
                client->set_option(tcp::no_delay(true));
                server->set_option(tcp::no_delay(true));
                std::make_shared<Pipe>(client, server, delay)->start();
                std::make_shared<Pipe>(server, client, delay)->start();
            });
            accept();
        });
    }
};

DelayRelay::DelayRelay(const std::string& upstream_host, std::uint16_t upstream_port,
                       std::chrono::microseconds one_way_delay)
    : impl_(std::make_unique<Impl>()) {
    tcp::resolver resolver(impl_->ioc);
    impl_->upstream = *resolver.resolve(upstream_host, std::to_string(upstream_port)).begin();
    impl_->delay = one_way_delay;
    const tcp::endpoint local(asio::ip::make_address("127.0.0.1"), 0);
    impl_->acceptor.open(local.protocol());
    impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
    impl_->acceptor.bind(local);
    impl_->acceptor.listen();
    impl_->accept();
    impl_->thread = std::thread([impl = impl_.get()] { impl->ioc.run(); });
}

DelayRelay::~DelayRelay() {
    impl_->ioc.stop();
    impl_->thread.join();
}

std::uint16_t DelayRelay::port() const {
    return impl_->acceptor.local_endpoint().port();
}

}  // namespace faceswap::server
