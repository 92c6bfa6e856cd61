#include "connection_limits.h"

namespace faceswap::server {

std::shared_ptr<void> ConnectionLimits::admit(const std::string& address, Verdict& verdict) {
    {
        std::lock_guard lock(mu_);
        if (max_total_ > 0 && total_ >= max_total_) {
            verdict = Verdict::kTooManyConnections;
            return nullptr;
        }
        int& from_address = per_address_[address];
        if (max_per_address_ > 0 && from_address >= max_per_address_) {
            verdict = Verdict::kTooManyFromAddress;
            return nullptr;
        }
        ++from_address;
        ++total_;
    }
    if (gauge_) ++*gauge_;
    verdict = Verdict::kAdmitted;
    // A token, not an object: it points at the limits (never deleted through it) and its
    // deleter only gives the slot back.
    return std::shared_ptr<void>(this, [this, address](void*) { release(address); });
}

void ConnectionLimits::release(const std::string& address) {
    if (gauge_) --*gauge_;
    std::lock_guard lock(mu_);
    --total_;
    const auto it = per_address_.find(address);
    if (it != per_address_.end() && --it->second <= 0) per_address_.erase(it);
}

int ConnectionLimits::open() const {
    std::lock_guard lock(mu_);
    return total_;
}

int ConnectionLimits::open_from(const std::string& address) const {
    std::lock_guard lock(mu_);
    const auto it = per_address_.find(address);
    return it == per_address_.end() ? 0 : it->second;
}

}  // namespace faceswap::server
