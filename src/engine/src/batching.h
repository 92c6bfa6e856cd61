// Internal: the engine's batched stages, for the streaming pipeline (pipeline.cpp). Several
// streams' frames go through one landmark-net pass, one encoder pass per swap model and one
// decoder pass per (model, direction); everything per stream (tracking, smoothing, merging)
// stays per stream. The public classes keep their own one-frame API on top of the same code.
//
// Threading: as the public classes. A slot's analyzer or swapper belongs to that call alone
// while it runs, and one batch holds each analyzer or swapper at most once.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>

#include "faceswap/engine.h"
#include "faceswap/swap.h"

namespace faceswap::detail {

// The first line of an exception's message (Torch's carry a stack trace after it).
inline std::string first_line(const std::exception& e) {
    const std::string what = e.what();
    return what.substr(0, what.find('\n'));
}

// Engine errors pass through; anything else (a Torch error) becomes one line of kInternal,
// "<doing> failed: <first line>".
inline std::exception_ptr as_engine_error(std::exception_ptr error, const std::string& doing) {
    try {
        std::rethrow_exception(error);
    } catch (const Error&) {
        return std::current_exception();
    } catch (const std::exception& e) {
        return std::make_exception_ptr(
            Error(ErrorCode::kInternal, doing + " failed: " + first_line(e)));
    } catch (...) {
        return std::make_exception_ptr(Error(ErrorCode::kInternal, doing + " failed"));
    }
}

// Test seam: called before every batched device pass with the pass's name ("landmarks",
// "encode", "decode") and its batch size. A test makes it throw to stand in for a device that
// runs out of memory on big batches. Unset (the default) it does nothing.
using BatchFault = std::function<void(const char* pass, std::size_t batch_size)>;
void set_batch_fault_for_tests(BatchFault fault);
void inject_batch_fault(const char* pass, std::size_t batch_size);

// Runs `pass(begin, end)` over the items [begin, end) as one batch. When it throws and the
// range holds more than one item, each half is run again on its own: a device that ran out of
// memory, or one item that cannot go through, then costs a smaller batch rather than every
// frame in it. An item that fails on its own gets `fail(i, error)`. Returns how many times a
// batch was split (the pipeline counts it and lowers its batch size).
template <class Pass, class Fail>
int run_halving_on_failure(const char* name, std::size_t begin, std::size_t end, Pass& pass,
                           Fail& fail) {
    if (begin >= end) return 0;
    try {
        inject_batch_fault(name, end - begin);
        pass(begin, end);
        return 0;
    } catch (...) {
        if (end - begin == 1) {
            fail(begin, std::current_exception());
            return 0;
        }
    }
    const std::size_t middle = begin + (end - begin) / 2;
    return 1 + run_halving_on_failure(name, begin, middle, pass, fail) +
           run_halving_on_failure(name, middle, end, pass, fail);
}

// The private state behind the public handles, for code inside src/engine only (the headers
// declare it a friend instead of exposing an accessor).
struct Access {
    static const FaceModels::Impl& of(const FaceModels& models) { return *models.impl_; }
    static const SwapModel::Impl& of(const SwapModel& model) { return *model.impl_; }
    static FaceAnalyzer::Impl& of(FaceAnalyzer& analyzer) { return *analyzer.impl_; }
    static const FaceAnalyzer::Impl& of(const FaceAnalyzer& analyzer) { return *analyzer.impl_; }
    static FaceSwapper::Impl& of(FaceSwapper& swapper) { return *swapper.impl_; }
    static const FaceSwapper::Impl& of(const FaceSwapper& swapper) { return *swapper.impl_; }
};

// One thread that runs posted tasks in order: the periodic detector of every stream of a
// pipeline, instead of a thread per stream. Tasks must not throw. Pending tasks still run
// before the destructor returns.
class DetectionWorker {
  public:
    DetectionWorker();
    ~DetectionWorker();
    DetectionWorker(const DetectionWorker&) = delete;
    DetectionWorker& operator=(const DetectionWorker&) = delete;
    void post(std::function<void()> task);
    std::size_t backlog() const;  // tasks waiting, the running one excluded

  private:
    void run();
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<std::function<void()>> tasks_;
    bool stop_ = false;
    std::thread thread_;
};

// Makes the analyzer's periodic (background) detections run on `worker`, shared with other
// analyzers. Needs tracking and background_detection on; the analyzer must be idle.
void share_detection_worker(FaceAnalyzer& analyzer, std::shared_ptr<DetectionWorker> worker);
void share_detection_worker(FaceSwapper& swapper, std::shared_ptr<DetectionWorker> worker);

struct AnalysisSlot {
    FaceAnalyzer* analyzer = nullptr;
    FrameView frame;
    double timestamp_s = -1.0;
    CropOutput crops = CropOutput::kNone;
    FrameAnalysis result;      // out
    std::exception_ptr error;  // out: this slot failed (an Error); the others are unaffected
};

// FaceAnalyzer::analyze for several streams at once, with one landmark-net pass for all faces.
// The slots' analyzers share one FaceModels (the pass runs on the first slot's). Returns how
// many times a failed pass was split (run_halving_on_failure); so do the two below.
int analyze_batch(std::span<AnalysisSlot> slots);

struct SwapSlot {
    FaceSwapper* swapper = nullptr;
    FrameView frame;
    double timestamp_s = -1.0;
    // The frame's own buffer when the caller gives it up (tightly packed, what `frame` views):
    // it becomes the output's pixels after analysis instead of being copied.
    std::vector<std::uint8_t>* owned_pixels = nullptr;
    std::shared_ptr<PreparedSwap> prepared;  // out (owns a copy of the frame)
    std::exception_ptr error;                // out
};

// FaceSwapper::prepare for several streams: batched analysis, then one encoder pass per swap
// model for all their faces. A job keeps the frame's bytes (which become its output) and its
// faces' aligned crops, not the analyzer's upload: it may be completed on another thread
// while the analyzer takes its next frame.
int prepare_batch(std::span<SwapSlot> slots);

struct CompletionSlot {
    const FaceSwapper* swapper = nullptr;
    std::shared_ptr<PreparedSwap> prepared;
    SwapResult result;         // out
    std::exception_ptr error;  // out
};

// The decoders (and detail stage) for several prepared frames: one pass per (model,
// direction); each job keeps its faces for the merge. Frames decoded already, or without a
// face, are left as they are. The pipeline runs it on whichever stage is lighter without it.
int decode_batch(std::span<CompletionSlot> slots);
bool needs_decoding(const PreparedSwap& job);  // faces to swap, not decoded yet

// FaceSwapper::complete for several prepared frames: decode_batch for those not decoded yet,
// then each frame's merge.
int complete_batch(std::span<CompletionSlot> slots);

}  // namespace faceswap::detail
