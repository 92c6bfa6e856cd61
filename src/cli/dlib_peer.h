// dlib's HOG face detector + 68-point shape predictor: the classical detect+landmark stage
// that face-swap tools have used, measured by 'faceswap bench' on the same frames as ours.
#pragma once

#include <opencv2/core.hpp>

#include "faceswap/engine.h"

#include <memory>
#include <optional>
#include <string>

namespace faceswap::cli {

struct DlibFrameResult {
    double detect_ms = 0;
    double landmarks_ms = 0;
    int faces = 0;
};

class DlibPeer {
  public:
    explicit DlibPeer(const std::string& predictor_path);  // throws std::runtime_error
    ~DlibPeer();
    DlibFrameResult run(const cv::Mat& bgr);
    // The shape predictor alone on a given face box: a second, independent landmark opinion
    // (a regression-tree model trained on other data than the engine's net) for 'eval'.
    Landmarks68 landmarks(const cv::Mat& bgr, const Box& box);
    // dlib's own detector's largest face (the boxes its predictor was trained on), if any.
    std::optional<Box> largest_face(const cv::Mat& bgr);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace faceswap::cli
