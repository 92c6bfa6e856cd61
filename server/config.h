// faceswap-server settings: defaults here, then a TOML file (--config), then command-line flags.
// docs/server.md lists every key.
#pragma once

#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace faceswap::server {

struct ServerConfig {
    // [server]
    // Loopback by default: serving a network needs a tokens file or allow_anonymous (validate).
    std::string address = "127.0.0.1";
    std::uint16_t port = 8080;  // 0 = any free port (printed at start)
    int io_threads = 2;         // network threads; inference has its own thread
    int max_sessions = 16;
    int handshake_timeout_s = 10;  // upgrade, and the hello after it
    int idle_timeout_s = 30;       // a silent client (keep-alive pings unanswered) is dropped
    int drain_timeout_s = 10;      // SIGTERM: the longest wait for frames in flight

    // [limits]
    std::uint32_t max_frame_bytes = 4u << 20;
    std::uint16_t max_width = 3840;
    std::uint16_t max_height = 2160;
    int max_in_flight = 6;  // frames per session the client may have unanswered
    std::int64_t max_model_bytes = std::int64_t{1} << 30;  // largest model upload (PUT)
    // Open TCP connections (HTTP and WebSocket) in all, and from one client address; 0 = no
    // limit. Over either, a new connection is closed at accept. Behind a proxy every client has
    // the proxy's address: raise the per-address limit there (docs/hardening.md).
    int max_connections = 1024;
    int max_connections_per_address = 64;
    // Results waiting to be written to one session: past this many bytes the oldest unsent
    // one goes (a client that stops reading cannot grow the server's memory).
    std::int64_t max_queued_bytes = std::int64_t{32} << 20;
    // Frames one session may have decoded per second (a token bucket: a burst of max_in_flight
    // or a tenth of a second's worth); the newest faster one waits undecoded, the ones it
    // supersedes are answered "skipped" without decoding. 0 = no limit. A camera sends
    // 30-60; a flood of frames would otherwise cost a JPEG decode each.
    int max_frame_rate = 120;

    // [engine]
    std::string engine = "faceswap";       // "faceswap", or "none" (pass-through: transport only)
    std::string model_dir;                 // detector and landmark nets; empty = the usual search
    std::vector<std::string> swap_models;  // model files; a model's id is its file stem
    std::string swap_model_dir;  // every *.fsmodel in it is served too; uploads and pulls go here
    // Pulled into swap_model_dir at start-up, before /readyz turns ready; "#sha256=HEX" at the
    // end pins (and caches by) the content.
    std::vector<std::string> model_urls;
    std::string model_url_ca;          // PEM CA bundle for https model URLs (default: system's)
    std::string model_url_token_file;  // its first token is sent to model URLs (Bearer)
    std::string device = "auto";       // auto, cpu or cuda
    std::string precision = "auto";    // auto, fp32 or bf16 (EngineConfig::precision)
    int cpu_threads = 0;               // 0 = all cores

    // [scheduler]
    int batch_size = 8;     // at most this many sessions' frames in one batched engine pass
    int batch_wait_ms = 0;  // how long an idle device waits to fill a batch
    // The engine time one stage may spend on a batch (SwapPipeline's latency budget): on a CPU
    // it keeps batches at one frame, on a GPU they grow to batch_size. 0 = no budget.
    int batch_latency_ms = 60;
    int stages = 2;  // 2: decode+merge overlap the next batch's analysis; 1: one stage

    // [auth]
    std::string tokens_file;  // one token per line; empty = no authentication
    // Serve anyone who connects on a non-loopback address, without a token. Off by default:
    // without it, listening beyond loopback needs tokens_file.
    bool allow_anonymous = false;

    // [tls]
    std::string tls_cert;  // PEM; with tls_key, the port speaks only TLS (wss://, https://)
    std::string tls_key;

    void validate() const;  // throws ConfigError naming the key
    // What validate() cannot see in the settings alone: beyond loopback, a tokens file that is
    // named but missing (a container started without its secret) is refused like no tokens.
    void validate_files() const;
};

class ConfigError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Overlays the keys of a TOML file onto config. Unknown keys are refused (a typo must not
// silently fall back to a default). Throws ConfigError.
void load_config_file(const std::string& path, ServerConfig& config);

// The tokens a server accepts. Every token may stream and read (list, download) models; only
// those with the `models` right may upload and delete them.
struct Tokens {
    std::set<std::string> all;
    std::set<std::string> models;  // a subset of all
    bool empty() const { return all.empty(); }
};

// Reads a tokens file: one token per line, optionally followed by its rights ("models"), blank
// lines and '#' comments ignored:
//   3f9c...e1             a client: streams, lists and downloads models
//   7a0b...42 models      also uploads and deletes models
Tokens load_tokens(const std::string& path);

// Whether `token` is one of `tokens`, in time that does not depend on where a guess first
// differs from a real token (each comparison is over SHA-256 digests, constant-time).
bool token_accepted(const std::set<std::string>& tokens, const std::string& token);

// 127.0.0.0/8, ::1 and "localhost": addresses only this machine can reach.
bool is_loopback_address(const std::string& address);

}  // namespace faceswap::server
