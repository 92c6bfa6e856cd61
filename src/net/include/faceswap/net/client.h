// The remote-mode client: streams JPEG frames to a faceswap server over one WebSocket and
// delivers the swapped frames back, pipelined.
//
//   faceswap::net::ClientConfig config;
//   config.url = "ws://gpu-box:8080/";
//   config.token = "...";
//   faceswap::net::Client client(config,
//       [](faceswap::net::ResultFrame&& result) { /* decode result.jpeg, show it */ },
//       [](const faceswap::net::ClientEvent& event) { /* show event.state, event.detail */ });
//   client.start();
//   client.submit_bgr(pixels, 640, 480, 640 * 3);   // from the capture thread, at camera rate
//
// Throughput is never bounded by round-trip time: up to max_in_flight frames travel at once.
// Latency never grows with time: when the window is full a submitted frame waits in a one-frame
// slot, and a newer frame replaces it (counted as dropped); the server likewise works on a
// session's newest frame only and answers a superseded one with a "skipped" notice, which frees
// its window slot at once. A lost connection is re-established
// with exponential backoff and jitter; frames in flight at that moment count as lost.
//
// Threading: the client runs its own network thread. submit_*(), stats(), state() may be called
// from any thread. Callbacks run on the network thread (keep them short: hand the data over);
// none runs after stop() or the destructor returns. No Boost, Qt or Torch type appears here.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "faceswap/net/protocol.h"
#include "faceswap/stats.h"

namespace faceswap::net {

enum class ClientState {
    kStopped,       // not started, or stopped
    kConnecting,    // TCP, TLS, upgrade, hello/welcome
    kConnected,     // welcome received, streaming
    kReconnecting,  // waiting out the backoff after a failure or a server close
    kFailed,        // the server refused us for good (token, model, version): no retry
};
const char* state_name(ClientState state);

struct ClientConfig {
    std::string url = "ws://127.0.0.1:8080/";  // ws:// or wss://, path optional
    std::string token;
    std::string model = "demo";
    Direction direction = Direction::kAToB;
    int quality = 85;   // JPEG quality of the server's replies, and of submit_bgr()
    FaceDetail detail;  // the hello's detail settings
    FaceChoice faces;   // the hello's face choice (whose faces the server swaps)
    // This client adds the invisible watermark to what it outputs, so the server must not (the
    // hello's "watermark": "client"); false: the server marks the results, as for the browser.
    bool client_marks = true;
    // Frames travelling at once; lowered to the server's limit when its welcome says less.
    // Enough to cover the round trip at camera rate plus the frame the server is working on and
    // the one waiting: the server answers superseded frames with "skipped", so a larger window
    // keeps its waiting frame fresh rather than letting frames queue up.
    int max_in_flight = 6;

    std::chrono::milliseconds connect_timeout{5000};  // TCP + TLS + upgrade + welcome
    // A frame unanswered this long is written off as lost, so that a frame the server dropped
    // cannot hold a window slot for ever.
    std::chrono::milliseconds frame_timeout{5000};
    std::chrono::seconds idle_timeout{20};  // silent server (keep-alive pings unanswered)
    bool reconnect = true;
    std::chrono::milliseconds reconnect_initial{250};  // first backoff, doubled per failure
    std::chrono::milliseconds reconnect_max{5000};

    // wss:// only: verify the server's certificate against this CA file (PEM), or against the
    // system's store when empty; tls_verify = false accepts any certificate (tests, LAN).
    std::string tls_ca_file;
    bool tls_verify = true;

    std::size_t latency_samples = 8192;  // the most recent samples kept for percentiles
};

// A swapped frame as it came back.
struct ResultFrame {
    std::uint64_t frame_id = 0;
    std::int64_t capture_timestamp_us = 0;  // as submitted
    int width = 0;
    int height = 0;
    std::vector<std::uint8_t> jpeg;  // decode with JpegCodec
    ResultInfo server;               // the server's stage timings and face count
    double rtt_ms = 0;               // from the frame's write to its reply
    double e2e_ms = 0;               // from its capture timestamp to its reply
};

using LatencySummary = stats::Summary;  // count, mean, p50, p95, p99, max (faceswap/stats.h)

struct ClientStats {
    std::uint64_t submitted = 0;
    std::uint64_t sent = 0;
    std::uint64_t received = 0;
    std::uint64_t dropped = 0;   // replaced in the slot by a newer frame before being sent
    std::uint64_t skipped = 0;   // sent, but superseded at the server by a newer frame
    std::uint64_t lost = 0;      // sent but never answered (timeout or connection lost)
    std::uint64_t errors = 0;    // error messages from the server, failed connects
    std::uint64_t connects = 0;  // welcomes received
    int in_flight = 0;
    LatencySummary rtt_ms;
    LatencySummary e2e_ms;
};

struct ClientEvent {
    ClientState state = ClientState::kStopped;
    std::string detail;  // why: an error text, a close reason, the backoff
    // The server's refusal, when the change was caused by an error message.
    std::optional<ProtocolErrorCode> error;
    std::uint16_t close_code = 0;  // the server's close code, when it closed the connection
};

class Client {
  public:
    using ResultCallback = std::function<void(ResultFrame&&)>;
    using EventCallback = std::function<void(const ClientEvent&)>;

    // Throws std::invalid_argument for a malformed URL or config.
    explicit Client(ClientConfig config, ResultCallback on_result = {},
                    EventCallback on_event = {});
    ~Client();  // stop()
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    void start();  // connects in the background
    // Closes the connection (1000 normal), joins the network thread. Frames not yet answered
    // are abandoned. No callback runs after this returns.
    void stop();

    // Queues a JPEG frame of width x height. capture_timestamp_us < 0 means now
    // (faceswap::clock::now_us()). Returns the frame id it will carry.
    std::uint64_t submit_jpeg(std::vector<std::uint8_t> jpeg, int width, int height,
                              std::int64_t capture_timestamp_us = -1);
    // Encodes 8-bit BGR pixels at config.quality on the calling thread, then submit_jpeg().
    std::uint64_t submit_bgr(const std::uint8_t* bgr, int width, int height, int stride_bytes,
                             std::int64_t capture_timestamp_us = -1);

    ClientState state() const;
    ClientStats stats() const;
    // True when a frame submitted now would go out at once: connected, the window has room and
    // no frame waits in the slot. A source that prefers waiting to dropping submits only then.
    bool ready_for_frame() const;
    std::optional<Welcome> welcome() const;  // of the current connection
    void reset_stats();

  private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace faceswap::net
