// OpenCV frames into the engine's frame types: the one adapter the app, the CLI, the server's
// load generator and the tests share (header-only: target faceswap::engine_frames).
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "faceswap/engine.h"
#include "faceswap/pipeline.h"

namespace faceswap::capture {

// A view of an 8-bit BGR picture, no copy: valid while `bgr` lives and is unchanged.
inline FrameView view_of(const cv::Mat& bgr) {
    if (bgr.type() != CV_8UC3) throw std::invalid_argument("view_of: not an 8-bit BGR picture");
    return {bgr.data, bgr.cols, bgr.rows, static_cast<int>(bgr.step[0]), PixelFormat::BGR24};
}

// A pipeline frame's size, time and id from an 8-bit BGR picture (`caller` names the refusal);
// the two functions below fill in its pixels.
inline PipelineFrame pipeline_frame_header(const cv::Mat& bgr, double timestamp_s,
                                           std::uint64_t frame_id, const char* caller) {
    if (bgr.type() != CV_8UC3)
        throw std::invalid_argument(std::string(caller) + ": not an 8-bit BGR picture");
    PipelineFrame frame;
    frame.width = bgr.cols;
    frame.height = bgr.rows;
    frame.timestamp_s = timestamp_s;
    frame.frame_id = frame_id;
    return frame;
}

// A tightly packed copy of an 8-bit BGR picture for SwapPipeline::submit (rows are copied one
// by one, so a region of interest or a padded picture works too).
inline PipelineFrame pipeline_frame_of(const cv::Mat& bgr, double timestamp_s,
                                       std::uint64_t frame_id) {
    PipelineFrame frame = pipeline_frame_header(bgr, timestamp_s, frame_id, "pipeline_frame_of");
    const std::size_t row_bytes = static_cast<std::size_t>(bgr.cols) * 3;
    if (bgr.isContinuous()) {
        frame.pixels.assign(bgr.data, bgr.data + row_bytes * bgr.rows);
    } else {
        frame.pixels.resize(row_bytes * bgr.rows);
        for (int y = 0; y < bgr.rows; ++y)
            std::memcpy(frame.pixels.data() + y * row_bytes, bgr.ptr(y), row_bytes);
    }
    return frame;
}

// The same frame read in place by the pipeline (no copy here; the pipeline's output is its
// one copy), kept alive by `owner` (the captured frame that holds `bgr`) until read.
inline PipelineFrame shared_pipeline_frame(const cv::Mat& bgr, std::shared_ptr<const void> owner,
                                           double timestamp_s, std::uint64_t frame_id) {
    PipelineFrame frame =
        pipeline_frame_header(bgr, timestamp_s, frame_id, "shared_pipeline_frame");
    frame.shared = bgr.data;
    frame.shared_stride = static_cast<int>(bgr.step[0]);
    frame.keep_alive = std::move(owner);
    return frame;
}

}  // namespace faceswap::capture
