// Open connections, in all and per client address, counted while they last (HTTP requests and
// WebSocket sessions alike): what faceswap-server admits at accept (docs/hardening.md, "Limits").
// Beast-free, so it is unit-tested on its own.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace faceswap::server {

class ConnectionLimits {
  public:
    // 0 for either limit: none. open_gauge, when given, follows the count (a metric).
    ConnectionLimits(int max_total, int max_per_address,
                     std::atomic<std::int64_t>* open_gauge = nullptr)
        : max_total_(max_total), max_per_address_(max_per_address), gauge_(open_gauge) {}

    enum class Verdict { kAdmitted, kTooManyConnections, kTooManyFromAddress };

    // A slot that frees itself when the last copy goes (the connection's objects hold it);
    // nullptr when refused, with the reason in verdict.
    std::shared_ptr<void> admit(const std::string& address, Verdict& verdict);

    int open() const;
    int open_from(const std::string& address) const;

  private:
    void release(const std::string& address);

    const int max_total_, max_per_address_;
    std::atomic<std::int64_t>* gauge_;
    mutable std::mutex mu_;
    int total_ = 0;
    std::unordered_map<std::string, int> per_address_;
};

}  // namespace faceswap::server
