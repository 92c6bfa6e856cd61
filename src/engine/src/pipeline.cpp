// SwapPipeline: streams, their waiting frames, the two stage threads and the shared detector.
// The batched work itself is in batching.h (engine.cpp, swapper.cpp); this file only decides
// which frames go together and hands results back. No Torch here.
#include "faceswap/pipeline.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "batching.h"
#include "cpu_threads.h"
#include "faceswap/clock.h"
#include "faceswap/stats.h"

namespace faceswap {

namespace {

using clock::Clock;
using clock::ms_between;

std::string message_of(const std::exception_ptr& error) {
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        return detail::first_line(e);
    } catch (...) {
        return "unknown error";
    }
}

}  // namespace

namespace detail {
namespace {
std::mutex batch_fault_mutex;
BatchFault batch_fault;
}  // namespace
void set_batch_fault_for_tests(BatchFault fault) {
    std::lock_guard lock(batch_fault_mutex);
    batch_fault = std::move(fault);
}
void inject_batch_fault(const char* pass, std::size_t batch_size) {
    BatchFault fault;
    {
        std::lock_guard lock(batch_fault_mutex);
        fault = batch_fault;
    }
    if (fault) fault(pass, batch_size);
}
}  // namespace detail

namespace {

// A camera frame read in place, copied tightly packed (width * 3 a row): a pass-through
// stream's output must own its bytes once the camera reuses its buffer.
std::vector<std::uint8_t> copy_shared_frame(const PipelineFrame& frame) {
    const std::size_t row = static_cast<std::size_t>(frame.width) * 3;
    std::vector<std::uint8_t> pixels(row * frame.height);
    for (int y = 0; y < frame.height; ++y)
        std::memcpy(pixels.data() + row * y,
                    frame.shared + static_cast<std::size_t>(y) * frame.shared_stride, row);
    return pixels;
}

}  // namespace

void PipelineConfig::validate() const {
    auto check = [](bool ok, const std::string& message) {
        if (!ok) throw Error(ErrorCode::kInvalidArgument, "invalid pipeline setting: " + message);
    };
    check(max_batch >= 1 && max_batch <= 64, "max_batch must be 1 to 64");
    check(max_batch_wait_ms >= 0 && max_batch_wait_ms <= 1000,
          "max_batch_wait_ms must be 0 to 1000");
    check(batch_latency_ms >= 0 && batch_latency_ms <= 10000,
          "batch_latency_ms must be 0 to 10000");
    check(threads_per_stage >= 0, "threads_per_stage must be >= 0 (0 = share the cores)");
}

struct SwapPipeline::Impl {
    struct Stream {
        StreamId id = 0;
        // Stage 1 prepares with it (one batch at a time), stage 2 completes; none for a
        // pass-through stream, whose frames come back as they went in.
        std::optional<FaceSwapper> swapper;
        ResultCallback callback;
        FramePolicy policy = FramePolicy::kNewest;
        std::optional<PipelineFrame> waiting;
        Clock::time_point waiting_since;
        std::optional<SwapConfig> new_config;  // applied by stage 1 before its next frame
        bool reset_requested = false;
        int in_flight = 0;  // taken or displaced, callback not yet returned
        bool closing = false;
        bool released = false;  // release_stream: the last delivery forgets it
        std::int64_t swapped = 0, dropped = 0, failed = 0;
        Clock::time_point opened = Clock::now();

        Stream(std::optional<FaceSwapper> s, ResultCallback cb, FramePolicy p)
            : swapper(std::move(s)), callback(std::move(cb)), policy(p) {}
    };

    // A frame on its way through the stages.
    struct Taken {
        std::shared_ptr<Stream> stream;
        PipelineFrame frame;
        Clock::time_point submitted;
        double queue_ms = 0;
        std::shared_ptr<PreparedSwap> prepared;
        std::exception_ptr error;
        bool swaps() const { return stream->swapper.has_value(); }
    };
    using Batch = std::vector<Taken>;

    std::shared_ptr<const FaceModels> face_models;
    EngineConfig engine_config;
    PipelineConfig config;
    int threads_per_stage = 1;
    std::shared_ptr<detail::DetectionWorker> detection_worker;

    mutable std::mutex mutex;
    std::condition_variable changed;  // any change of the state below
    std::map<StreamId, std::shared_ptr<Stream>> streams;
    std::deque<StreamId> ready;     // streams with a waiting frame, in turn order
    std::optional<Batch> handover;  // prepared by stage 1, not yet taken by stage 2
    StreamId next_id = 1;
    bool stopping = false;

    // Metrics (under mutex).
    std::vector<std::int64_t> batch_sizes;
    std::vector<double> queue_samples;  // ring of the last kQueueSamples
    std::size_t queue_next = 0;
    static constexpr std::size_t kQueueSamples = 1024;
    double stage1_ms_total = 0, stage2_ms_total = 0;
    std::int64_t stage1_batches = 0, stage2_batches = 0;
    std::int64_t swapped = 0, dropped = 0, failed = 0;
    // A batched pass that failed (a device out of memory) was split and run again in halves:
    // from then on batches stay at most half that size, and the cap grows back by one frame
    // every kCapRecoveryBatches batches without a split.
    std::int64_t batch_splits = 0;
    int failure_cap = 0;  // 0: none
    int batches_since_split = 0;
    static constexpr int kCapRecoveryBatches = 256;
    void learn_splits(int splits, std::size_t frames) {
        if (splits > 0) {
            batch_splits += splits;
            failure_cap = std::max(1, static_cast<int>(frames) / 2);
            batches_since_split = 0;
        } else if (failure_cap > 0 && ++batches_since_split >= kCapRecoveryBatches) {
            batches_since_split = 0;
            failure_cap = failure_cap + 1 >= config.max_batch ? 0 : failure_cap + 1;
        }
    }
    // The latency budget: each stage's time per frame, averaged over recent batches; the
    // slower stage is what a bigger batch would wait for.
    double stage_frame_ms[2] = {0, 0};
    // One batch's ms per frame into a running average (the first batch sets it).
    static void learn_average(double& average, double ms, std::size_t frames) {
        const double cost = ms / static_cast<double>(std::max<std::size_t>(1, frames));
        average = average == 0 ? cost : 0.8 * average + 0.2 * cost;
    }
    void learn_frame_cost(int stage, double stage_ms, std::size_t frames) {
        learn_average(stage_frame_ms[stage], stage_ms, frames);
    }
    double frame_cost_ms() const {  // one stage thread runs both when there is one
        return config.two_stages ? std::max(stage_frame_ms[0], stage_frame_ms[1])
                                 : stage_frame_ms[0] + stage_frame_ms[1];
    }
    int batch_limit() const {
        const int cap = failure_cap > 0 ? failure_cap : config.max_batch;
        const double cost = frame_cost_ms();
        if (config.batch_latency_ms <= 0 || cost <= 0) return cap;
        const int fit = static_cast<int>(config.batch_latency_ms / cost);
        return std::clamp(fit, 1, cap);
    }

    // Where the decoders run with two stages: on the stage whose other work is lighter (stage
    // 1's analysis and encoding, or stage 2's merge), so the slower stage, which sets the frame
    // rate and most of the latency, is as fast as it can be: with a work, d decoding and m
    // merging per frame, max(a + d, m) < max(a, m + d) exactly when a < m. Each part's time
    // per frame, averaged over recent batches (0 until measured: decoding starts on stage 2).
    double part_frame_ms[3] = {0, 0, 0};  // stage 1 without decoding, decoding, merging
    enum Part { kAnalyseEncode, kDecode, kMerge };
    void learn_part_cost(Part part, double ms, std::size_t frames) {
        learn_average(part_frame_ms[part], ms, frames);
    }
    bool decode_on_stage1() const {
        using Stage = PipelineConfig::DecoderStage;
        if (!config.two_stages || config.decoder_stage == Stage::kSecond) return false;
        if (config.decoder_stage == Stage::kFirst) return true;
        return part_frame_ms[kAnalyseEncode] > 0 && part_frame_ms[kMerge] > 0 &&
               part_frame_ms[kAnalyseEncode] < part_frame_ms[kMerge];
    }
    std::int64_t stage1_decodes = 0;  // batches decoded on stage 1

    std::thread stage1_thread, stage2_thread;

    std::shared_ptr<Stream> find(StreamId id) const {
        const auto it = streams.find(id);
        if (it == streams.end() || it->second->closing)
            throw Error(ErrorCode::kInvalidArgument,
                        "pipeline stream " + std::to_string(id) + " is not open");
        return it->second;
    }

    StreamId add_stream(std::optional<FaceSwapper> swapper, ResultCallback on_result,
                        FramePolicy policy);
    void run_stage1();
    void run_stage2();
    Batch take_batch(std::unique_lock<std::mutex>& lock);
    void prepare(Batch& batch);
    // decode_batch or complete_batch over the batch's prepared frames; the frames' errors
    // are recorded in the batch. Returns the batched passes' splits.
    int run_on_prepared(Batch& batch, int (*stage)(std::span<detail::CompletionSlot>),
                        std::vector<SwapResult>* results);
    void complete(Batch& batch);
    void deliver(const std::shared_ptr<Stream>& stream, PipelineResult&& result);
    // Marks a stream closing and drops its waiting frame; true when nothing of it is in flight.
    bool begin_close(const std::shared_ptr<Stream>& stream) {
        stream->closing = true;
        if (stream->waiting) {
            stream->waiting.reset();
            ready.erase(std::remove(ready.begin(), ready.end(), stream->id), ready.end());
        }
        return stream->in_flight == 0;
    }
};

SwapPipeline::SwapPipeline(std::shared_ptr<const FaceModels> face_models,
                           const EngineConfig& config, const PipelineConfig& pipeline_config)
    : impl_(std::make_unique<Impl>()) {
    config.validate();
    pipeline_config.validate();
    Impl& s = *impl_;
    s.face_models = std::move(face_models);
    s.engine_config = config;
    s.config = pipeline_config;
    const int stages = pipeline_config.two_stages ? 2 : 1;
    const int cores = detail::resolve_cpu_threads(config.cpu_threads);
    s.threads_per_stage = pipeline_config.threads_per_stage > 0 ? pipeline_config.threads_per_stage
                                                                : std::max(1, cores / stages);
    if (s.face_models && config.tracking && config.background_detection)
        s.detection_worker = std::make_shared<detail::DetectionWorker>();
    s.batch_sizes.assign(pipeline_config.max_batch + 1, 0);
    s.stage1_thread = std::thread([&s] { s.run_stage1(); });
    if (pipeline_config.two_stages) s.stage2_thread = std::thread([&s] { s.run_stage2(); });
}

SwapPipeline::~SwapPipeline() {
    std::vector<StreamId> open;
    {
        std::lock_guard lock(impl_->mutex);
        for (const auto& [id, stream] : impl_->streams) open.push_back(id);
    }
    for (StreamId id : open) close_stream(id);
    {
        std::lock_guard lock(impl_->mutex);
        impl_->stopping = true;
    }
    impl_->changed.notify_all();
    impl_->stage1_thread.join();
    if (impl_->stage2_thread.joinable()) impl_->stage2_thread.join();
}

const PipelineConfig& SwapPipeline::config() const {
    return impl_->config;
}

StreamId SwapPipeline::open_stream(std::shared_ptr<const SwapModel> swap_model,
                                   const SwapConfig& swap_config, ResultCallback on_result,
                                   FramePolicy policy) {
    if (!swap_model) throw Error(ErrorCode::kInvalidArgument, "open_stream needs a swap model");
    Impl& s = *impl_;
    if (!s.face_models)
        throw Error(ErrorCode::kInvalidArgument,
                    "this pipeline has no face models: it carries pass-through streams only");
    FaceSwapper swapper(s.face_models, std::move(swap_model), s.engine_config, swap_config);
    if (s.detection_worker) detail::share_detection_worker(swapper, s.detection_worker);
    return s.add_stream(std::move(swapper), std::move(on_result), policy);
}

StreamId SwapPipeline::open_passthrough_stream(ResultCallback on_result, FramePolicy policy) {
    return impl_->add_stream(std::nullopt, std::move(on_result), policy);
}

StreamId SwapPipeline::Impl::add_stream(std::optional<FaceSwapper> swapper,
                                        ResultCallback on_result, FramePolicy policy) {
    if (!on_result) throw Error(ErrorCode::kInvalidArgument, "a pipeline stream needs a callback");
    auto stream = std::make_shared<Stream>(std::move(swapper), std::move(on_result), policy);
    std::lock_guard lock(mutex);
    stream->id = next_id++;
    streams[stream->id] = stream;
    return stream->id;
}

void SwapPipeline::submit(StreamId id, PipelineFrame frame) {
    const bool shared = frame.pixels.empty() && frame.shared;
    if (frame.width <= 0 || frame.height <= 0 ||
        (!shared &&
         frame.pixels.size() != static_cast<std::size_t>(frame.width) * frame.height * 3))
        throw Error(ErrorCode::kInvalidArgument,
                    "pipeline frame: " + std::to_string(frame.pixels.size()) +
                        " bytes do not make a " + std::to_string(frame.width) + "x" +
                        std::to_string(frame.height) + " 3-channel picture");
    if (shared && frame.shared_stride < frame.width * 3)
        throw Error(ErrorCode::kInvalidArgument,
                    "pipeline frame: rows " + std::to_string(frame.shared_stride) +
                        " bytes apart cannot hold " + std::to_string(frame.width) +
                        " 3-byte pixels");
    Impl& s = *impl_;
    std::optional<PipelineFrame> displaced;
    std::shared_ptr<Impl::Stream> stream;
    {
        std::unique_lock lock(s.mutex);
        stream = s.find(id);
        if (stream->policy == FramePolicy::kEvery)
            s.changed.wait(lock, [&] { return !stream->waiting || stream->closing; });
        if (stream->closing) return;
        if (stream->waiting) {
            displaced = std::move(stream->waiting);
            ++stream->in_flight;
        } else {
            s.ready.push_back(id);
        }
        stream->waiting = std::move(frame);
        stream->waiting_since = Clock::now();
    }
    s.changed.notify_all();
    if (displaced) {
        PipelineResult result;
        result.frame_id = displaced->frame_id;
        result.dropped = true;
        s.deliver(stream, std::move(result));
    }
}

void SwapPipeline::set_swap_config(StreamId id, const SwapConfig& swap_config) {
    std::lock_guard lock(impl_->mutex);
    impl_->find(id)->new_config = swap_config;
}

void SwapPipeline::reset(StreamId id) {
    std::lock_guard lock(impl_->mutex);
    impl_->find(id)->reset_requested = true;
}

void SwapPipeline::close_stream(StreamId id) {
    Impl& s = *impl_;
    std::shared_ptr<Impl::Stream> stream;  // destroyed (with its swapper) outside the lock
    {
        std::unique_lock lock(s.mutex);
        const auto it = s.streams.find(id);
        if (it == s.streams.end()) return;
        stream = it->second;
        s.begin_close(stream);
        s.changed.notify_all();  // a kEvery submit() waiting on it returns
        s.changed.wait(lock, [&] { return stream->in_flight == 0; });
        s.streams.erase(id);
    }
}

void SwapPipeline::release_stream(StreamId id) {
    Impl& s = *impl_;
    std::shared_ptr<Impl::Stream> stream;  // destroyed outside the lock
    {
        std::lock_guard lock(s.mutex);
        const auto it = s.streams.find(id);
        if (it == s.streams.end()) return;
        stream = it->second;
        stream->released = true;
        if (s.begin_close(stream)) s.streams.erase(it);
    }
    s.changed.notify_all();
}

PipelineMetrics SwapPipeline::metrics() const {
    const Impl& s = *impl_;
    std::lock_guard lock(s.mutex);
    PipelineMetrics m;
    m.batch_sizes = s.batch_sizes;
    m.frames_swapped = s.swapped;
    m.frames_dropped = s.dropped;
    m.frames_failed = s.failed;
    m.queue_ms_p50 = stats::percentile(s.queue_samples, 0.50);
    m.queue_ms_p95 = stats::percentile(s.queue_samples, 0.95);
    m.stage1_ms_mean = s.stage1_batches ? s.stage1_ms_total / s.stage1_batches : 0;
    m.stage2_ms_mean = s.stage2_batches ? s.stage2_ms_total / s.stage2_batches : 0;
    m.frame_cost_ms = s.frame_cost_ms();
    m.decode_ms = s.part_frame_ms[Impl::kDecode];
    m.merge_ms = s.part_frame_ms[Impl::kMerge];
    m.analyse_encode_ms = s.part_frame_ms[Impl::kAnalyseEncode];
    m.stage1_decoded_batches = s.stage1_decodes;
    m.batch_limit = s.batch_limit();
    m.batch_splits = s.batch_splits;
    m.detector_backlog = s.detection_worker ? s.detection_worker->backlog() : 0;
    const auto now = Clock::now();
    for (const auto& [id, stream] : s.streams) {
        const double seconds = ms_between(stream->opened, now) / 1000.0;
        m.streams.push_back({id, stream->swapped, stream->dropped, stream->failed,
                             seconds > 0 ? stream->swapped / seconds : 0});
    }
    return m;
}

// Up to max_batch streams' waiting frames, one per stream, in turn: a stream taken goes to the
// back of the line when it next has a frame, so no stream waits more than one batch for its
// turn however many frames the others send.
SwapPipeline::Impl::Batch SwapPipeline::Impl::take_batch(std::unique_lock<std::mutex>&) {
    Batch batch;
    const auto now = Clock::now();
    const int limit = batch_limit();
    while (!ready.empty() && static_cast<int>(batch.size()) < limit) {
        const StreamId id = ready.front();
        ready.pop_front();
        const auto it = streams.find(id);
        if (it == streams.end() || !it->second->waiting) continue;
        const std::shared_ptr<Stream>& stream = it->second;
        Taken taken;
        taken.stream = stream;
        taken.frame = std::move(*stream->waiting);
        stream->waiting.reset();
        taken.submitted = stream->waiting_since;
        taken.queue_ms = ms_between(taken.submitted, now);
        ++stream->in_flight;
        // Settings change between frames, on the thread that uses the swapper.
        if (stream->new_config && stream->swapper)
            stream->swapper->set_swap_config(*std::exchange(stream->new_config, {}));
        if (std::exchange(stream->reset_requested, false) && stream->swapper)
            stream->swapper->reset();
        if (queue_samples.size() < kQueueSamples)
            queue_samples.push_back(taken.queue_ms);
        else
            queue_samples[queue_next] = taken.queue_ms;
        queue_next = (queue_next + 1) % kQueueSamples;
        batch.push_back(std::move(taken));
    }
    if (!batch.empty()) ++batch_sizes[batch.size()];
    return batch;
}

void SwapPipeline::Impl::run_stage1() {
    detail::use_cpu_threads(threads_per_stage);
    for (;;) {
        Batch batch;
        {
            std::unique_lock lock(mutex);
            // A new batch only once stage 2 has taken the last one: frames are taken as late,
            // so as fresh, as they can be, and none is prepared only to wait.
            changed.wait(lock, [&] { return stopping || (!ready.empty() && !handover); });
            if (stopping) return;
            if (config.max_batch_wait_ms > 0 && static_cast<int>(ready.size()) < batch_limit()) {
                const auto deadline =
                    Clock::now() + std::chrono::microseconds(
                                       static_cast<std::int64_t>(config.max_batch_wait_ms * 1000));
                changed.wait_until(lock, deadline, [&] {
                    return stopping || static_cast<int>(ready.size()) >= batch_limit();
                });
                if (stopping) return;
            }
            batch = take_batch(lock);
        }
        changed.notify_all();  // kEvery submitters may go on
        if (batch.empty()) continue;
        prepare(batch);
        if (!config.two_stages) {
            complete(batch);
            continue;
        }
        {
            std::lock_guard lock(mutex);
            handover = std::move(batch);
        }
        changed.notify_all();
    }
}

void SwapPipeline::Impl::run_stage2() {
    detail::use_cpu_threads(threads_per_stage);
    for (;;) {
        Batch batch;
        {
            std::unique_lock lock(mutex);
            changed.wait(lock, [&] { return stopping || handover; });
            if (!handover) return;  // stopping
            batch = std::move(*handover);
            handover.reset();
        }
        changed.notify_all();  // stage 1 may take the next batch
        complete(batch);
    }
}

void SwapPipeline::Impl::prepare(Batch& batch) {
    const auto start = Clock::now();
    std::vector<detail::SwapSlot> slots;
    std::vector<size_t> index;  // batch position of each slot: pass-through frames have none
    for (size_t i = 0; i < batch.size(); ++i) {
        Taken& t = batch[i];
        const bool shared = t.frame.pixels.empty();
        if (!t.swaps()) {
            if (shared) t.frame.pixels = copy_shared_frame(t.frame);  // the output owns its bytes
            continue;
        }
        index.push_back(i);
        slots.push_back(
            {&*t.stream->swapper,
             FrameView{shared ? t.frame.shared : t.frame.pixels.data(), t.frame.width,
                       t.frame.height, shared ? t.frame.shared_stride : t.frame.width * 3,
                       t.frame.format},
             t.frame.timestamp_s,
             // A moved-in frame becomes the output: no copy; a shared one is copied
             // into the output once.
             shared ? nullptr : &t.frame.pixels, nullptr, nullptr});
    }
    const int splits = slots.empty() ? 0 : detail::prepare_batch(slots);
    for (size_t k = 0; k < slots.size(); ++k) {
        Taken& t = batch[index[k]];
        t.prepared = std::move(slots[k].prepared);
        t.error = slots[k].error;
        t.frame.pixels = {};  // moved into the prepared job, or no longer needed
    }
    for (Taken& t : batch) {
        t.frame.keep_alive.reset();
        t.frame.shared = nullptr;
    }
    const auto prepared = Clock::now();
    bool decode_here;
    {
        std::lock_guard lock(mutex);
        learn_part_cost(kAnalyseEncode, ms_between(start, prepared), batch.size());
        decode_here = decode_on_stage1();
    }
    int decode_splits = 0;
    if (decode_here) decode_splits = run_on_prepared(batch, &detail::decode_batch, nullptr);
    const auto now = Clock::now();
    const double ms = ms_between(start, now);
    std::lock_guard lock(mutex);
    if (decode_here) {
        learn_part_cost(kDecode, ms_between(prepared, now), batch.size());
        ++stage1_decodes;
    }
    stage1_ms_total += ms;
    ++stage1_batches;
    learn_frame_cost(0, ms, batch.size());
    learn_splits(splits + decode_splits, batch.size());
}

int SwapPipeline::Impl::run_on_prepared(Batch& batch,
                                        int (*stage)(std::span<detail::CompletionSlot>),
                                        std::vector<SwapResult>* results) {
    std::vector<detail::CompletionSlot> slots;
    std::vector<size_t> index;  // batch position of each slot
    for (size_t i = 0; i < batch.size(); ++i) {
        if (batch[i].error || !batch[i].swaps()) continue;
        slots.push_back({&*batch[i].stream->swapper, std::move(batch[i].prepared), {}, nullptr});
        index.push_back(i);
    }
    const int splits = slots.empty() ? 0 : stage(slots);
    for (size_t k = 0; k < slots.size(); ++k) {
        Taken& taken = batch[index[k]];
        taken.prepared = std::move(slots[k].prepared);
        if (slots[k].error)
            taken.error = slots[k].error;
        else if (results)
            (*results)[index[k]] = std::move(slots[k].result);
    }
    return splits;
}

void SwapPipeline::Impl::complete(Batch& batch) {
    const auto start = Clock::now();
    // Frames stage 1 did not decode are decoded here first, timed apart from the merge.
    const bool decoded = std::any_of(batch.begin(), batch.end(), [](const Taken& t) {
        return !t.error && t.swaps() && detail::needs_decoding(*t.prepared);
    });
    int splits = decoded ? run_on_prepared(batch, &detail::decode_batch, nullptr) : 0;
    const auto merging = Clock::now();
    std::vector<SwapResult> swaps(batch.size());
    splits += run_on_prepared(batch, &detail::complete_batch, &swaps);
    {
        const auto now = Clock::now();
        std::lock_guard lock(mutex);
        if (decoded) learn_part_cost(kDecode, ms_between(start, merging), batch.size());
        learn_part_cost(kMerge, ms_between(merging, now), batch.size());
        stage2_ms_total += ms_between(start, now);
        ++stage2_batches;
        learn_frame_cost(1, ms_between(start, now), batch.size());
        if (splits > 0) learn_splits(splits, batch.size());
    }
    const auto now = Clock::now();
    for (size_t i = 0; i < batch.size(); ++i) {
        PipelineResult result;
        if (!batch[i].swaps()) {
            Taken& t = batch[i];  // pass-through: the frame itself, no face analysed
            result.swap.width = t.frame.width;
            result.swap.height = t.frame.height;
            result.swap.format = t.frame.format;
            result.swap.pixels = std::move(t.frame.pixels);
        } else if (!batch[i].error) {
            result.swap = std::move(swaps[i]);
        }
        result.frame_id = batch[i].frame.frame_id;
        result.queue_ms = batch[i].queue_ms;
        result.latency_ms = ms_between(batch[i].submitted, now);
        result.batch_size = static_cast<int>(batch.size());
        result.batch_index = static_cast<int>(i);
        if (batch[i].error) result.error = message_of(batch[i].error);
        deliver(batch[i].stream, std::move(result));
    }
}

void SwapPipeline::Impl::deliver(const std::shared_ptr<Stream>& stream, PipelineResult&& result) {
    bool call;
    {
        std::lock_guard lock(mutex);
        if (result.dropped) {
            ++dropped, ++stream->dropped;
        } else if (!result.error.empty()) {
            ++failed, ++stream->failed;
        } else {
            ++swapped, ++stream->swapped;
        }
        call = !stream->closing;
    }
    if (call) {
        try {
            stream->callback(std::move(result));
        } catch (...) {
            // A callback that throws loses its own result, nothing else.
        }
    }
    std::shared_ptr<Stream> forgotten;  // a released stream's last delivery: it goes here
    {
        std::lock_guard lock(mutex);
        if (--stream->in_flight == 0 && stream->released) {
            const auto it = streams.find(stream->id);
            if (it != streams.end() && it->second == stream) {
                forgotten = it->second;
                streams.erase(it);
            }
        }
    }
    changed.notify_all();
}

}  // namespace faceswap
