// faceswap-pipeline-bench: the streaming pipeline (faceswap/pipeline.h) under load, built with
// LibTorch alone so it runs on the GPU machine (scripts/gpu-suite.sh) as well as here.
//
//   faceswap-pipeline-bench MODEL_DIR SWAP_MODEL FRAMES_FILE [options]
//     --device auto|cpu|cuda   where the nets run (default auto)
//     --single                 one stream, frames submitted as fast as the pipeline takes them:
//                              the most frames per second one stream gets, and their latency,
//                              with the per-stage split (the profile of one frame)
//     --paced                  with --single: the stream offered at --fps, the newest frame
//                              winning, as a camera feeds the app's local mode
//     --precision auto|fp32|bf16   the nets' arithmetic (EngineConfig::precision)
//     --decoder-stage auto|1|2     which stage decodes (PipelineConfig::decoder_stage)
//     --streams 1,2,4,8        stream counts to sweep (default 1,2,4,8)
//     --fps 30                 frames per second each stream offers in the sweep
//     --seconds 5 --warmup 2   measured time and unmeasured start of each run
//     --batching both|on|off   on: up to --max-batch frames per pass; off: one frame per pass
//     --max-batch 8 --budget-ms 60 --stages 2   as faceswap-server's scheduler options
//     --cpu-threads N          LibTorch CPU threads (0: all cores; --threads: earlier name)
// FRAMES_FILE is a raw frames file (scripts/video_to_raw_frames.py or `faceswap bench
// --dump-frames`); each stream plays it from its own starting frame, forwards and backwards.
// Latency is from submit() to the result callback: queueing, both stages, the merge.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <numeric>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "faceswap/pipeline.h"
#include "faceswap/stats.h"
#include "stage_bench.h"

namespace {

using Clock = std::chrono::steady_clock;
using faceswap::PipelineFrame;

struct Options {
    std::string model_dir, swap_model, frames_file;
    faceswap::DeviceKind device = faceswap::DeviceKind::kAuto;
    bool single = false, paced = false;
    faceswap::Precision precision = faceswap::Precision::kAuto;
    faceswap::PipelineConfig::DecoderStage decoder_stage =
        faceswap::PipelineConfig::DecoderStage::kAuto;
    std::vector<int> streams = {1, 2, 4, 8};
    double fps = 30, seconds = 5, warmup = 2;
    std::string batching = "both";
    int max_batch = 8, stages = 2, threads = 0;
    double budget_ms = 60;
};

[[noreturn]] void usage(const std::string& problem) {
    std::fprintf(stderr,
                 "error: %s\nusage: faceswap-pipeline-bench MODEL_DIR SWAP_MODEL FRAMES_FILE "
                 "[--device auto|cpu|cuda] [--single] [--streams 1,2,4] [--fps F] [--seconds S] "
                 "[--warmup S] [--batching both|on|off] [--max-batch N] [--budget-ms MS] "
                 "[--stages 1|2] [--cpu-threads N] [--paced] [--precision auto|fp32|bf16] "
                 "[--decoder-stage auto|1|2]\n",
                 problem.c_str());
    std::exit(2);
}

double number(const std::string& flag, const std::string& text) {
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0') usage(flag + " needs a number, not '" + text + "'");
    return value;
}

Options parse(int argc, char** argv) {
    if (argc < 4) usage("MODEL_DIR, SWAP_MODEL and FRAMES_FILE are required");
    Options o;
    o.model_dir = argv[1];
    o.swap_model = argv[2];
    o.frames_file = argv[3];
    for (int i = 4; i < argc; ++i) {
        const std::string flag = argv[i];
        if (flag == "--single" || flag == "--paced") {
            (flag == "--single" ? o.single : o.paced) = true;
            continue;
        }
        if (i + 1 >= argc) usage(flag + " needs a value");
        const std::string value = argv[++i];
        if (flag == "--device") {
            if (value == "cpu")
                o.device = faceswap::DeviceKind::kCpu;
            else if (value == "cuda")
                o.device = faceswap::DeviceKind::kCuda;
            else if (value == "auto")
                o.device = faceswap::DeviceKind::kAuto;
            else
                usage("--device is auto, cpu or cuda");
        } else if (flag == "--streams") {
            o.streams.clear();
            std::stringstream list(value);
            for (std::string item; std::getline(list, item, ',');) {
                const int n = static_cast<int>(number(flag, item));
                if (n < 1 || n > 1024) usage("--streams holds counts from 1 to 1024");
                o.streams.push_back(n);
            }
        } else if (flag == "--fps") {
            o.fps = number(flag, value);
        } else if (flag == "--seconds") {
            o.seconds = number(flag, value);
        } else if (flag == "--warmup") {
            o.warmup = number(flag, value);
        } else if (flag == "--batching") {
            if (value != "both" && value != "on" && value != "off")
                usage("--batching is both, on or off");
            o.batching = value;
        } else if (flag == "--max-batch") {
            o.max_batch = static_cast<int>(number(flag, value));
        } else if (flag == "--budget-ms") {
            o.budget_ms = number(flag, value);
        } else if (flag == "--stages") {
            o.stages = static_cast<int>(number(flag, value));
        } else if (flag == "--cpu-threads" || flag == "--threads") {
            o.threads = static_cast<int>(number(flag, value));
        } else if (flag == "--decoder-stage") {
            using Stage = faceswap::PipelineConfig::DecoderStage;
            if (value != "auto" && value != "1" && value != "2")
                usage("--decoder-stage is auto, 1 or 2");
            o.decoder_stage = value == "1"   ? Stage::kFirst
                              : value == "2" ? Stage::kSecond
                                             : Stage::kAuto;
        } else if (flag == "--precision") {
            try {
                o.precision = faceswap::parse_precision(value);
            } catch (const std::exception& e) {
                usage(e.what());
            }
        } else {
            usage("unknown option " + flag);
        }
    }
    if (o.fps <= 0 || o.seconds <= 0 || o.warmup < 0) usage("--fps and --seconds must be > 0");
    if (o.stages != 1 && o.stages != 2) usage("--stages is 1 or 2");
    return o;
}

// What one run measured, over its measured window only.
struct RunResult {
    double total_fps = 0, slowest_stream_fps = 0, mean_stream_fps = 0;
    double p50_ms = 0, p95_ms = 0, max_ms = 0;
    double mean_batch = 0, dropped_fraction = 0;
    std::int64_t failed = 0, splits = 0;
    std::string first_error;
    // Mean ms per swapped frame of each part (the engine's own timings), and of each stage's
    // batch (the pipeline's); how often the detector ran inline.
    double detect_ms = 0, landmarks_ms = 0, generate_ms = 0, merge_ms = 0;
    double stage1_ms = 0, stage2_ms = 0, detector_share = 0;
    double analyse_encode_ms = 0, decode_ms = 0, pipeline_merge_ms = 0, stage1_decode_share = 0;
};

// Results of every stream, counted only when they arrive inside the measured window.
struct Tally {
    std::mutex mutex;
    Clock::time_point window_start, window_end;
    std::vector<std::int64_t> swapped;  // per stream
    std::int64_t dropped = 0, offered = 0, failed = 0;
    std::vector<double> latency_ms;
    std::int64_t batch_frames = 0, batches = 0;
    std::string first_error;
    double detect_ms = 0, landmarks_ms = 0, generate_ms = 0, merge_ms = 0;
    std::int64_t detector_runs = 0;

    void add(int stream, const faceswap::PipelineResult& r) {
        const auto now = Clock::now();
        std::lock_guard lock(mutex);
        if (now < window_start || now > window_end) return;
        ++offered;
        if (r.dropped) {
            ++dropped;
        } else if (!r.error.empty()) {
            ++failed;
            if (first_error.empty()) first_error = r.error;
        } else {
            ++swapped[stream];
            latency_ms.push_back(r.latency_ms);
            const faceswap::SwapTimings& t = r.swap.timings;
            detect_ms += t.analysis.detect_ms;
            landmarks_ms += t.analysis.landmarks_ms + t.analysis.align_ms;
            generate_ms += t.generate_ms;
            merge_ms += t.merge_ms;
            detector_runs += r.swap.analysis.detector_ran ? 1 : 0;
            if (r.batch_index == 0) {
                batch_frames += r.batch_size;
                ++batches;
            }
        }
    }
};

faceswap::PipelineConfig pipeline_config(const Options& o, bool batching) {
    faceswap::PipelineConfig config;
    config.max_batch = batching ? o.max_batch : 1;
    config.batch_latency_ms = batching ? o.budget_ms : 0;
    config.two_stages = o.stages == 2;
    config.decoder_stage = o.decoder_stage;
    return config;
}

// N streams, each offered `fps` frames per second (or, single, as fast as it takes them).
RunResult run(const Options& o, const std::shared_ptr<const faceswap::FaceModels>& models,
              const std::shared_ptr<const faceswap::SwapModel>& swap_model,
              const faceswap::EngineConfig& engine_config, const faceswap::bench::RawFrames& clip,
              int streams, bool batching, bool saturate) {
    const auto views = clip.views();
    const std::size_t frame_bytes = static_cast<std::size_t>(clip.width) * clip.height * 3;
    Tally tally;
    tally.swapped.assign(streams, 0);
    faceswap::SwapPipeline pipeline(models, engine_config, pipeline_config(o, batching));
    std::vector<faceswap::StreamId> ids;
    for (int s = 0; s < streams; ++s)
        ids.push_back(pipeline.open_stream(
            swap_model, {}, [&tally, s](faceswap::PipelineResult&& r) { tally.add(s, r); },
            saturate ? faceswap::FramePolicy::kEvery : faceswap::FramePolicy::kNewest));

    const auto start = Clock::now();
    const auto seconds = [](double s) {
        return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
    };
    {
        std::lock_guard lock(tally.mutex);
        tally.window_start = start + seconds(o.warmup);
        tally.window_end = tally.window_start + seconds(o.seconds);
    }
    const auto stop_at = start + seconds(o.warmup + o.seconds);
    // Frame k of a stream: the clip forwards then backwards, from the stream's own offset.
    const auto frame_of = [&](int stream, std::uint64_t k) {
        const std::size_t n = views.size(), period = n > 1 ? 2 * (n - 1) : 1;
        const std::size_t i = (k + static_cast<std::size_t>(stream) * 7) % period;
        const faceswap::FrameView& v = views[i < n ? i : period - i];
        PipelineFrame f;
        f.pixels.assign(v.data, v.data + frame_bytes);
        f.width = clip.width;
        f.height = clip.height;
        f.timestamp_s = static_cast<double>(k) / o.fps;
        f.frame_id = k;
        return f;
    };
    // A few feeder threads share the streams, each keeping its streams' frame times; the
    // streams start spread over one frame period so their frames do not arrive in bursts.
    const int feeders = std::min(streams, 4);
    std::vector<std::thread> threads;
    for (int t = 0; t < feeders; ++t)
        threads.emplace_back([&, t] {
            if (saturate) {
                for (std::uint64_t k = 0; Clock::now() < stop_at; ++k)
                    for (int s = t; s < streams; s += feeders)
                        pipeline.submit(ids[s], frame_of(s, k));
                return;
            }
            const auto period = seconds(1.0 / o.fps);
            std::vector<Clock::time_point> due;
            std::vector<std::uint64_t> next;
            for (int s = t; s < streams; s += feeders) {
                due.push_back(start + period * s / streams);
                next.push_back(0);
            }
            for (;;) {
                const std::size_t j = std::min_element(due.begin(), due.end()) - due.begin();
                if (due[j] >= stop_at) return;
                std::this_thread::sleep_until(due[j]);
                const int s = t + static_cast<int>(j) * feeders;
                pipeline.submit(ids[s], frame_of(s, next[j]++));
                due[j] += period;
            }
        });
    for (auto& thread : threads) thread.join();
    const faceswap::PipelineMetrics metrics = pipeline.metrics();
    for (const auto id : ids) pipeline.close_stream(id);

    std::lock_guard lock(tally.mutex);
    RunResult r;
    std::int64_t total = 0, slowest = -1;
    for (const auto n : tally.swapped) {
        total += n;
        slowest = slowest < 0 ? n : std::min(slowest, n);
    }
    r.total_fps = total / o.seconds;
    r.mean_stream_fps = r.total_fps / streams;
    r.slowest_stream_fps = slowest / o.seconds;
    r.p50_ms = faceswap::stats::percentile(tally.latency_ms, 0.50);
    r.p95_ms = faceswap::stats::percentile(tally.latency_ms, 0.95);
    r.max_ms = tally.latency_ms.empty()
                   ? 0
                   : *std::max_element(tally.latency_ms.begin(), tally.latency_ms.end());
    r.mean_batch = tally.batches ? double(tally.batch_frames) / tally.batches : 0;
    r.dropped_fraction = tally.offered ? double(tally.dropped) / tally.offered : 0;
    r.failed = tally.failed;
    r.splits = metrics.batch_splits;
    r.first_error = tally.first_error;
    const double frames = std::max<double>(1, static_cast<double>(tally.latency_ms.size()));
    r.detect_ms = tally.detect_ms / frames;
    r.landmarks_ms = tally.landmarks_ms / frames;
    r.generate_ms = tally.generate_ms / frames;
    r.merge_ms = tally.merge_ms / frames;
    r.detector_share = tally.detector_runs / frames;
    r.stage1_ms = metrics.stage1_ms_mean;
    r.stage2_ms = metrics.stage2_ms_mean;
    r.analyse_encode_ms = metrics.analyse_encode_ms;
    r.decode_ms = metrics.decode_ms;
    r.pipeline_merge_ms = metrics.merge_ms;
    const std::int64_t batches =
        std::accumulate(metrics.batch_sizes.begin(), metrics.batch_sizes.end(), std::int64_t{0});
    r.stage1_decode_share = batches ? double(metrics.stage1_decoded_batches) / batches : 0;
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    try {
        faceswap::EngineConfig config = faceswap::EngineConfig::defaults();
        config.model_dir = o.model_dir;
        config.device = o.device;
        config.cpu_threads = o.threads;
        config.background_detection = true;  // as live streams run (the server, the app)
        config.precision = o.precision;
        const auto models = faceswap::FaceModels::load(config);
        const auto swap_model = faceswap::SwapModel::load(o.swap_model, config);
        const auto clip = faceswap::bench::read_raw_frames(o.frames_file);
        std::printf(
            "faceswap-pipeline-bench: %dx%d frames, device %s, swap model %s, %d stage(s), "
            "batching on = up to %d frames within %.0f ms\n",
            clip.width, clip.height, models->device_name().c_str(), o.swap_model.c_str(), o.stages,
            o.max_batch, o.budget_ms);
        int failures = 0;
        const auto report_errors = [&](const RunResult& r) {
            if (r.failed == 0) return;
            ++failures;
            std::printf("  %lld frames failed, the first: %s\n", static_cast<long long>(r.failed),
                        r.first_error.c_str());
        };
        if (o.single) {
            const RunResult r = run(o, models, swap_model, config, clip, 1, true, !o.paced);
            std::printf(
                "single stream %dx%d, %s: %.1f FPS, latency p50 %.1f ms, p95 %.1f ms, max %.1f "
                "ms\n",
                clip.width, clip.height,
                o.paced ? "offered as a camera would" : "as fast as it goes", r.total_fps, r.p50_ms,
                r.p95_ms, r.max_ms);
            std::printf(
                "  per frame (ms): detect %.1f (inline on %.1f%% of frames; periodic detection "
                "runs beside), landmarks+align %.1f, generate %.1f, merge %.1f; per batch: "
                "stage 1 %.1f, stage 2 %.1f\n",
                r.detect_ms, 100 * r.detector_share, r.landmarks_ms, r.generate_ms, r.merge_ms,
                r.stage1_ms, r.stage2_ms);
            std::printf(
                "  pipeline parts per frame (ms): analyse+encode %.1f, decode %.1f, merge %.1f; "
                "decoded on stage 1 in %.0f%% of batches\n",
                r.analyse_encode_ms, r.decode_ms, r.pipeline_merge_ms, 100 * r.stage1_decode_share);
            report_errors(r);
            return failures ? 1 : 0;
        }
        std::printf("%7s %8s %10s %12s %12s %9s %9s %10s %8s %7s\n", "streams", "batching",
                    "offered", "swapped_fps", "slowest/mean", "p50_ms", "p95_ms", "mean_batch",
                    "dropped", "splits");
        for (const int n : o.streams) {
            for (const bool batching : {true, false}) {
                if ((batching && o.batching == "off") || (!batching && o.batching == "on"))
                    continue;
                const RunResult r = run(o, models, swap_model, config, clip, n, batching, false);
                std::printf("%7d %8s %10.0f %12.1f %12.2f %9.1f %9.1f %10.2f %7.1f%% %7lld\n", n,
                            batching ? "on" : "off", n * o.fps, r.total_fps,
                            r.mean_stream_fps > 0 ? r.slowest_stream_fps / r.mean_stream_fps : 0.0,
                            r.p50_ms, r.p95_ms, r.mean_batch, 100 * r.dropped_fraction,
                            static_cast<long long>(r.splits));
                std::fflush(stdout);
                report_errors(r);
            }
        }
        return failures ? 1 : 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
