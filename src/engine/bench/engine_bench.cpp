// faceswap-engine-bench: the stage benchmark on raw frames, built with LibTorch alone, for
// machines without OpenCV (the GPU server). Frames come from 'faceswap bench --dump-frames'.
//   faceswap-engine-bench MODEL_DIR FRAMES_FILE [auto|cpu|cuda] [detect_every] [frames_to_run]
//   faceswap-engine-bench MODEL_DIR FRAMES_FILE compare    (CUDA against CPU on the same frames)
// A short clip is played forwards and backwards until frames_to_run (default 240) frames, so
// the motion stays continuous for the tracker.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "stage_bench.h"

namespace {

// Runs detection + landmarks (no tracking) on both devices and prints how far CUDA's boxes
// and landmarks are from the CPU's: the CUDA path must compute the same thing.
int compare_devices(const std::string& model_dir, const faceswap::bench::RawFrames& frames) {
    faceswap::EngineConfig config = faceswap::EngineConfig::defaults();
    config.model_dir = model_dir;
    config.tracking = false;
    config.device = faceswap::DeviceKind::kCpu;
    faceswap::FaceAnalyzer cpu(faceswap::FaceModels::load(config), config);
    config.device = faceswap::DeviceKind::kCuda;
    faceswap::FaceAnalyzer cuda(faceswap::FaceModels::load(config), config);
    double worst_iou = 1, worst_landmark = 0, sum_landmark = 0;
    int faces = 0, count_mismatches = 0;
    for (const auto& view : frames.views()) {
        const auto a = cpu.analyze(view), b = cuda.analyze(view);
        if (a.faces.size() != b.faces.size()) {
            ++count_mismatches;
            continue;
        }
        for (size_t i = 0; i < a.faces.size(); ++i) {
            worst_iou = std::min<double>(
                worst_iou, faceswap::intersection_over_union(a.faces[i].box, b.faces[i].box));
            for (int k = 0; k < faceswap::kLandmarkCount; ++k) {
                const double d =
                    std::hypot(a.faces[i].raw_landmarks[k].x - b.faces[i].raw_landmarks[k].x,
                               a.faces[i].raw_landmarks[k].y - b.faces[i].raw_landmarks[k].y);
                worst_landmark = std::max(worst_landmark, d);
                sum_landmark += d;
            }
            ++faces;
        }
    }
    std::printf(
        "CUDA vs CPU on %zu frames: %d faces compared, %d frames with a different face "
        "count, worst box IoU %.5f, landmark difference mean %.4f px, worst %.4f px\n",
        frames.views().size(), faces, count_mismatches, worst_iou,
        faces ? sum_landmark / (faces * faceswap::kLandmarkCount) : 0.0, worst_landmark);
    return count_mismatches == 0 && worst_iou > 0.99 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(
            stderr,
            "usage: %s MODEL_DIR FRAMES_FILE [auto|cpu|cuda] [detect_every] [frames_to_run]\n",
            argv[0]);
        return 2;
    }
    try {
        const std::string device = argc > 3 ? argv[3] : "auto";
        if (device == "compare")
            return compare_devices(argv[1], faceswap::bench::read_raw_frames(argv[2]));
        faceswap::EngineConfig config = faceswap::EngineConfig::defaults();
        config.model_dir = argv[1];
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
