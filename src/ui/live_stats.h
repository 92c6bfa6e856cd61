// What the status bar shows, measured where the user sees it: frames that reached the screen
// per second, and capture-to-display latency percentiles over the most recent frames.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <vector>

#include "faceswap/stats.h"

namespace faceswap::ui {

struct StatsSnapshot {
    double fps = 0;
    double latency_p50_ms = 0, latency_p95_ms = 0, latency_max_ms = 0;
    std::int64_t frames = 0;  // displayed since reset()
};

class LiveStats {
  public:
    explicit LiveStats(std::size_t window = 300) : window_(window) {}

    // A frame captured at capture_us was painted at now_us (both steady clock).
    void record(std::int64_t capture_us, std::int64_t now_us) {
        ++frames_;
        shown_at_.push_back(now_us);
        while (shown_at_.size() > 2 && now_us - shown_at_.front() > 2'000'000)
            shown_at_.pop_front();
        if (capture_us > 0) {
            latencies_ms_.push_back((now_us - capture_us) / 1000.0);
            if (latencies_ms_.size() > window_) latencies_ms_.pop_front();
        }
        if (first_us_ == 0) first_us_ = now_us;
        last_us_ = now_us;
    }

    StatsSnapshot snapshot(std::int64_t now_us) const {
        StatsSnapshot s;
        s.frames = frames_;
        // Rate over the last two seconds; zero once frames stop arriving.
        if (shown_at_.size() >= 2 && now_us - shown_at_.back() < 1'000'000)
            s.fps = (shown_at_.size() - 1) * 1e6 /
                    static_cast<double>(shown_at_.back() - shown_at_.front());
        if (!latencies_ms_.empty()) {
            const stats::Summary latency =
                stats::summarize({latencies_ms_.begin(), latencies_ms_.end()});
            s.latency_p50_ms = latency.p50;
            s.latency_p95_ms = latency.p95;
            s.latency_max_ms = latency.max;
        }
        return s;
    }

    // Mean rate between the first and the last frame since reset() (the benchmark's figure).
    double mean_fps() const {
        return frames_ > 1 && last_us_ > first_us_ ? (frames_ - 1) * 1e6 / (last_us_ - first_us_)
                                                   : 0;
    }

    void reset() { *this = LiveStats(window_); }

  private:
    std::size_t window_;
    std::int64_t frames_ = 0;
    std::int64_t first_us_ = 0, last_us_ = 0;
    std::deque<std::int64_t> shown_at_;
    std::deque<double> latencies_ms_;
};

}  // namespace faceswap::ui
