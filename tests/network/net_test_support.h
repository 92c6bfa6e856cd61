// Helpers for the network tests: real frames from franck.mp4 as JPEGs, an in-process server
// on 127.0.0.1 with an ephemeral port, and bounded waiting.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "config.h"
#include "server.h"
#include "test_support.h"

namespace faceswap::test {

struct JpegFrame {
    std::vector<std::uint8_t> jpeg;
    std::vector<std::uint8_t> bgr;  // what was encoded, for comparisons
    int width = 0;
    int height = 0;
};

// The first `count` frames of franck.mp4 (360x288, or resized), JPEG at quality 90.
const std::vector<JpegFrame>& video_frames(int count = 48, int width = 0, int height = 0);

// A config for tests: 127.0.0.1, port 0, pass-through engine serving "demo", short timeouts.
server::ServerConfig test_server_config();

// An in-process server; its port is known after construction.
class TestServer {
  public:
    explicit TestServer(server::ServerConfig config = test_server_config(),
                        std::shared_ptr<server::ProcessorFactory> factory = nullptr);
    std::uint16_t port() const { return port_; }
    std::string url() const { return "ws://127.0.0.1:" + std::to_string(port_) + "/"; }
    server::Server& server() { return *server_; }

  private:
    std::unique_ptr<server::Server> server_;
    std::uint16_t port_ = 0;
};

// A plain HTTP GET to 127.0.0.1:port (health, readiness, metrics): status and body.
std::pair<int, std::string> http_get(std::uint16_t port, const std::string& target);
// The status a GET answers with; nullopt while nothing answers (refused, reset): for polling
// a server, nginx or a container that is still starting.
std::optional<int> http_status(std::uint16_t port, const std::string& target);
// Any request with headers and a body, answered with its status and body.
std::pair<int, std::string> http_exchange(
    std::uint16_t port, const std::string& method, const std::string& target,
    const std::vector<std::pair<std::string, std::string>>& headers, const std::string& body);

// A self-signed certificate for 127.0.0.1 (openssl), written as cert.pem and key.pem into dir.
struct TestCertificate {
    std::string cert, key;  // PEM file paths
};
TestCertificate make_test_certificate(const std::string& dir);

// Sets `flag` to false and joins `thread` when the scope ends (a feeding or sampling thread that
// runs while `flag` is true), whichever way the test leaves it.
struct StopAndJoin {
    std::atomic<bool>& flag;
    std::thread& thread;
    ~StopAndJoin() {
        flag = false;
        thread.join();
    }
};

// Polls until the predicate holds or the timeout passes; returns the predicate's last value.
bool wait_until(const std::function<bool()>& predicate,
                std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Mean absolute difference per byte of two equally sized images, over a rectangle (or all).
double mean_abs_diff(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b,
                     int width, int x0 = 0, int y0 = 0, int x1 = -1, int y1 = -1);

}  // namespace faceswap::test

namespace faceswap::test {

// The faceswap-server binary as a child process (so that it can be killed with SIGKILL).
class ServerProcess {
  public:
    // Starts it with the flags; waits for its "listening on port N" line.
    explicit ServerProcess(const std::vector<std::string>& args);
    // The same for another program that prints that line: an installed faceswap-server, or a
    // command that execs one (setpriv, env), so that the pid stays the server's.
    ServerProcess(const std::string& program, const std::vector<std::string>& args);
    ~ServerProcess();  // SIGKILL if still running
    std::uint16_t port() const { return port_; }
    int pid() const { return pid_; }
    void kill_hard();  // SIGKILL, then reaps it
    int terminate();   // SIGTERM, waits; returns the exit status

  private:
    int pid_ = -1;
    int stdout_fd_ = -1;
    std::uint16_t port_ = 0;
};

}  // namespace faceswap::test

namespace faceswap::test {

// A PipeWire session of the test's own: pipewire and wireplumber (which links streams to their
// targets) on a private runtime directory and a private D-Bus session bus, killed at the end.
class PipeWireSession {
  public:
    PipeWireSession();  // waits until wireplumber is a client of the daemon
    ~PipeWireSession();
    PipeWireSession(const PipeWireSession&) = delete;
    PipeWireSession& operator=(const PipeWireSession&) = delete;
    // "XDG_RUNTIME_DIR=..." for commands that are to use this session.
    const std::string& env() const { return env_; }
    std::string runtime_dir() const { return dir_.path().string(); }
    // pw-cli's listing of the objects of a type ("Node", "Client").
    std::string listing(const std::string& type) const;

  private:
    TempDir dir_;
    std::string env_;
    int pid_ = -1;
};

}  // namespace faceswap::test
