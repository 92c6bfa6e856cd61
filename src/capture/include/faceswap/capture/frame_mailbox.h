// The hand-over point between a capture thread and its readers (the preview and the swap
// backend): it holds only the newest frame. A reader that falls behind skips frames instead of
// queueing them, so latency never grows with time; the sequence numbers tell how many it missed.
// No Qt here: the live sources, the backends and the tests all use it.
#pragma once

#include <opencv2/core.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

#include "faceswap/clock.h"

namespace faceswap::capture {

struct CapturedFrame {
    cv::Mat bgr;                  // 8-bit BGR, owned by this frame and never written again
    std::int64_t sequence = 0;    // 1, 2, 3... per mailbox, given by publish()
    std::int64_t capture_us = 0;  // faceswap::clock::now_us(): steady clock, microseconds
    double media_time_s = -1.0;   // seconds since the source started (monotonic across loops)
};
using FramePtr = std::shared_ptr<const CapturedFrame>;

class FrameMailbox {
  public:
    // Stores the frame as the newest, numbering it; earlier frames nobody took are gone.
    std::int64_t publish(cv::Mat bgr, std::int64_t capture_us, double media_time_s);
    FramePtr latest() const;
    // Waits for a frame with sequence > after (or close()); null on timeout or when closed.
    FramePtr wait_newer(std::int64_t after, std::chrono::milliseconds timeout) const;
    // Wakes every waiter and makes wait_newer() return null from then on.
    void close();
    std::int64_t published() const;

  private:
    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    FramePtr newest_;
    std::int64_t next_sequence_ = 1;
    bool closed_ = false;
};

}  // namespace faceswap::capture
