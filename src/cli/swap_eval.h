// How well a swap worked, frame by frame: the scoring behind `faceswap eval` and the quality
// checks `faceswap train` runs while it trains (one implementation, so the figures agree).
// Definitions: docs/evaluation.md.
#pragma once

#include <opencv2/core.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "faceswap/engine.h"
#include "faceswap/identity.h"

namespace faceswap::cli {

// The quality bar (issue 3, mouth added by issue 12).
inline constexpr double kMinCloserToB = 0.90;
inline constexpr double kMaxLandmarkDistance = 0.05;
inline constexpr double kMinMouthCorrelation = 0.9;
inline constexpr double kMinEyeCorrelation = 0.8;  // issue 23: closed eyes stay closed
inline constexpr double kMinDetailRatio = 0.5;
inline constexpr double kMaxFlickerRatio = 1.0;

// "START:END" (END exclusive, either may be empty) into [start, end); end -1 = to the end.
std::pair<std::int64_t, std::int64_t> parse_frame_range(const std::string& text);

// The 68 points' regions, for the landmark distance's breakdown: [first, end) and a name.
struct LandmarkRegion {
    int first, end;
    const char* name;
};
inline constexpr std::array<LandmarkRegion, 5> kLandmarkRegions{
    {{0, 17, "jaw"}, {17, 27, "brows"}, {27, 36, "nose"}, {36, 48, "eyes"}, {48, 68, "mouth"}}};

struct Reference {
    FaceDescriptor descriptor{};
    int samples_used = 0;
    int samples_tried = 0;
};

// The mean descriptor of the largest face over `samples` frames spread evenly over the range
// of a video, or over the images of a folder or a single image. Throws when none has a face.
Reference reference_descriptor(const std::string& path, const std::string& range_text, int samples,
                               const std::shared_ptr<const FaceModels>& models,
                               const IdentityEmbedder& embedder, const EngineConfig& config);

struct FrameScore {
    std::int64_t index = 0;
    bool input_face = false, output_face = false;
    double distance_a = NAN, distance_b = NAN;
    bool closer_to_b = false;
    double landmark_distance = NAN;  // fraction of the input's inter-ocular distance
    // The same per region (kLandmarkRegions), and over all 68 points after the best similarity
    // transform of the output's points onto the input's: what is left is shape, not placement.
    std::array<double, kLandmarkRegions.size()> landmark_region{NAN, NAN, NAN, NAN, NAN};
    double landmark_distance_aligned = NAN;
    // The 68 points themselves (frame pixels; none where that face was not found), for
    // analyses the summary does not make (where a region sits, not only how far off).
    std::optional<Landmarks68> input_landmarks, output_landmarks;
    // Inner-lip opening over mouth width, of the input face and of the output face.
    double mouth_input = NAN, mouth_output = NAN;
    // Eye aspect ratio (both eyes' mean), of the input face and of the output face.
    double eye_input = NAN, eye_output = NAN;
    double detail_input = NAN, detail_output = NAN, detail_ratio = NAN;
    // The same ratio over the eyes' and the mouth's boxes together (area-weighted).
    double eyes_mouth_detail_ratio = NAN;
    double flicker_input = NAN, flicker_output = NAN;  // NAN on a sequence's first frame
    // Eye and mouth opening of both faces by the cross-check's landmark model, if one is set.
    double eye_input_cross = NAN, eye_output_cross = NAN;
    double mouth_input_cross = NAN, mouth_output_cross = NAN;
};

// A second landmark model's 68 points on the input and the output frame (same face, same
// box), or nothing where it found no face: a check that the swap's expression follows the
// input for more than the engine's own landmark net.
using CrossCheckLandmarks = std::function<std::optional<std::pair<Landmarks68, Landmarks68>>(
    const cv::Mat& input_bgr, const cv::Mat& output_bgr)>;

// Scores (input frame, output frame) pairs of one or more frame sequences. Detection and raw
// landmarks on every frame (config.tracking is forced off), so nothing hides a jump.
class FrameScorer {
  public:
    FrameScorer(std::shared_ptr<const FaceModels> models,
                std::shared_ptr<const IdentityEmbedder> embedder, EngineConfig config,
                const Reference& a, const Reference& b);
    // Frames of one sequence in order; flicker compares with the previous pair.
    FrameScore score(std::int64_t index, const cv::Mat& input_bgr, const cv::Mat& output_bgr);
    void start_sequence();  // the next pair is not a continuation (no flicker for it)
    void set_cross_check(CrossCheckLandmarks cross_check) { cross_check_ = std::move(cross_check); }

  private:
    std::shared_ptr<const FaceModels> models_;
    std::shared_ptr<const IdentityEmbedder> embedder_;
    EngineConfig config_;
    Reference a_, b_;
    std::unique_ptr<FaceAnalyzer> in_analyzer_, out_analyzer_;
    cv::Mat previous_in_, previous_out_;
    CrossCheckLandmarks cross_check_;
};

struct Stats {
    std::size_t count = 0;
    double mean = NAN, median = NAN, p90 = NAN;
};
Stats stats_of(std::vector<double> values);

struct EvalSummary {
    std::size_t frames = 0, with_input_face = 0, with_output_face = 0;
    double closer_fraction = 0;
    Stats distance_a, distance_b, landmarks, landmarks_aligned, mouth_input, mouth_output,
        mouth_gap, eye_input, eye_output, eye_gap, detail, eyes_mouth_detail, flicker_input,
        flicker_output;
    std::array<Stats, kLandmarkRegions.size()> landmark_regions;
    // The landmark distance split into the two faces' usual shape difference and the rest:
    // each point's mean offset from the input's over the clip (in the input's eye frame, in
    // inter-ocular distances: where the rendered identity's nose, jaw and eyes sit on this
    // input), and per frame the distance left after taking that offset away, which is how far
    // the output fails to follow the input's pose and expression. Not in the bar.
    double landmark_shape_offset = NAN;  // mean over the 68 points of their mean offset's length
    Stats landmarks_following;
    double mouth_correlation = NAN;  // Pearson, over frames where both mouths were measured
    double eye_correlation = NAN;    // the same for the eyes' opening
    // The same two by the cross-check's landmark model (NAN without one); not in the bar.
    double mouth_correlation_cross = NAN, eye_correlation_cross = NAN;
    double flicker_ratio = NAN;
    bool pass_identity = false, pass_landmarks = false, pass_mouth = false, pass_detail = false,
         pass_flicker = false, pass_eyes = false;
    // The five lines the trainer's quality log counts (the eyes are reported beside them).
    bool all_pass() const {
        return pass_identity && pass_landmarks && pass_mouth && pass_detail && pass_flicker;
    }
    // "closer-to-B 100% · landmarks 6.1% · mouth r 0.62 · detail 0.21 · flicker 0.80 · 1/5 pass"
    std::string one_line() const;
};
EvalSummary summarize(const std::vector<FrameScore>& scores);

}  // namespace faceswap::cli
