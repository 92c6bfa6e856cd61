// The inference scheduler for processors without a pipeline of their own (--engine none): the
// one thread that runs them. Sessions (on network threads)
// submit decoded frames; the scheduler takes up to batch_size frames from different sessions,
// round-robin, runs them through the ProcessorFactory and hands each outcome to its job's
// deliver callback (which posts it to the session's strand). Network threads never run
// inference, and a slow session cannot starve the others.
//
// Backpressure: each session has at most per_session_depth frames waiting (1 by default: the
// newest frame wins). A frame displaced by a newer one is delivered as dropped, and its session
// tells the client ("skipped"), so the frame the engine takes next is always the freshest.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "metrics.h"
#include "processor.h"

namespace faceswap::server {

struct FrameOutcome {
    ProcessedFrame output;
    std::string error;     // processing failed
    bool dropped = false;  // displaced by a newer frame of the same session: no output
    double queue_ms = 0;
    double engine_ms = 0;
};

struct FrameJob {
    std::uint64_t session_id = 0;
    std::shared_ptr<StreamProcessor> processor;
    std::vector<std::uint8_t> bgr;
    int width = 0;
    int height = 0;
    double timestamp_s = 0;
    // Runs on the scheduler thread; must only hand the outcome over (post to a strand).
    std::function<void(FrameOutcome&&)> deliver;
    std::chrono::steady_clock::time_point enqueued;
};

struct SchedulerConfig {
    int batch_size = 8;
    std::chrono::milliseconds batch_wait{0};
    std::chrono::milliseconds batch_latency{60};  // the engine pipeline's latency budget
    int stages = 2;
    int per_session_depth = 1;
};

// What sessions hand their frames to. The engine brings its own (the engine's SwapPipeline,
// see ProcessorFactory::make_scheduler); InferenceScheduler serves every other processor.
class FrameScheduler {
  public:
    virtual ~FrameScheduler() = default;
    virtual void start() = 0;
    virtual void stop() = 0;  // finishes the batch running, discards what is queued, joins
    // Never blocks for long: called on network threads.
    virtual void submit(FrameJob job) = 0;
    virtual void forget(std::uint64_t session_id) = 0;  // a closed session: its frames go
    // Appends the scheduler's own Prometheus metrics to /metrics (none by default).
    virtual void render_metrics(std::string& out) const { (void)out; }
};

class InferenceScheduler final : public FrameScheduler {
  public:
    InferenceScheduler(std::shared_ptr<ProcessorFactory> factory, SchedulerConfig config,
                       ServerMetrics& metrics);
    ~InferenceScheduler() override;
    InferenceScheduler(const InferenceScheduler&) = delete;
    InferenceScheduler& operator=(const InferenceScheduler&) = delete;

    void start() override;
    void stop() override;

    void submit(FrameJob job) override;
    void forget(std::uint64_t session_id) override;

  private:
    void run();
    std::vector<FrameJob> take_batch(std::unique_lock<std::mutex>& lock);

    std::shared_ptr<ProcessorFactory> factory_;
    SchedulerConfig config_;
    ServerMetrics& metrics_;

    std::mutex mu_;
    std::condition_variable cv_;
    std::map<std::uint64_t, std::deque<FrameJob>> queues_;
    std::deque<std::uint64_t> ready_;  // sessions with queued frames, in turn order
    std::size_t queued_ = 0;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace faceswap::server
