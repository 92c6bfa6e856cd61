// The server's one scheduling path: sessions (on network threads) submit decoded frames; the
// engine's SwapPipeline takes the newest frame of each ready session into one batch (up to
// scheduler.batch_size, waiting at most batch_wait_ms for a fuller one, within the
// batch_latency_ms budget per stage), in turn, on its own threads, and each outcome goes back
// through its job's deliver callback (which posts it to the session's strand). Network threads
// never run inference, and a slow session cannot starve the others. The pass-through engine's
// streams run through the same pipeline (SwapPipeline::open_passthrough_stream).
//
// Backpressure: each session has one frame waiting at most (the newest wins). A frame displaced
// by a newer one is delivered as dropped, and its session tells the client ("skipped"), so the
// frame the engine takes next is always the freshest.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "faceswap/pipeline.h"
#include "metrics.h"
#include "processor.h"

namespace faceswap::server {

struct ProcessedFrame {
    std::vector<std::uint8_t> bgr;  // same size as the input, tightly packed BGR
    int faces = 0;
};

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
    // Runs on a pipeline thread; must only hand the outcome over (post to a strand).
    std::function<void(FrameOutcome&&)> deliver;
};

// The config file's [scheduler] section, under the same names.
struct SchedulerConfig {
    int batch_size = 8;
    int batch_wait_ms = 0;
    int batch_latency_ms = 60;  // engine time a batch may take per stage (0: no limit)
    int stages = 2;
};

class PipelineScheduler {
  public:
    // face_models: nullptr for a pass-through engine (its streams name no swap model).
    PipelineScheduler(std::shared_ptr<const FaceModels> face_models,
                      const EngineConfig& engine_config, const SchedulerConfig& config,
                      ServerMetrics& metrics);
    ~PipelineScheduler();
    PipelineScheduler(const PipelineScheduler&) = delete;
    PipelineScheduler& operator=(const PipelineScheduler&) = delete;

    void start();
    void stop();  // closes every stream (waiting for the batch running), discards the queued
    // Never blocks for long: called on network threads. A stream opens with its first frame.
    void submit(FrameJob job);
    void forget(std::uint64_t session_id);  // a closed session: its frames go
    // Appends the pipeline's own Prometheus metrics to /metrics.
    void render_metrics(std::string& out) const;

  private:
    struct Session {
        StreamId stream = 0;
        std::map<std::uint64_t, std::function<void(FrameOutcome&&)>> pending;  // by frame_id
    };
    void on_result(std::uint64_t session_id, PipelineResult&& result);

    std::shared_ptr<const FaceModels> face_models_;
    EngineConfig engine_config_;
    PipelineConfig pipeline_config_;
    ServerMetrics& metrics_;
    mutable std::mutex mutex_;
    std::shared_ptr<SwapPipeline> pipeline_;
    std::map<std::uint64_t, Session> sessions_;
    std::uint64_t next_frame_id_ = 0;
    std::int64_t queued_ = 0;
};

}  // namespace faceswap::server
