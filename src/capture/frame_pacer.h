// Releases frames at a steady rate: sleeps until each frame's due time; after a stall it
// carries on from now instead of bursting to catch up (a live source never queues frames).
#pragma once

#include <chrono>
#include <thread>

namespace faceswap::capture {

class FramePacer {
  public:
    using clock = std::chrono::steady_clock;
    explicit FramePacer(double fps)
        : period_(std::chrono::duration_cast<clock::duration>(
              std::chrono::duration<double>(1.0 / fps))),
          next_due_(clock::now()) {}

    void wait_for_next() {
        const auto now = clock::now();
        if (next_due_ > now)
            std::this_thread::sleep_until(next_due_);
        else if (now - next_due_ > 2 * period_)
            next_due_ = now;
        next_due_ += period_;
    }

  private:
    clock::duration period_;
    clock::time_point next_due_;
};

}  // namespace faceswap::capture
