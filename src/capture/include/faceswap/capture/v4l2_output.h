// A virtual camera through v4l2loopback: the swapped video written to a /dev/videoN that
// video-call programs, browsers and OBS open as a camera. Linux only.
//
// The device is found by its driver's name ("v4l2 loopback"), the format is negotiated
// (YUYV 4:2:2, the format every camera reader accepts; the driver's answer is checked), and
// frames are written at a steady rate by the shared PacedSender: the last swapped frame repeats,
// so the program reading the camera never sees it vanish. A full device buffer drops the frame
// instead of waiting.
#pragma once

#include <opencv2/core.hpp>

#include <memory>
#include <string>
#include <vector>

#include "faceswap/capture/stream_output.h"

namespace faceswap::capture {

struct LoopbackDevice {
    std::string path;  // /dev/video4
    std::string card;  // the label given to modprobe (card_label=...)
};

// The v4l2loopback devices present (each /dev/video* asked for its driver). `root` is for tests.
std::vector<LoopbackDevice> find_loopback_devices(const std::string& root = "/dev");

// What to tell a user who has none: how to create one.
std::string no_loopback_device_message();

// BGR to YUYV (4:2:2, BT.601 limited range as cameras send it); width must be even.
void bgr_to_yuyv(const cv::Mat& bgr, std::vector<unsigned char>& yuyv);

struct VirtualCameraOptions {
    std::string device;  // /dev/videoN, or "" for the first v4l2loopback device
    int width = 640, height = 480;
    double fps = 30;
    bool mark = true;
    std::string model_id;  // hashed into the invisible watermark's payload (StreamOptions)
};

class V4l2Output : public FrameOutput {
  public:
    // Opens the device and sets its format; throws MediaError with a one-line reason (no such
    // device, not a loopback device, a format the driver does not take).
    explicit V4l2Output(const VirtualCameraOptions& options);
    ~V4l2Output() override;
    V4l2Output(const V4l2Output&) = delete;
    V4l2Output& operator=(const V4l2Output&) = delete;

    void push(const cv::Mat& bgr) override;
    void push_camera(const cv::Mat& bgr) override;  // never blocks
    std::string error() const override;
    StreamCounters counters() const override;
    std::string name() const override { return "virtual camera " + device(); }
    const std::string& device() const;
    void stop() override;

  private:
    struct Shared;
    std::unique_ptr<Shared> shared_;
};

}  // namespace faceswap::capture

namespace faceswap::capture {

// The app's "Virtual camera": a PipeWire camera node where this session has a PipeWire daemon
// (browsers and OBS find it there), else the first v4l2loopback device (call programs read
// /dev/video*). Throws MediaError naming what was tried and how to get one.
std::unique_ptr<FrameOutput> open_virtual_camera(int width, int height, double fps, bool mark,
                                                 const std::string& model_id);

}  // namespace faceswap::capture
