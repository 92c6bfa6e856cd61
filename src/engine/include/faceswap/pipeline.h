// faceswap streaming pipeline: many video streams, one set of models, batched passes.
//
//   faceswap::SwapPipeline pipeline(face_models, config, faceswap::PipelineConfig{});
//   auto stream = pipeline.open_stream(swap_model, faceswap::SwapConfig{},
//                                      [](faceswap::PipelineResult&& r) { /* r.swap.pixels */ });
//   pipeline.submit(stream, {std::move(bgr), 640, 480});   // returns at once
//   ...
//   pipeline.close_stream(stream);
//
// What it does: stage 1 takes the newest waiting frame of up to max_batch streams, in turn,
// and analyses them together (one landmark-net pass for all their faces) and encodes their
// faces (one encoder pass per swap model); stage 2 decodes them (one pass per model and
// direction) and merges each face back, while stage 1 takes the next batch. The periodic
// detector of every stream runs on one shared thread. The app's local mode, the server and
// `faceswap convert` all run this class; nothing outside it starts engine threads.
//
// Threading contract:
// - Every method may be called from any thread; the pipeline serialises what needs it.
// - Callbacks run on the pipeline's stage threads (or, for a frame that submit() displaces,
//   on the thread calling submit()). They must return quickly (hand the result over) and must
//   not call close_stream() or the destructor; submit() from a callback is fine.
// - After close_stream(id) returns, that stream's callback is never called again (after
//   release_stream(id), none starts again). The destructor closes every stream still open.
// No Torch type appears here; errors are faceswap::Error.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "faceswap/engine.h"
#include "faceswap/swap.h"

namespace faceswap {

struct PipelineConfig {
    int max_batch = 4;  // frames, one per stream, in one batched pass; 1 = no batching
    // Once one stream has a frame waiting, how long stage 1 may wait for others to have one
    // too before it starts a batch smaller than max_batch: the latency a frame may pay for a
    // fuller batch. 0: never wait (a GPU at low load runs small batches at once).
    double max_batch_wait_ms = 0;
    // The time one stage may spend on a batch: stage 1 takes no more frames than fit, at the
    // per-frame cost it measured on recent batches. On a CPU a batch costs about its frames
    // one after another, so a budget below two frames' cost keeps batches at 1 (the latency of
    // each frame stays that of one); on a GPU the per-frame cost is small and batches fill up
    // to max_batch. 0 = no budget (always up to max_batch).
    double batch_latency_ms = 0;
    // Decode and merge on a second thread while stage 1 takes the next batch. On one core,
    // or for the lowest latency of a single stream on a GPU, one stage may be better.
    bool two_stages = true;
    // With two stages, which one runs the decoders (and the detail stage). kAuto: the stage
    // whose other work (analysis and encoding, or merging) measures lighter, so the slower
    // stage is as fast as it can be (docs/pipeline.md); the others fix it.
    enum class DecoderStage { kAuto, kFirst, kSecond };
    DecoderStage decoder_stage = DecoderStage::kAuto;
    // LibTorch CPU threads each stage thread uses; 0 = the cores shared out between stages.
    int threads_per_stage = 0;

    void validate() const;  // throws Error(kInvalidArgument) naming the field
};

// What a stream does with a frame submitted while its previous one still waits.
enum class FramePolicy {
    kNewest,  // live video: the waiting frame is dropped (delivered as dropped), newest wins
    kEvery,   // files: submit() blocks until the waiting frame is taken; every frame is swapped
};

struct PipelineFrame {
    std::vector<std::uint8_t> pixels;  // width * height * 3, tightly packed; moved in
    int width = 0;
    int height = 0;
    PixelFormat format = PixelFormat::BGR24;
    double timestamp_s = -1.0;   // as in FaceAnalyzer::analyze
    std::uint64_t frame_id = 0;  // the caller's; comes back with the result
    // Or, with `pixels` empty, a frame the caller shares with others (a camera frame its
    // preview also shows): read through `shared` (rows `shared_stride` bytes apart) and never
    // written; `keep_alive` holds it until the pipeline is done with it. The output is then
    // the one copy of the frame the pipeline makes (a moved-in frame becomes the output).
    const std::uint8_t* shared = nullptr;
    int shared_stride = 0;
    std::shared_ptr<const void> keep_alive;
};

struct PipelineResult {
    std::uint64_t frame_id = 0;
    bool dropped = false;   // displaced by a newer frame before it was taken: no swap, no pixels
    std::string error;      // one line; the stream goes on with its next frame
    SwapResult swap;        // the swapped frame when neither dropped nor failed
    double queue_ms = 0;    // from submit() until stage 1 took it
    double latency_ms = 0;  // from submit() until this callback
    int batch_size = 0;     // frames in the batch it went through
    int batch_index = 0;    // its place in that batch (0: the first; counting batches, say)
};

using StreamId = std::uint64_t;

struct PipelineMetrics {
    std::vector<std::int64_t> batch_sizes;  // [n]: batches of n frames so far ([0] unused)
    std::int64_t frames_swapped = 0, frames_dropped = 0, frames_failed = 0;
    double queue_ms_p50 = 0, queue_ms_p95 = 0;  // of the last 1024 frames taken
    double stage1_ms_mean = 0;                  // per batch: analysis + encoding
    double stage2_ms_mean = 0;                  // per batch: decoding + merging
    double frame_cost_ms = 0;  // the learned per-frame stage cost behind the latency budget
    // Per frame, averaged over recent batches: analysis and encoding, decoding (with the
    // detail stage), merging. With two stages the decoders run on the stage whose other work
    // is lighter (stage 1 when analyse_encode_ms < merge_ms); this counts the batches they
    // ran on stage 1.
    double analyse_encode_ms = 0, decode_ms = 0, merge_ms = 0;
    std::int64_t stage1_decoded_batches = 0;
    int batch_limit = 0;  // the batch size the budget (and any failure cap) allows now
    // Batched passes that failed (a device out of memory, say) and were run again in halves;
    // after one, batches stay at most half that size for a while. A frame that fails on its
    // own is counted in frames_failed for its stream alone.
    std::int64_t batch_splits = 0;
    std::size_t detector_backlog = 0;  // streams whose periodic detection waits for the thread
    struct Stream {
        StreamId id = 0;
        std::int64_t swapped = 0, dropped = 0, failed = 0;
        double fps = 0;  // swapped frames per second since the stream opened
    };
    std::vector<Stream> streams;
};

class SwapPipeline {
  public:
    // `config` as for FaceSwapper (the aligned size and coverage come from each swap model).
    // Without face models (nullptr) the pipeline carries pass-through streams only.
    SwapPipeline(std::shared_ptr<const FaceModels> face_models, const EngineConfig& config,
                 const PipelineConfig& pipeline_config = {});
    ~SwapPipeline();
    SwapPipeline(const SwapPipeline&) = delete;
    SwapPipeline& operator=(const SwapPipeline&) = delete;

    using ResultCallback = std::function<void(PipelineResult&&)>;
    StreamId open_stream(std::shared_ptr<const SwapModel> swap_model, const SwapConfig& swap_config,
                         ResultCallback on_result, FramePolicy policy = FramePolicy::kNewest);
    // A stream whose frames come back unchanged (no face analysed, SwapResult::analysis empty)
    // through the same mailbox, batches, stages and callbacks as a swapped stream's: the
    // server's transport benchmark (--engine none) and its network tests run the scheduling
    // production runs.
    StreamId open_passthrough_stream(ResultCallback on_result,
                                     FramePolicy policy = FramePolicy::kNewest);
    // Refuses (Error kInvalidArgument) a frame of the wrong size or an unknown stream id.
    void submit(StreamId stream, PipelineFrame frame);
    void set_swap_config(StreamId stream, const SwapConfig& swap_config);  // from its next frame
    void reset(StreamId stream);  // forget its tracks (a seek, a new source) before the next frame
    // Drops its waiting frame, waits for the ones being processed, then forgets the stream.
    // Unknown ids are ignored.
    void close_stream(StreamId stream);
    // close_stream without waiting, for a thread that must not block (a network thread): its
    // waiting frame goes and no callback of the stream starts after it returns, but one under
    // way may still be finishing; the pipeline forgets the stream when that one returns.
    void release_stream(StreamId stream);

    PipelineMetrics metrics() const;
    const PipelineConfig& config() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace faceswap
