#include "paced_sender.h"

#include <opencv2/imgproc.hpp>

#include <chrono>

#include "faceswap/capture/video_writer.h"

namespace faceswap::capture {

PacedSender::PacedSender(int width, int height, double fps, bool mark,
                         std::uint32_t watermark_payload, Send send)
    : width_(width),
      height_(height),
      fps_(fps),
      mark_(mark),
      watermark_payload_(watermark_payload),
      send_(std::move(send)) {
    thread_ = std::thread([this] { run(); });
}

PacedSender::~PacedSender() {
    stop();
}

void PacedSender::push(const cv::Mat& bgr, bool generated) {
    if (bgr.empty() || bgr.type() != CV_8UC3) return;
    cv::Mat frame;
    if (bgr.cols == width_ && bgr.rows == height_)
        frame = bgr.clone();
    else
        cv::resize(bgr, frame, {width_, height_}, 0, 0, cv::INTER_AREA);
    std::lock_guard lock(mutex_);
    ++counters_.pushed;
    if (!newest_.empty()) ++counters_.replaced;
    newest_ = std::move(frame);
    newest_generated_ = generated;
    wake_.notify_one();
}

void PacedSender::run() {
    using Clock = std::chrono::steady_clock;
    const auto period =
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / fps_));
    cv::Mat current;  // the last frame sent, repeated while no newer one comes
    auto next = Clock::now();
    while (true) {
        cv::Mat fresh;
        bool generated = false;
        {
            std::unique_lock lock(mutex_);
            if (current.empty())  // until the first frame there is nothing to repeat
                wake_.wait(lock, [&] { return stopping_ || !newest_.empty(); });
            else
                wake_.wait_until(lock, next, [&] { return stopping_; });
            if (stopping_) return;
            fresh = std::move(newest_);
            generated = newest_generated_;
            newest_ = cv::Mat();
            ++counters_.sent;
            if (fresh.empty()) ++counters_.repeated;
        }
        if (!fresh.empty()) {
            if (generated) {
                if (mark_) draw_ai_generated_mark(fresh);
                watermark_.embed(fresh, watermark_payload_);
            }
            current = std::move(fresh);
        }
        const std::string failure = send_(current);
        if (!failure.empty()) {
            std::lock_guard lock(mutex_);
            if (error_.empty()) error_ = failure;
            return;
        }
        // A steady rate (the stream's timestamps count frames); after a stall (a slow sink) go
        // on from now rather than burst.
        next += period;
        if (next < Clock::now()) next = Clock::now();
    }
}

bool PacedSender::stopping() const {
    std::lock_guard lock(mutex_);
    return stopping_;
}

std::string PacedSender::error() const {
    std::lock_guard lock(mutex_);
    return error_;
}

StreamCounters PacedSender::counters() const {
    std::lock_guard lock(mutex_);
    return counters_;
}

void PacedSender::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

}  // namespace faceswap::capture
