#include "swap_backend.h"

#include <cstring>

namespace faceswap::ui {

const char* state_label(BackendState state) {
    switch (state) {
        case BackendState::kStopped:
            return "stopped";
        case BackendState::kStarting:
            return "starting";
        case BackendState::kRunning:
            return "running";
        case BackendState::kReconnecting:
            return "reconnecting";
        case BackendState::kStopping:
            return "stopping";
        case BackendState::kFailed:
            return "failed";
    }
    return "?";
}

bool SwapBackend::active() const {
    const BackendState s = state();
    return s != BackendState::kStopped && s != BackendState::kFailed;
}

void SwapBackend::set_state(BackendState state, const QString& detail) {
    state_ = state;
    emit stateChanged(state, detail);
}

void SwapBackend::deliver(std::shared_ptr<const SwappedFrame> frame) {
    {
        std::lock_guard lock(slot_mutex_);
        slot_ = std::move(frame);
    }
    // One notification until the window takes the frame: a slow GUI never builds a queue.
    if (!announced_.exchange(true)) emit frameReady();
}

std::shared_ptr<const SwappedFrame> SwapBackend::take_frame() {
    announced_ = false;
    std::lock_guard lock(slot_mutex_);
    return std::exchange(slot_, nullptr);
}

BackendCounters SwapBackend::counters() const {
    return {swapped_.load(), skipped_.load(), lost_.load()};
}

void SwapBackend::reset_counters() {
    swapped_ = 0;
    skipped_ = 0;
    lost_ = 0;
}

QImage frame_image(const capture::FramePtr& frame) {
    auto* keep = new capture::FramePtr(frame);
    return QImage(
        frame->bgr.data, frame->bgr.cols, frame->bgr.rows,
        static_cast<qsizetype>(frame->bgr.step[0]), QImage::Format_BGR888,
        [](void* info) { delete static_cast<capture::FramePtr*>(info); }, keep);
}

QImage bgr_image(const std::uint8_t* pixels, int width, int height, int stride) {
    QImage image(width, height, QImage::Format_BGR888);
    for (int y = 0; y < height; ++y)
        std::memcpy(image.scanLine(y), pixels + static_cast<std::size_t>(y) * stride,
                    static_cast<std::size_t>(width) * 3);
    return image;
}

QImage bgr_image(std::vector<std::uint8_t>&& pixels, int width, int height) {
    const int row = width * 3;
    if (row % 4 != 0 || pixels.size() != static_cast<std::size_t>(row) * height)
        return bgr_image(pixels.data(), width, height, row);
    auto* owned = new std::vector<std::uint8_t>(std::move(pixels));
    return QImage(
        owned->data(), width, height, row, QImage::Format_BGR888,
        [](void* info) { delete static_cast<std::vector<std::uint8_t>*>(info); }, owned);
}

cv::Mat bgr_view(const QImage& image) {
    return cv::Mat(image.height(), image.width(), CV_8UC3, const_cast<uchar*>(image.constBits()),
                   static_cast<std::size_t>(image.bytesPerLine()));
}

}  // namespace faceswap::ui
