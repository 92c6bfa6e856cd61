// Where the swap happens: in this process (LocalBackend, the engine on a worker thread) or on a
// server (RemoteBackend, the client library). The window talks to both through this interface
// and never waits on either: start() and stop() return at once, the real state arrives as
// stateChanged(), and swapped frames are handed over through a one-frame slot (newest wins),
// announced by frameReady() at most once until the window takes the frame.
#pragma once

#include <QImage>
#include <QObject>
#include <QRectF>
#include <QString>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "faceswap/capture/frame_mailbox.h"

namespace faceswap::ui {

enum class BackendState { kStopped, kStarting, kRunning, kReconnecting, kStopping, kFailed };
const char* state_label(BackendState state);

struct SwappedFrame {
    QImage image;                 // the swapped frame (Format_BGR888)
    std::int64_t sequence = 0;    // of the captured frame it came from
    std::int64_t capture_us = 0;  // when that frame was captured (steady clock)
    int faces = 0;
    // Local mode: where the swapped faces are (frame pixels), for framing a chosen person.
    // Remote mode leaves it empty (the reply carries the count only).
    std::vector<QRectF> swapped_boxes;
    double work_ms = 0;        // the engine's time (local) or the round trip (remote)
    capture::FramePtr source;  // the captured frame it was made from (for before/after views)
};

// Counted by the backend since its last start.
struct BackendCounters {
    std::int64_t swapped = 0;
    std::int64_t skipped = 0;  // captured while the backend was busy, never swapped (newest wins)
    std::int64_t lost = 0;     // remote: sent but never answered
};

class SwapBackend : public QObject {
    Q_OBJECT
  public:
    explicit SwapBackend(QObject* parent = nullptr) : QObject(parent) {}
    ~SwapBackend() override = default;

    // Begins swapping the frames published to input; returns at once.
    virtual void start(std::shared_ptr<capture::FrameMailbox> input) = 0;
    // Ends swapping; returns at once, stateChanged(kStopped) follows.
    virtual void stop() = 0;
    virtual QString describe() const = 0;  // e.g. "local, cpu (2 threads)"

    BackendState state() const { return state_.load(); }
    bool active() const;  // starting, running, reconnecting or stopping
    std::shared_ptr<const SwappedFrame> take_frame();  // the newest frame, or null
    virtual BackendCounters counters() const;

  signals:
    void stateChanged(faceswap::ui::BackendState state, QString detail);
    void frameReady();

  protected:
    void set_state(BackendState state, const QString& detail = {});  // any thread
    void deliver(std::shared_ptr<const SwappedFrame> frame);         // any thread
    void reset_counters();
    std::atomic<std::int64_t> swapped_{0}, skipped_{0}, lost_{0};

  private:
    std::atomic<BackendState> state_{BackendState::kStopped};
    mutable std::mutex slot_mutex_;
    std::shared_ptr<const SwappedFrame> slot_;
    std::atomic<bool> announced_{false};
};

// Wraps engine output (tightly packed BGR) in a QImage that owns a copy.
QImage bgr_image(const std::uint8_t* pixels, int width, int height, int stride);
// The same over `pixels` themselves (width * height * 3, packed), which the image then owns:
// no copy, where Qt's 4-byte row alignment allows it (a copy otherwise).
QImage bgr_image(std::vector<std::uint8_t>&& pixels, int width, int height);
// A captured frame as a QImage sharing its pixels (no copy); the image keeps the frame alive.
QImage frame_image(const capture::FramePtr& frame);
// The other way: a view of a BGR888 QImage's pixels as a cv::Mat (no copy; the image must live
// as long as the view), for the outputs, which copy what they are pushed.
cv::Mat bgr_view(const QImage& image);

}  // namespace faceswap::ui
