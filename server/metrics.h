// Prometheus metrics of the server (text exposition format 0.0.4), lock-free on the hot path:
// counters and histogram buckets are atomics updated from the network threads and the
// inference scheduler, rendered on demand for GET /metrics.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "faceswap/net/protocol.h"

namespace faceswap::server {

class Histogram {
  public:
    explicit Histogram(std::vector<double> upper_bounds);
    void observe(double value);
    // Appends the _bucket, _sum and _count lines of metric `name`.
    void render(const std::string& name, const std::string& help, std::string& out) const;

  private:
    std::vector<double> bounds_;
    std::vector<std::atomic<std::uint64_t>> buckets_;  // cumulative at render time
    std::atomic<std::uint64_t> count_{0};
    std::atomic<std::uint64_t> sum_micro_{0};  // sum in millionths, so it stays an integer
};

enum class DropReason {
    kReplaced,  // a newer frame of the same session arrived before the engine took this one
                // (the client gets a "skipped" notice)
    kOverflow,  // a result queue over its bound (a client that does not read)
    kDraining,  // arrived after SIGTERM
    kClosed,    // its session closed before the result could be sent
    kCount,
};

struct ServerMetrics {
    ServerMetrics();

    std::atomic<std::int64_t> sessions_active{0};
    std::atomic<std::uint64_t> sessions_total{0};
    std::atomic<std::uint64_t> frames_in{0};
    std::atomic<std::uint64_t> frames_out{0};
    std::array<std::atomic<std::uint64_t>, static_cast<int>(DropReason::kCount)> frames_dropped{};
    std::array<std::atomic<std::uint64_t>, net::kProtocolErrorCodeCount> errors{};
    std::atomic<std::int64_t> queue_depth{0};  // frames waiting for the scheduler
    std::atomic<std::uint64_t> http_requests{0};
    // The model API (docs/model-api.md).
    std::atomic<std::uint64_t> model_downloads{0};          // model files (or ranges) sent
    std::atomic<std::uint64_t> model_uploads_installed{0};  // loaded and now served
    std::atomic<std::uint64_t> model_uploads_refused{0};    // any refusal, headers or content

    // Per-stage latencies in milliseconds, and frames per engine batch.
    Histogram decode_ms;
    Histogram queue_ms;
    Histogram engine_ms;
    Histogram encode_ms;
    Histogram server_ms;  // frame read complete -> result queued for writing
    Histogram batch_size;

    void count_drop(DropReason reason) { ++frames_dropped[static_cast<int>(reason)]; }
    void count_error(net::ProtocolErrorCode code) { ++errors[static_cast<int>(code)]; }
    std::string render() const;
};

}  // namespace faceswap::server
