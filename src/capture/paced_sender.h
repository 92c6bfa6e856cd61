// The part every live output shares (the MPEG-TS stream, the v4l2loopback camera): the newest
// pushed frame is sent at a steady rate from a thread of its own, the last one repeated while no
// newer one came, so the producer (the swap) never waits for the output and the consumer never
// sees the picture stop. The visible AI-generated mark is drawn here, once per new swapped frame,
// and the invisible watermark added (always: docs/provenance.md).
#pragma once

#include <opencv2/core.hpp>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "faceswap/capture/stream_output.h"
#include "faceswap/capture/watermark.h"

namespace faceswap::capture {

class PacedSender {
  public:
    // send() writes one frame (width x height BGR) to the sink; it returns "" or, when the sink
    // failed, why (one line): sending then stops and error() returns it. It may poll stopping()
    // to give up a blocked write.
    using Send = std::function<std::string(const cv::Mat& frame)>;
    PacedSender(int width, int height, double fps, bool mark, std::uint32_t watermark_payload,
                Send send);
    ~PacedSender();  // stop()
    PacedSender(const PacedSender&) = delete;
    PacedSender& operator=(const PacedSender&) = delete;

    // Scaled to width x height; never blocks. A frame that is not `generated` (the camera while
    // nothing is swapped) is sent unmarked.
    void push(const cv::Mat& bgr, bool generated = true);
    bool stopping() const;
    std::string error() const;
    StreamCounters counters() const;
    void stop();  // joins the sending thread

  private:
    void run();

    const int width_, height_;
    const double fps_;
    const bool mark_;
    const std::uint32_t watermark_payload_;
    const Watermark watermark_;  // used on the sending thread only (it caches the pattern)
    const Send send_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    cv::Mat newest_;  // pushed, not yet sent
    bool newest_generated_ = false;
    bool stopping_ = false;
    std::string error_;
    StreamCounters counters_;
    std::thread thread_;
};

}  // namespace faceswap::capture
