#include <opencv2/imgproc.hpp>

#include <chrono>
#include <cmath>
#include <thread>

#include "faceswap/capture/frame_source.h"
#include "faceswap/clock.h"
#include "frame_pacer.h"

namespace faceswap::capture {

TestPatternSource::TestPatternSource(std::shared_ptr<FrameMailbox> mailbox, QSize size, double fps,
                                     QObject* parent)
    : ThreadedFrameSource(std::move(mailbox), parent), size_(size), fps_(fps > 0 ? fps : 30) {}

TestPatternSource::~TestPatternSource() {
    stop();
}

// Colour bars with a ball moving across them and a frame counter: motion and a changing number
// make a frozen or stuttering pipeline obvious at a glance.
void TestPatternSource::run() {
    using clock = std::chrono::steady_clock;
    const int width = std::max(64, size_.width()), height = std::max(48, size_.height());
    cv::Mat bars(height, width, CV_8UC3);
    const cv::Scalar colours[] = {{255, 255, 255}, {0, 255, 255}, {255, 255, 0}, {0, 255, 0},
                                  {255, 0, 255},   {0, 0, 255},   {255, 0, 0},   {40, 40, 40}};
    for (int i = 0; i < 8; ++i)
        cv::rectangle(bars, cv::Rect(i * width / 8, 0, width / 8 + 1, height), colours[i],
                      cv::FILLED);
    emit opened(QSize(width, height), fps_);
    FramePacer pacer(fps_);
    const auto started = clock::now();
    for (std::int64_t n = 0; !stop_requested_; ++n) {
        cv::Mat frame = bars.clone();
        const double t = std::chrono::duration<double>(clock::now() - started).count();
        const cv::Point centre(static_cast<int>((0.5 + 0.4 * std::sin(t * 1.7)) * width),
                               static_cast<int>((0.5 + 0.3 * std::cos(t * 2.3)) * height));
        cv::circle(frame, centre, height / 10, cv::Scalar(30, 30, 30), cv::FILLED, cv::LINE_AA);
        cv::putText(frame, "test pattern  frame " + std::to_string(n), cv::Point(12, height - 16),
                    cv::FONT_HERSHEY_SIMPLEX, height / 640.0 + 0.3, cv::Scalar(0, 0, 0), 2,
                    cv::LINE_AA);
        pacer.wait_for_next();
        if (stop_requested_) break;
        mailbox_->publish(std::move(frame), faceswap::clock::now_us(), t);
    }
    running_ = false;
}

}  // namespace faceswap::capture
