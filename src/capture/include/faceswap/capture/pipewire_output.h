// A virtual camera as a PipeWire video source node: the camera path current Firefox, Chromium
// and OBS use on Linux (through PipeWire directly or the camera portal). The node appears as
// "faceswap camera" (media.class Video/Source, media.role Camera) while it exists; frames are
// offered in YUY2 or BGRx, whichever the reader picks, at a steady rate through the shared
// PacedSender (the last frame repeats, so the camera never vanishes for the reader).
#pragma once

#include <opencv2/core.hpp>

#include <memory>
#include <string>

#include "faceswap/capture/stream_output.h"

namespace faceswap::capture {

struct PipeWireCameraOptions {
    std::string node_name = "faceswap-camera";  // node.name (what pipewiresrc target-object takes)
    std::string description = "faceswap camera";  // what pickers show
    int width = 640, height = 480;
    double fps = 30;
    bool mark = true;
    std::string model_id;  // hashed into the invisible watermark's payload (StreamOptions)
};

class PipeWireOutput : public FrameOutput {
  public:
    // Connects to the PipeWire daemon of this session; throws MediaError with a one-line reason
    // (no daemon, the node could not be created).
    explicit PipeWireOutput(const PipeWireCameraOptions& options);
    ~PipeWireOutput() override;
    PipeWireOutput(const PipeWireOutput&) = delete;
    PipeWireOutput& operator=(const PipeWireOutput&) = delete;

    void push(const cv::Mat& bgr) override;
    void push_camera(const cv::Mat& bgr) override;
    std::string error() const override;
    StreamCounters counters() const override;
    std::string name() const override;
    void stop() override;

  private:
    struct Shared;
    std::unique_ptr<Shared> shared_;
};

}  // namespace faceswap::capture
