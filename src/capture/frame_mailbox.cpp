#include "faceswap/capture/frame_mailbox.h"
#include "faceswap/clock.h"

namespace faceswap::capture {

std::int64_t FrameMailbox::publish(cv::Mat bgr, std::int64_t capture_us, double media_time_s) {
    auto frame = std::make_shared<CapturedFrame>();
    frame->bgr = std::move(bgr);
    frame->capture_us = capture_us;
    frame->media_time_s = media_time_s;
    std::int64_t sequence;
    {
        std::lock_guard lock(mutex_);
        sequence = frame->sequence = next_sequence_++;
        newest_ = std::move(frame);
    }
    changed_.notify_all();
    return sequence;
}

FramePtr FrameMailbox::latest() const {
    std::lock_guard lock(mutex_);
    return newest_;
}

FramePtr FrameMailbox::wait_newer(std::int64_t after, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout,
                      [&] { return closed_ || (newest_ && newest_->sequence > after); });
    if (closed_ || !newest_ || newest_->sequence <= after) return nullptr;
    return newest_;
}

void FrameMailbox::close() {
    {
        std::lock_guard lock(mutex_);
        closed_ = true;
    }
    changed_.notify_all();
}

std::int64_t FrameMailbox::published() const {
    std::lock_guard lock(mutex_);
    return next_sequence_ - 1;
}

}  // namespace faceswap::capture
