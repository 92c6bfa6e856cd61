// faceswap-engine-bench: the stage benchmark on raw frames, built with LibTorch alone, for
// machines without OpenCV (the GPU server). Frames come from 'faceswap bench --dump-frames'.
//   faceswap-engine-bench MODEL_DIR FRAMES_FILE [auto|cpu|cuda] [detect_every] [frames_to_run]
// A short clip is played forwards and backwards until frames_to_run (default 240) frames, so
// the motion stays continuous for the tracker.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "stage_bench.h"

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(
            stderr,
            "usage: %s MODEL_DIR FRAMES_FILE [auto|cpu|cuda] [detect_every] [frames_to_run]\n",
            argv[0]);
        return 2;
    }
    try {
        faceswap::EngineConfig config = faceswap::EngineConfig::defaults();
        config.model_dir = argv[1];
        const std::string device = argc > 3 ? argv[3] : "auto";
        config.device = device == "cpu"    ? faceswap::DeviceKind::kCpu
                        : device == "cuda" ? faceswap::DeviceKind::kCuda
                                           : faceswap::DeviceKind::kAuto;
        if (argc > 4) config.detect_every_n_frames = std::atoi(argv[4]);
        const auto frames = faceswap::bench::read_raw_frames(argv[2]);
        const auto models = faceswap::FaceModels::load(config);
        const auto clip = frames.views();
        const size_t frames_to_run = argc > 5 ? std::strtoul(argv[5], nullptr, 10) : 240;
        std::vector<faceswap::FrameView> views;
        for (size_t i = 0; views.size() < frames_to_run && clip.size() > 1; ++i) {
            const size_t period = 2 * (clip.size() - 1), k = i % period;  // ping-pong
            views.push_back(clip[k < clip.size() ? k : period - k]);
        }
        std::printf("faceswap-engine-bench: %zu frames %dx%d, device %s\n", views.size(),
                    frames.width, frames.height, models->device_name().c_str());
        faceswap::bench::run_standard_passes(models, config, views, 24.0);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
