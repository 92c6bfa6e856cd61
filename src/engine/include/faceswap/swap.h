// faceswap swap stage: the trained two-identity autoencoder and merging its faces back.
//
//   auto models = faceswap::FaceModels::load(config);                       // detector, landmarks
//   auto swap_model = faceswap::SwapModel::load("resources/models/demo.fsmodel", config);
//   faceswap::FaceSwapper swapper(models, swap_model, config, faceswap::SwapConfig{});
//   faceswap::SwapResult result = swapper.process(frame);                   // result.pixels
//
// Threading: a SwapModel, like FaceModels, is immutable once loaded and shared by any number of
// threads; a FaceSwapper holds one video stream's tracking state, for one thread at a time.
// No Torch type appears here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "faceswap/engine.h"
#include "faceswap/face_choice.h"
#include "faceswap/face_detail.h"
#include "faceswap/swap_direction.h"

namespace faceswap {

// Parses "a2b" / "b2a"; throws Error(kInvalidArgument) otherwise.
SwapDirection parse_swap_direction(const std::string& text);

// What a swap model file says about itself.
struct SwapModelInfo {
    std::string path;
    int resolution = 0;    // aligned face size the model works at
    float coverage = 0.f;  // alignment coverage its face sets were extracted with
    std::string identity_a;
    std::string identity_b;
    std::int64_t training_steps = 0;
    // Provenance: where each identity's faces came from (FaceSet::sources, "" in models made
    // before it) and when the model was first made (UTC, ISO 8601; "" when unknown).
    std::string sources_a, sources_b;
    std::string created;
    double last_loss = 0.0;
    std::string architecture;  // e.g. "df-ae 128 e48 ae256 d48"
    std::int64_t format_version = 0;
    // Channels of the detail stage (docs/detail-stage.md); 0: the model has none (files
    // before format 3), and detail_strength does nothing.
    int detail_stage_dims = 0;
    // The arithmetic it runs in here ("float32", "bfloat16": EngineConfig::precision).
    std::string precision = "float32";
};

enum class ColorTransfer { kNone, kRct };

// How a generated face is blended back into the frame.
struct SwapConfig {
    SwapDirection direction = SwapDirection::kAToB;
    // Whose face is swapped: all, the largest, or only chosen people (recognised by the
    // identity net, whose model file must then be in EngineConfig::model_dir). Faces not
    // chosen are left exactly as they were.
    FaceChoice faces;
    ColorTransfer color_transfer = ColorTransfer::kRct;
    float mask_erosion = 0.03f;    // blend mask shrink, fraction of the crop size (negative grows)
    float mask_feather = 0.06f;    // blur of the blend mask edge, fraction of the crop size
    bool use_learned_mask = true;  // combine the decoder's mask with the landmark hull
    bool poisson_blend = false;    // seamless (gradient-domain) blending, slower
    FaceDetail detail;             // the detail stage, mouth interior and texture transfer
    // Throws Error(kInvalidArgument) naming the setting and its range.
    void validate() const;
};

// The line a front end shows once when a model cannot honour detail.detail_strength (empty when it
// can, or when the strength is 0).
std::string detail_stage_note(const SwapModelInfo& info, const SwapConfig& config);

// The trained shared-encoder / two-decoder autoencoder, loaded once.
class SwapModel {
  public:
    // Refuses a missing, truncated, foreign, newer-format or misshaped file with an Error.
    static std::shared_ptr<const SwapModel> load(const std::string& path,
                                                 const EngineConfig& config);
    ~SwapModel();
    SwapModel(const SwapModel&) = delete;
    SwapModel& operator=(const SwapModel&) = delete;

    const SwapModelInfo& info() const;

    struct Impl;

  private:
    friend struct detail::Access;
    explicit SwapModel(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

struct SwapTimings {
    StageTimings analysis;   // detection, landmarks, alignment
    double generate_ms = 0;  // autoencoder forward pass for all faces
    double merge_ms = 0;     // colour transfer, warp back, blend, download
    double total_ms = 0;
};

struct SwapResult {
    // The output frame: same size and pixel format as the input, tightly packed (width * 3).
    std::vector<std::uint8_t> pixels;
    int width = 0;
    int height = 0;
    PixelFormat format = PixelFormat::BGR24;
    FrameAnalysis analysis;          // the faces found
    int faces_swapped = 0;           // how many of them were swapped (SwapConfig::faces chooses)
    std::vector<Box> swapped_boxes;  // the swapped faces' boxes (the app frames chosen faces)
    SwapTimings timings;
};

// A frame between the two stages of FaceSwapper (opaque).
struct PreparedSwap;

// One video stream: analyse, swap every (or the largest) face, merge back.
class FaceSwapper {
  public:
    FaceSwapper(std::shared_ptr<const FaceModels> face_models,
                std::shared_ptr<const SwapModel> swap_model, const EngineConfig& config,
                const SwapConfig& swap_config);
    ~FaceSwapper();
    FaceSwapper(FaceSwapper&&) noexcept;
    FaceSwapper& operator=(FaceSwapper&&) noexcept;

    // timestamp_s as in FaceAnalyzer::analyze. A frame with no face comes back unchanged.
    SwapResult process(const FrameView& frame, double timestamp_s = -1.0);

    // The same in two stages, for live pipelines on several cores: prepare() analyses the frame
    // and encodes its faces (tracking state: one thread at a time, frames in order); complete()
    // decodes and merges, and may run on another thread while prepare() takes the next frame
    // (a prepared job keeps its own bytes of the frame, not the analyzer's).
    // process() is complete(prepare(frame, ts)).
    std::shared_ptr<PreparedSwap> prepare(const FrameView& frame, double timestamp_s = -1.0);
    SwapResult complete(std::shared_ptr<PreparedSwap> job) const;

    void set_swap_config(const SwapConfig& swap_config);  // takes effect on the next frame
    void reset();                                         // forget tracks (new video, seek)

    struct Impl;

  private:
    friend struct detail::Access;
    std::unique_ptr<Impl> impl_;
};

}  // namespace faceswap
