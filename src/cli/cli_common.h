// Helpers shared by the faceswap subcommands.
#pragma once

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "faceswap/capture/engine_frames.h"
#include "faceswap/engine.h"
#include "faceswap/face_choice.h"

namespace faceswap::cli {

// Model folder: --models, else $FACESWAP_MODEL_DIR, else the installed share folder, else the
// build's cache (.cache/models).
std::string resolve_model_dir(const std::string& from_flag);
std::string default_cache_dir();

using capture::view_of;  // a cv::Mat as a FrameView (faceswap/capture/engine_frames.h)

// "cpu", "cuda" or anything else (auto).
DeviceKind parse_device(const std::string& name);

// The demo swap model: --model, else $FACESWAP_SWAP_MODEL, else the installed copy, else
// resources/models/demo.fsmodel of the source tree.
std::string resolve_swap_model(const std::string& from_flag);

// Machine-readable progress (--progress-json; what the app's New model dialog reads): when on,
// every progress bar and event is also printed to stdout as one JSON object per line
// (docs/make-model.md lists the events). Human-readable output stays on stderr as it was.
void set_progress_json(bool on);
bool progress_json();
void progress_event(const nlohmann::json& event);  // a no-op when off

// A one-line progress bar on stderr with rate and ETA, redrawn at most 10 times a second.
// finish() draws the count last reached (a run stopped early shows where it stopped).
class ProgressBar {
  public:
    ProgressBar(std::string label, std::int64_t total);
    void update(std::int64_t done, const std::string& note = {});
    // For work bounded by something other than the count (a time budget): the bar and the
    // ETA follow `fraction` (0..1) while the count and its rate are still shown.
    void update_fraction(double fraction, std::int64_t done, const std::string& note = {});
    void finish(const std::string& note = {});

  private:
    void draw(std::int64_t done, double fraction, const std::string& note);
    bool due();
    void report_json(std::int64_t done, double fraction, const std::string& note, bool final);
    std::string label_;
    std::int64_t total_;
    std::int64_t last_done_ = 0;
    double last_fraction_ = -1;  // < 0: the fraction is done / total
    std::chrono::steady_clock::time_point start_, last_draw_, last_json_;
};

// --faces: "all" (or nothing), "largest", or reference photos (files or folders of photos) of
// the one person to swap, whose descriptor is the mean over the photos. A photo with several
// faces gives its largest, and says so on stderr; one without a face throws
// Error(kInvalidArgument) naming it. max_distance < 0 keeps FaceChoice's default.
FaceChoice face_choice_from(const std::vector<std::string>& values, float max_distance,
                            const EngineConfig& config);

// A duration as a person reads it: "45 s", "12 min 05 s", "47 h 05 min".
std::string format_duration(double seconds);

}  // namespace faceswap::cli
