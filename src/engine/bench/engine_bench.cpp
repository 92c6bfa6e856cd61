// faceswap-engine-bench: the stage benchmark on raw frames, built with LibTorch alone, for
// machines without OpenCV (the GPU server). Frames come from 'faceswap bench --dump-frames'.
//   faceswap-engine-bench MODEL_DIR FRAMES_FILE [cpu|cuda] [detect_every]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "stage_bench.h"

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s MODEL_DIR FRAMES_FILE [auto|cpu|cuda] [detect_every]\n", argv[0]);
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
        const auto views = frames.views();
        std::printf("faceswap-engine-bench: %zu frames %dx%d, device %s\n", views.size(),
                    frames.width, frames.height, models->device_name().c_str());
        faceswap::bench::run_standard_passes(models, config, views, 24.0);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
