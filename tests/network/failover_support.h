// Scale-out tests' common parts: nginx (Debian's package) with packaging/nginx/faceswap.conf in
// front of server replicas on 127.0.0.1, clients streaming real video through it, one replica
// killed (SIGKILL) or drained (SIGTERM) mid-stream, and the figures the clients saw. The
// replicas are server processes (test_nginx_failover.cpp) or server containers
// (tests/container).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace faceswap::test {

// A port that was free a moment ago on 127.0.0.1 (for nginx and published container ports).
std::uint16_t free_port();

// A server nginx balances over.
class Replica {
  public:
    virtual ~Replica() = default;
    virtual std::uint16_t port() const = 0;  // on 127.0.0.1
    virtual void kill_hard() = 0;            // SIGKILL: no drain, connections cut
    virtual int terminate() = 0;             // SIGTERM: returns its exit status once drained
};

// nginx in the foreground with its own config, pid file, logs and temp folders; returns once a
// request reaches a replica through it.
class Nginx {
  public:
    Nginx(const std::filesystem::path& dir, const std::vector<std::uint16_t>& replicas);
    ~Nginx();
    Nginx(const Nginx&) = delete;
    Nginx& operator=(const Nginx&) = delete;
    std::uint16_t port() const { return port_; }
    std::string log() const;

  private:
    std::filesystem::path dir_;
    std::uint16_t port_;
    int pid_ = -1;
};

enum class StopKind { kKill, kDrain };

struct FailoverFigures {
    int clients = 0;
    int moved = 0;
    std::vector<double> reconnect_ms;     // replica stopped -> welcome from the other one
    std::vector<double> first_result_ms;  // replica stopped -> first result from the other one
    std::uint64_t lost = 0;     // sent but never answered (in flight, or dropped by a drain)
    std::uint64_t dropped = 0;  // superseded in the client while it was away
};

// Four clients at 30 FPS through nginx over two replicas; replicas[0] is stopped mid-stream.
// Checks that its clients move to replicas[1] through nginx and stream again, that the other
// clients notice nothing, and that a newcomer gets in at once. token: what the clients send.
FailoverFigures run_failover(const std::vector<std::unique_ptr<Replica>>& replicas, StopKind how,
                             const std::string& token = "");

// One line of figures on stdout, for the closing notes and docs/deploy.md.
void report_failover(const std::string& what, const FailoverFigures& figures);

}  // namespace faceswap::test
