// A TCP relay that holds every chunk of data for a fixed time in each direction, so that a
// loopback connection behaves like one with a long round trip (2 x one_way_delay) but ample
// bandwidth: data keeps flowing while earlier chunks wait, as on a real long link. Used by
// faceswap-loadgen --delay-ms to compare pipelined and blocking clients.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace faceswap::server {

class DelayRelay {
  public:
    // Listens on 127.0.0.1 (any free port) and forwards each connection to upstream.
    DelayRelay(const std::string& upstream_host, std::uint16_t upstream_port,
               std::chrono::microseconds one_way_delay);
    ~DelayRelay();
    DelayRelay(const DelayRelay&) = delete;
    DelayRelay& operator=(const DelayRelay&) = delete;

    std::uint16_t port() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace faceswap::server
