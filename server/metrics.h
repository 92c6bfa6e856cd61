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
    kReplaced,    // a newer frame of the same session arrived before the engine took this one
                  // (the client gets a "skipped" notice)
    kOverflow,    // a result queue over its bound (a client that does not read)
    kDraining,    // arrived after SIGTERM
    kClosed,      // its session closed before the result could be sent
    kOverWindow,  // beyond the client's max_in_flight: answered "skipped" without decoding
    kOverRate,    // faster than limits.max_frame_rate: answered "skipped" without decoding
    kCount,
};

// Connections and requests refused by a limit (docs/hardening.md, "Limits"), beside the
// protocol errors a session gets.
enum class Refusal {
    kMaxConnections,  // limits.max_connections open already (closed at accept)
    kPerAddress,      // limits.max_connections_per_address from that address (closed at accept)
    kMaxSessions,     // server.max_sessions WebSocket sessions open (HTTP 503 at the upgrade)
    kDraining,        // SIGTERM: new sessions get HTTP 503
    kHeaderTimeout,   // a request header not complete within server.handshake_timeout_s
    kHeaderTooLarge,  // a request header over 16 KiB (HTTP 431)
    kHelloTimeout,    // no hello within server.handshake_timeout_s after the upgrade
    kIdleTimeout,     // a session that answered no ping for server.idle_timeout_s
    kCount,
};
const char* refusal_name(Refusal refusal);

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
    std::array<std::atomic<std::uint64_t>, static_cast<int>(Refusal::kCount)> refusals{};
    std::array<std::atomic<std::int64_t>, static_cast<int>(Refusal::kCount)> refusal_logged_s{};
    std::atomic<std::int64_t> connections_open{0};  // TCP connections, HTTP and WebSocket
    // Counts the refusal; true when it should also be logged (at most once a second per
    // reason, so a flood of refusals cannot flood the log).
    bool count_refusal(Refusal refusal);
    std::string render() const;
};

}  // namespace faceswap::server
