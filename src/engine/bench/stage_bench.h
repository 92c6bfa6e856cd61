// Timing passes over real frames, shared by 'faceswap bench' and the engine-only benchmark
// (which runs where only LibTorch exists, e.g. the GPU machine).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "faceswap/engine.h"

namespace faceswap::bench {

struct PassResult {
    std::string name;
    double fps = 0;
    double convert_ms = 0, detect_ms = 0, landmarks_ms = 0, align_ms = 0;  // means per frame
    double detect_run_ms = 0;  // mean over the frames where the detector ran
    int detector_runs = 0;
    double p50_ms = 0, p95_ms = 0, max_ms = 0;  // whole-frame latency
    double found_fraction = 0;
};

// Runs the analyzer over frames (timestamps at fps) after a short warm-up.
PassResult run_pass(const std::string& name, const std::shared_ptr<const FaceModels>& models,
                    EngineConfig config, bool tracking, CropOutput crops,
                    const std::vector<FrameView>& frames, double fps);

void print_pass(const PassResult& result);

// The four standard passes: per-stage (detector every frame, crops), detect+landmarks without
// and with tracking, and the full detect+landmarks+align with tracking. Returns them in order.
std::vector<PassResult> run_standard_passes(const std::shared_ptr<const FaceModels>& models,
                                            const EngineConfig& config,
                                            const std::vector<FrameView>& frames, double fps);

double percentile(std::vector<double> values, double p);  // faceswap/stats.h's nearest rank
double mean(const std::vector<double>& values);

// A file of raw BGR frames ("FSFRAMES1\n<width> <height> <count>\n" then the pixels), so the
// engine benchmark can run on real video where no video decoder is installed.
struct RawFrames {
    int width = 0, height = 0;
    std::vector<std::uint8_t> pixels;
    std::vector<FrameView> views() const;
};
void write_raw_frames(const std::string& path, const std::vector<FrameView>& frames);
RawFrames read_raw_frames(const std::string& path);

}  // namespace faceswap::bench
