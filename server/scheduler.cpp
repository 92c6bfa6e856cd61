#include "scheduler.h"

#include <algorithm>
#include <sstream>

namespace faceswap::server {

PipelineScheduler::PipelineScheduler(std::shared_ptr<const FaceModels> face_models,
                                     const EngineConfig& engine_config,
                                     const SchedulerConfig& config, ServerMetrics& metrics)
    : face_models_(std::move(face_models)), engine_config_(engine_config), metrics_(metrics) {
    pipeline_config_.max_batch = config.batch_size;
    pipeline_config_.max_batch_wait_ms = config.batch_wait_ms;
    pipeline_config_.batch_latency_ms = config.batch_latency_ms;
    pipeline_config_.two_stages = config.stages == 2;
    pipeline_config_.validate();
}

PipelineScheduler::~PipelineScheduler() {
    stop();
}

void PipelineScheduler::start() {
    std::lock_guard lock(mutex_);
    if (!pipeline_)
        pipeline_ = std::make_shared<SwapPipeline>(face_models_, engine_config_, pipeline_config_);
}

void PipelineScheduler::stop() {
    std::shared_ptr<SwapPipeline> pipeline;
    {
        std::lock_guard lock(mutex_);
        pipeline = std::move(pipeline_);
        sessions_.clear();
        metrics_.queue_depth = 0;
    }
    pipeline.reset();  // closes every stream, joins its threads (callbacks take mutex_)
}

void PipelineScheduler::submit(FrameJob job) {
    PipelineFrame frame;
    frame.pixels = std::move(job.bgr);
    frame.width = job.width;
    frame.height = job.height;
    frame.timestamp_s = job.timestamp_s;
    StreamId id;
    std::shared_ptr<SwapPipeline> pipeline;
    {
        std::lock_guard lock(mutex_);
        if (!pipeline_) return;  // stopped: the session is going too
        pipeline = pipeline_;
        Session& session = sessions_[job.session_id];
        if (session.stream == 0) {
            const std::uint64_t session_id = job.session_id;
            auto on_result = [this, session_id](PipelineResult&& r) {
                this->on_result(session_id, std::move(r));
            };
            const auto model = job.processor->swap_model();
            session.stream = model ? pipeline_->open_stream(model, job.processor->swap_config(),
                                                            std::move(on_result))
                                   : pipeline_->open_passthrough_stream(std::move(on_result));
        }
        frame.frame_id = ++next_frame_id_;
        session.pending[frame.frame_id] = std::move(job.deliver);
        id = session.stream;
        ++queued_;
        metrics_.queue_depth = queued_;
    }
    // Outside the lock: a displaced frame is delivered (as dropped) from inside submit().
    const std::uint64_t frame_id = frame.frame_id;
    try {
        pipeline->submit(id, std::move(frame));
    } catch (const std::exception& e) {
        PipelineResult failed;
        failed.frame_id = frame_id;
        failed.error = e.what();
        on_result(job.session_id, std::move(failed));
    }
}

void PipelineScheduler::forget(std::uint64_t session_id) {
    StreamId stream = 0;
    std::map<std::uint64_t, std::function<void(FrameOutcome &&)>> pending;
    {
        std::lock_guard lock(mutex_);
        const auto it = sessions_.find(session_id);
        if (it == sessions_.end()) return;
        stream = it->second.stream;
        pending = std::move(it->second.pending);  // they hold the session: freed outside
        queued_ -= static_cast<std::int64_t>(pending.size());
        metrics_.queue_depth = queued_;
        sessions_.erase(it);
        if (pipeline_) pipeline_->release_stream(stream);  // a network thread: no waiting
    }
}

// The pipeline's own figures: per-stage time, the learned per-frame cost and the batch size
// the latency budget allows, the detector's backlog, and each session's frame rate.
void PipelineScheduler::render_metrics(std::string& out) const {
    std::shared_ptr<SwapPipeline> pipeline;
    std::map<StreamId, std::uint64_t> session_of;
    {
        std::lock_guard lock(mutex_);
        pipeline = pipeline_;
        for (const auto& [session, state] : sessions_) session_of[state.stream] = session;
    }
    if (!pipeline) return;
    const PipelineMetrics m = pipeline->metrics();
    const auto gauge = [&](const std::string& name, const std::string& help) {
        out += "# HELP " + name + " " + help + "\n# TYPE " + name + " gauge\n";
    };
    const auto number = [](double v) {
        std::ostringstream text;
        text << v;
        return text.str();
    };
    gauge("faceswap_pipeline_stage_ms", "mean engine time per batch, by pipeline stage");
    out += "faceswap_pipeline_stage_ms{stage=\"1\"} " + number(m.stage1_ms_mean) + "\n";
    out += "faceswap_pipeline_stage_ms{stage=\"2\"} " + number(m.stage2_ms_mean) + "\n";
    gauge("faceswap_pipeline_frame_cost_ms",
          "learned per-frame cost of the slower stage (behind the batch latency budget)");
    out += "faceswap_pipeline_frame_cost_ms " + number(m.frame_cost_ms) + "\n";
    gauge("faceswap_pipeline_batch_limit", "batch size the latency budget allows now");
    out += "faceswap_pipeline_batch_limit " + std::to_string(m.batch_limit) + "\n";
    out +=
        "# HELP faceswap_pipeline_batch_splits_total batched passes that failed (device out "
        "of memory) and were run again in halves\n# TYPE faceswap_pipeline_batch_splits_total "
        "counter\nfaceswap_pipeline_batch_splits_total " +
        std::to_string(m.batch_splits) + "\n";
    gauge("faceswap_pipeline_detector_backlog",
          "sessions whose periodic face detection waits for the detector thread");
    out += "faceswap_pipeline_detector_backlog " + std::to_string(m.detector_backlog) + "\n";
    gauge("faceswap_session_fps", "swapped frames per second since the session's first frame");
    for (const auto& stream : m.streams) {
        const auto it = session_of.find(stream.id);
        if (it == session_of.end()) continue;
        out += "faceswap_session_fps{session=\"" + std::to_string(it->second) + "\"} " +
               number(stream.fps) + "\n";
    }
}

void PipelineScheduler::on_result(std::uint64_t session_id, PipelineResult&& r) {
    // Batches, not frames: each batch is counted by its first frame (a closed session's too).
    if (!r.dropped && r.batch_size > 0 && r.batch_index == 0)
        metrics_.batch_size.observe(static_cast<double>(r.batch_size));
    std::function<void(FrameOutcome &&)> deliver;
    {
        std::lock_guard lock(mutex_);
        const auto it = sessions_.find(session_id);
        if (it == sessions_.end()) return;  // forgotten meanwhile
        const auto frame = it->second.pending.find(r.frame_id);
        if (frame == it->second.pending.end()) return;
        deliver = std::move(frame->second);
        it->second.pending.erase(frame);
        metrics_.queue_depth = --queued_;
    }
    FrameOutcome outcome;
    outcome.dropped = r.dropped;
    outcome.error = std::move(r.error);
    outcome.queue_ms = r.queue_ms;
    outcome.engine_ms = std::max(0.0, r.latency_ms - r.queue_ms);
    outcome.output = {std::move(r.swap.pixels), static_cast<int>(r.swap.analysis.faces.size())};
    if (r.dropped) {
        metrics_.count_drop(DropReason::kReplaced);
    } else {
        metrics_.queue_ms.observe(outcome.queue_ms);
        metrics_.engine_ms.observe(outcome.engine_ms);
    }
    deliver(std::move(outcome));
}

}  // namespace faceswap::server
