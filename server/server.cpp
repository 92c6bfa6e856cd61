// faceswap-server's listener, start-up, signals and graceful drain. The WebSocket session is in
// session.h, the plain-HTTP side (health, metrics, model API) in http_connection.h.
#include "server.h"

#include <boost/asio/signal_set.hpp>

#include "http_connection.h"
#include "session.h"

namespace faceswap::server {

using namespace detail;

struct Server::Impl {
    Shared shared;
    asio::io_context ioc;
    std::optional<tcp::acceptor> acceptor;
    asio::steady_timer accept_pause{ioc};
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
                    // Out of descriptors (EMFILE, ENFILE) fails again at once: wait a little
                    // instead of spinning, and let connections close meanwhile.
                    spdlog::warn("accept failed: {}; retrying in 100 ms", ec.message());
                    accept_pause.expires_after(std::chrono::milliseconds(100));
                    return accept_pause.async_wait([this](beast::error_code wait_ec) {
                        if (!wait_ec) accept();
                    });
                }
                // Nagle + delayed ACK would add tens of ms to every frame (measured: ~44 ms).
                socket.set_option(tcp::no_delay(true), ec);
                std::string address = "?", peer = "?";
                if (const auto remote = socket.remote_endpoint(ec); !ec) {
                    address = remote.address().to_string();
                    peer = address + ":" + std::to_string(remote.port());
                }
                ConnectionLimits::Verdict verdict;
                auto slot = shared.connections->admit(address, verdict);
                if (!slot) {
                    refuse_at_accept(socket, peer, verdict);
                    return accept();
                }
                if (shared.tls)
                    std::make_shared<HttpConnection<beast::ssl_stream<beast::tcp_stream>>>(
                        shared, std::move(peer), std::move(slot), std::move(socket), *shared.tls)
                        ->run();
                else
                    std::make_shared<HttpConnection<beast::tcp_stream>>(
                        shared, std::move(peer), std::move(slot), std::move(socket))
                        ->run();
                accept();
            });
    }

    // Over limits.max_connections or max_connections_per_address: a plain-HTTP client gets a
    // 503 it can read (one non-blocking write, never waited for); a TLS one only the close.
    void refuse_at_accept(tcp::socket& socket, const std::string& peer,
                          ConnectionLimits::Verdict verdict) {
        const bool per_address = verdict == ConnectionLimits::Verdict::kTooManyFromAddress;
        const Refusal refusal = per_address ? Refusal::kPerAddress : Refusal::kMaxConnections;
        if (shared.metrics.count_refusal(refusal))
            spdlog::warn("{}: connection refused, {} (limit: limits.{})", peer,
                         per_address ? std::to_string(shared.config.max_connections_per_address) +
                                           " open from its address"
                                     : std::to_string(shared.config.max_connections) + " open",
                         refusal_name(refusal));
        beast::error_code ignored;
        if (!shared.tls) {
            static const std::string kBusy =
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: "
                "close\r\nContent-Length: 34\r\n\r\ntoo many connections, retry later\n";
            socket.non_blocking(true, ignored);
            socket.write_some(asio::buffer(kBusy), ignored);
        }
        socket.shutdown(tcp::socket::shutdown_both, ignored);
        socket.close(ignored);
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
    shared.connections = std::make_unique<ConnectionLimits>(
        shared.config.max_connections, shared.config.max_connections_per_address,
        &shared.metrics.connections_open);
    shared.limits.max_payload_bytes = shared.config.max_frame_bytes;
    shared.limits.max_width = shared.config.max_width;
    shared.limits.max_height = shared.config.max_height;
    if (!shared.config.tls_cert.empty()) {
        shared.tls.emplace(asio::ssl::context::tls_server);
        shared.tls->set_options(asio::ssl::context::default_workarounds |
                                asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                                asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
        // TLS 1.2 with forward-secret AEAD suites only (TLS 1.3's suites are all such), the
        // server's order, no renegotiation and no compression.
        SSL_CTX* native = shared.tls->native_handle();
        SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION |
                                        SSL_OP_NO_COMPRESSION);
        SSL_CTX_set_cipher_list(native,
                                "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
                                "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256");
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
    // One scheduling path for every engine (scheduler.h); a pass-through engine has no face
    // models and its streams no swap model.
    SchedulerConfig scheduler;
    scheduler.batch_size = shared.config.batch_size;
    scheduler.batch_wait_ms = shared.config.batch_wait_ms;
    scheduler.batch_latency_ms = shared.config.batch_latency_ms;
    scheduler.stages = shared.config.stages;
    shared.scheduler = std::make_unique<PipelineScheduler>(
        shared.factory->face_models(), shared.factory->engine_config(), scheduler, shared.metrics);
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
    if (impl.shared.tokens.empty() && !is_loopback_address(config.address))
        spdlog::warn("serving anyone who connects to {}:{} without a token (--allow-anonymous)",
                     config.address, port);
    else if (!impl.shared.tokens.empty())
        spdlog::info("{} token(s) accepted, {} of them may change models (from {})",
                     impl.shared.tokens.all.size(), impl.shared.tokens.models.size(),
                     config.tokens_file);
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
