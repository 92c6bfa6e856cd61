// Per-face tracking state between detections: One Euro smoothing of landmarks and the
// detector box expressed in the face's own frame, so the next landmark crop follows the face.
// Plain C++, no Torch.
#pragma once

#include <array>
#include <vector>

#include "faceswap/engine.h"

namespace faceswap::detail {

// One Euro filter (Casiez et al., CHI 2012): a low-pass filter whose cut-off rises with speed,
// so still faces stop jittering while fast motion is not lagged.
class OneEuroFilter {
  public:
    float filter(float value, double timestamp_s, float min_cutoff_hz, float beta,
                 float derivative_cutoff_hz);
    void reset() { initialised_ = false; }

  private:
    bool initialised_ = false;
    float value_ = 0.f;
    float derivative_ = 0.f;
    double timestamp_s_ = 0.0;
};

class LandmarkSmoother {
  public:
    Landmarks68 apply(const Landmarks68& raw, double timestamp_s, const EngineConfig& config);
    void reset();

  private:
    std::array<OneEuroFilter, 2 * kLandmarkCount> filters_;
};

// A face-relative frame: the centre of the five alignment points and the pixel size of one
// template unit. Boxes stored relative to it move and scale with the face.
struct FaceFrame {
    Point2f centre;
    float unit_px = 1.f;
};
FaceFrame face_frame(const Landmarks68& landmarks);

struct RelativeBox {
    float dx = 0, dy = 0, width = 0, height = 0;  // in template units around the face centre
};
RelativeBox to_relative(const Box& box, const FaceFrame& frame);
Box from_relative(const RelativeBox& relative, const FaceFrame& frame);

// True when candidate differs from current by less than 3% of its size in position and 5% in
// scale: then the current crop still frames the face and is kept.
bool close_enough(const Box& current, const Box& candidate);
Box landmark_bounds(const Landmarks68& landmarks);

struct Track {
    int id = -1;
    float detection_score = 0.f;
    Box box;                  // the crop box used this frame
    RelativeBox box_in_face;  // the last detector box relative to the face
    Landmarks68 raw{};
    Landmarks68 smoothed{};
    LandmarkSmoother smoother;
    int missed_detections = 0;     // consecutive detector runs that did not find this face
    std::vector<float> thumbnail;  // 16x16 grey thumbnail of the last landmark crop
};

// Mean absolute difference of two thumbnails (0..255 pixels) in units of full scale; 1 when
// either is missing or the sizes differ.
float appearance_change(const std::vector<float>& before, const std::vector<float>& after);

}  // namespace faceswap::detail
