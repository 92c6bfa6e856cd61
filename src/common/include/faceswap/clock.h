// One clock for the whole project: the steady clock, in the units the code passes around.
// Capture timestamps, latencies and stage timings all come from it, so any two of them can be
// subtracted (a capture time taken by the camera thread and a result time on the GUI thread).
#pragma once

#include <chrono>
#include <cstdint>

namespace faceswap::clock {

using Clock = std::chrono::steady_clock;

// Microseconds on the steady clock: the time base of FramePtr::capture_us and the wire
// protocol's capture timestamps.
inline std::int64_t now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
        .count();
}

inline double ms_between(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration<double, std::milli>(to - from).count();
}

inline double ms_since(Clock::time_point start) {
    return ms_between(start, Clock::now());
}

}  // namespace faceswap::clock
