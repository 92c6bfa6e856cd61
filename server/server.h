// faceswap-server: a Boost.Beast WebSocket server that streams frames through the engine for
// many clients at once (docs/server.md, protocol in docs/protocol.md).
//
//   faceswap::server::Server server(config, faceswap::server::make_engine_factory(settings));
//   server.start();            // binds, starts the network threads and the inference scheduler
//   server.handle_signals();   // SIGINT / SIGTERM -> drain()
//   server.wait();
//
// Threading: all methods may be called from any thread. No Boost type appears here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "config.h"
#include "metrics.h"
#include "model_catalog.h"
#include "processor.h"

namespace faceswap::server {

class Server {
  public:
    // Throws ConfigError for an invalid config, a tokens file or TLS files that do not load, or
    // a swap model (config.swap_models, config.swap_model_dir) that does not load.
    Server(ServerConfig config, std::shared_ptr<ProcessorFactory> factory);
    ~Server();  // stop()
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds and listens; returns the port (the chosen one when config.port is 0).
    // Throws std::runtime_error when the address cannot be bound.
    std::uint16_t start();
    void handle_signals();  // SIGINT and SIGTERM start drain()

    // Graceful: stop accepting, answer the frames already received, close every session with
    // 1001 (going away), then stop (at the latest after drain_timeout_s). Returns at once.
    void drain();
    void stop();  // immediate: sockets closed, nothing more answered
    void wait();  // until stopped (after drain() or stop())

    // /readyz answers 503 with `reason` while not ready (start-up work such as --model-url
    // pulls); ready by default.
    void set_ready(bool ready, const std::string& reason = {});
    // The swap models served, for the model API and start-up pulls.
    ModelCatalog& models();

    bool draining() const;
    int sessions() const;
    const ServerMetrics& metrics() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace faceswap::server
