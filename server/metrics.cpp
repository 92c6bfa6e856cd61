#include "metrics.h"

#include <chrono>
#include <iterator>

#include <cmath>
#include <sstream>

namespace faceswap::server {
namespace {

std::string number(double value) {
    std::ostringstream out;
    out << value;
    return out.str();
}

void add_metric(std::string& out, const char* type, const std::string& name,
                const std::string& help) {
    out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

// Latency buckets from sub-millisecond (decode, encode) to a slow CPU engine.
std::vector<double> latency_bounds() {
    return {0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 250, 500, 1000};
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), buckets_(bounds_.size()) {}

void Histogram::observe(double value) {
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
        if (value <= bounds_[i]) {
            ++buckets_[i];
            break;
        }
    }
    ++count_;
    sum_micro_ += static_cast<std::uint64_t>(std::llround(std::max(0.0, value) * 1e6));
}

void Histogram::render(const std::string& name, const std::string& help, std::string& out) const {
    add_metric(out, "histogram", name, help);
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
        cumulative += buckets_[i];
        out += name + "_bucket{le=\"" + number(bounds_[i]) + "\"} " + std::to_string(cumulative) +
               "\n";
    }
    const std::uint64_t count = count_;
    out += name + "_bucket{le=\"+Inf\"} " + std::to_string(count) + "\n";
    out += name + "_sum " + number(sum_micro_ / 1e6) + "\n";
    out += name + "_count " + std::to_string(count) + "\n";
}

ServerMetrics::ServerMetrics()
    : decode_ms(latency_bounds()),
      queue_ms(latency_bounds()),
      engine_ms(latency_bounds()),
      encode_ms(latency_bounds()),
      server_ms(latency_bounds()),
      batch_size({1, 2, 3, 4, 6, 8, 12, 16, 32}) {}

const char* refusal_name(Refusal refusal) {
    switch (refusal) {
        case Refusal::kMaxConnections:
            return "max_connections";
        case Refusal::kPerAddress:
            return "max_connections_per_address";
        case Refusal::kMaxSessions:
            return "max_sessions";
        case Refusal::kDraining:
            return "draining";
        case Refusal::kHeaderTimeout:
            return "header_timeout";
        case Refusal::kHeaderTooLarge:
            return "header_too_large";
        case Refusal::kHelloTimeout:
            return "hello_timeout";
        case Refusal::kIdleTimeout:
            return "idle_timeout";
        case Refusal::kCount:
            break;
    }
    return "?";
}

bool ServerMetrics::count_refusal(Refusal refusal) {
    const int i = static_cast<int>(refusal);
    ++refusals[i];
    const std::int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count();
    std::int64_t last = refusal_logged_s[i].load();
    return last != now_s && refusal_logged_s[i].compare_exchange_strong(last, now_s);
}

std::string ServerMetrics::render() const {
    std::string out;
    auto gauge = [&](const char* name, const char* help, std::int64_t value) {
        add_metric(out, "gauge", name, help);
        out += std::string(name) + " " + std::to_string(value) + "\n";
    };
    auto counter = [&](const char* name, const char* help, std::uint64_t value) {
        add_metric(out, "counter", name, help);
        out += std::string(name) + " " + std::to_string(value) + "\n";
    };
    gauge("faceswap_sessions", "WebSocket sessions open now", sessions_active);
    counter("faceswap_sessions_total", "WebSocket sessions accepted", sessions_total);
    counter("faceswap_frames_in_total", "frames received and decoded", frames_in);
    counter("faceswap_frames_out_total", "results sent", frames_out);
    add_metric(out, "counter", "faceswap_frames_dropped_total", "frames not answered, by reason");
    const char* reasons[] = {"replaced", "overflow",    "draining",
                             "closed",   "over_window", "over_rate"};
    static_assert(std::size(reasons) == static_cast<std::size_t>(DropReason::kCount));
    for (int i = 0; i < static_cast<int>(DropReason::kCount); ++i)
        out += std::string("faceswap_frames_dropped_total{reason=\"") + reasons[i] + "\"} " +
               std::to_string(frames_dropped[i].load()) + "\n";
    add_metric(out, "counter", "faceswap_protocol_errors_total",
               "clients refused with an error message, by code");
    for (int i = 0; i < net::kProtocolErrorCodeCount; ++i)
        out += std::string("faceswap_protocol_errors_total{code=\"") +
               net::error_name(static_cast<net::ProtocolErrorCode>(i)) + "\"} " +
               std::to_string(errors[i].load()) + "\n";
    gauge("faceswap_connections", "TCP connections open now (HTTP and WebSocket)",
          connections_open);
    add_metric(out, "counter", "faceswap_refusals_total",
               "connections and requests refused by a limit, by reason (docs/hardening.md)");
    for (int i = 0; i < static_cast<int>(Refusal::kCount); ++i)
        out += std::string("faceswap_refusals_total{reason=\"") +
               refusal_name(static_cast<Refusal>(i)) + "\"} " + std::to_string(refusals[i].load()) +
               "\n";
    gauge("faceswap_queue_depth", "frames waiting for the inference scheduler", queue_depth);
    counter("faceswap_http_requests_total", "plain HTTP requests (health, metrics)", http_requests);
    counter("faceswap_model_downloads_total", "model files (or ranges of them) sent",
            model_downloads);
    add_metric(out, "counter", "faceswap_model_uploads_total", "model uploads, by outcome");
    out += "faceswap_model_uploads_total{result=\"installed\"} " +
           std::to_string(model_uploads_installed.load()) + "\n";
    out += "faceswap_model_uploads_total{result=\"refused\"} " +
           std::to_string(model_uploads_refused.load()) + "\n";
    decode_ms.render("faceswap_decode_ms", "JPEG decode per frame, ms", out);
    queue_ms.render("faceswap_queue_ms", "wait for the inference scheduler per frame, ms", out);
    engine_ms.render("faceswap_engine_ms", "engine time per frame, ms", out);
    encode_ms.render("faceswap_encode_ms", "JPEG encode per result, ms", out);
    server_ms.render("faceswap_server_ms", "frame read to result queued, ms", out);
    batch_size.render("faceswap_batch_size", "frames per scheduler batch", out);
    return out;
}

}  // namespace faceswap::server
