#include "stage_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>

#include "faceswap/stats.h"

namespace faceswap::bench {

using Clock = std::chrono::steady_clock;

double percentile(std::vector<double> values, double p) {
    return stats::percentile(std::move(values), p);
}

double mean(const std::vector<double>& values) {
    return stats::mean(values);
}

PassResult run_pass(const std::string& name, const std::shared_ptr<const FaceModels>& models,
                    EngineConfig config, bool tracking, CropOutput crops,
                    const std::vector<FrameView>& frames, double fps) {
    config.tracking = tracking;
    FaceAnalyzer analyzer(models, config);
    for (size_t i = 0; i < std::min<size_t>(3, frames.size()); ++i)
        analyzer.analyze(frames[i], crops);  // warm-up
    analyzer.reset();
    PassResult r;
    r.name = name;
    std::vector<double> totals, convert, detect, landmarks, align, detect_runs;
    int found = 0;
    const auto start = Clock::now();
    for (size_t i = 0; i < frames.size(); ++i) {
        const auto frame_start = Clock::now();
        const FrameAnalysis a = analyzer.analyze(frames[i], crops, i / fps);
        totals.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - frame_start).count());
        convert.push_back(a.timings.convert_ms);
        detect.push_back(a.timings.detect_ms);
        landmarks.push_back(a.timings.landmarks_ms);
        align.push_back(a.timings.align_ms);
        if (a.detector_ran) detect_runs.push_back(a.timings.detect_ms);
        found += !a.faces.empty();
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    r.fps = frames.size() / seconds;
    r.convert_ms = mean(convert), r.detect_ms = mean(detect);
    r.landmarks_ms = mean(landmarks), r.align_ms = mean(align);
    r.detect_run_ms = mean(detect_runs);
    r.detector_runs = static_cast<int>(detect_runs.size());
    r.p50_ms = percentile(totals, 0.5), r.p95_ms = percentile(totals, 0.95);
    r.max_ms = totals.empty() ? 0 : *std::max_element(totals.begin(), totals.end());
    r.found_fraction = frames.empty() ? 0 : static_cast<double>(found) / frames.size();
    return r;
}

void print_pass(const PassResult& r) {
    std::printf(
        "%-46s %7.1f FPS | convert %5.2f  detect %6.2f (%6.2f per run, %3d runs)  "
        "landmarks %5.2f  align %5.2f ms | frame p50 %6.2f p95 %6.2f max %6.2f ms | "
        "face in %5.1f%%\n",
        r.name.c_str(), r.fps, r.convert_ms, r.detect_ms, r.detect_run_ms, r.detector_runs,
        r.landmarks_ms, r.align_ms, r.p50_ms, r.p95_ms, r.max_ms, 100 * r.found_fraction);
    std::fflush(stdout);
}

std::vector<PassResult> run_standard_passes(const std::shared_ptr<const FaceModels>& models,
                                            const EngineConfig& config,
                                            const std::vector<FrameView>& frames, double fps) {
    std::vector<PassResult> results;
    auto pass = [&](const std::string& name, bool tracking, CropOutput crops) {
        results.push_back(run_pass(name, models, config, tracking, crops, frames, fps));
        print_pass(results.back());
    };
    pass("ours, detector every frame, + aligned crops", false, CropOutput::kAlignedRgb);
    pass("ours, detect+landmarks, no tracking", false, CropOutput::kNone);
    pass("ours, detect+landmarks, tracking", true, CropOutput::kNone);
    pass("ours, detect+landmarks+aligned crops, tracking", true, CropOutput::kAlignedRgb);
    return results;
}

std::vector<FrameView> RawFrames::views() const {
    std::vector<FrameView> out;
    const size_t frame_bytes = static_cast<size_t>(width) * height * 3;
    for (size_t offset = 0; frame_bytes && offset + frame_bytes <= pixels.size();
         offset += frame_bytes)
        out.push_back({pixels.data() + offset, width, height, width * 3, PixelFormat::BGR24});
    return out;
}

void write_raw_frames(const std::string& path, const std::vector<FrameView>& frames) {
    if (frames.empty()) throw Error(ErrorCode::kInvalidArgument, "no frames to write");
    std::ofstream out(path, std::ios::binary);
    out << "FSFRAMES1\n"
        << frames[0].width << ' ' << frames[0].height << ' ' << frames.size() << '\n';
    for (const FrameView& f : frames)
        for (int y = 0; y < f.height; ++y)
            out.write(
                reinterpret_cast<const char*>(f.data + static_cast<size_t>(y) * f.stride_bytes),
                f.width * 3);
    if (!out) throw Error(ErrorCode::kInternal, "cannot write " + path);
}

RawFrames read_raw_frames(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::string magic;
    RawFrames frames;
    size_t count = 0;
    if (!(in >> magic >> frames.width >> frames.height >> count) || magic != "FSFRAMES1" ||
        frames.width < 2 || frames.height < 2 || count == 0 || count > 100000)
        throw Error(ErrorCode::kInvalidArgument, path + ": not a raw frames file (FSFRAMES1)");
    in.get();
    frames.pixels.resize(count * frames.width * frames.height * 3);
    in.read(reinterpret_cast<char*>(frames.pixels.data()),
            static_cast<std::streamsize>(frames.pixels.size()));
    if (in.gcount() != static_cast<std::streamsize>(frames.pixels.size()))
        throw Error(ErrorCode::kInvalidArgument, path + ": truncated raw frames file");
    return frames;
}

}  // namespace faceswap::bench
