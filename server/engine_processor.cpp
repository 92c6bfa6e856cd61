// The real pipeline behind the server: detector + landmarks and the swap models load once and
// are shared read-only; the engine's SwapPipeline owns the device and batches the sessions'
// frames (one pipeline stream per session, opened with its first frame). Swap models can be
// published, replaced and withdrawn while sessions run (the model API): a session holds the
// shared_ptr of the model it opened with, so it finishes on that version.
#include <filesystem>
#include <map>
#include <mutex>
#include <sstream>

#include "faceswap/engine.h"
#include "faceswap/pipeline.h"
#include "faceswap/swap.h"
#include "processor.h"
#include "scheduler.h"

namespace faceswap::server {
namespace {

// One session's model and settings; its frames go through the factory's pipeline.
class EngineStream final : public StreamProcessor {
  public:
    EngineStream(std::shared_ptr<const SwapModel> model, SwapConfig swap_config,
                 std::string version)
        : model_(std::move(model)), swap_config_(swap_config), version_(std::move(version)) {}

    ProcessedFrame process(std::vector<std::uint8_t>&, int, int, double) override {
        throw std::logic_error("engine streams run through the engine's pipeline");
    }

    std::string model_version() const override { return version_; }
    const std::shared_ptr<const SwapModel>& model() const { return model_; }
    const SwapConfig& swap_config() const { return swap_config_; }

  private:
    std::shared_ptr<const SwapModel> model_;
    SwapConfig swap_config_;
    std::string version_;
};

// The server's scheduler for the engine: sessions' frames into one SwapPipeline, which takes
// the newest frame of each ready session into one batch (up to --batch-size, waiting at most
// --batch-wait-ms for a fuller one), in turn. Outcomes go back through each frame's deliver.
class PipelineScheduler final : public FrameScheduler {
  public:
    PipelineScheduler(std::shared_ptr<const FaceModels> models, const EngineConfig& config,
                      const SchedulerConfig& scheduler, ServerMetrics& metrics)
        : models_(std::move(models)), config_(config), metrics_(metrics) {
        pipeline_config_.max_batch = scheduler.batch_size;
        pipeline_config_.max_batch_wait_ms = static_cast<double>(scheduler.batch_wait.count());
        pipeline_config_.batch_latency_budget_ms =
            static_cast<double>(scheduler.batch_latency.count());
        pipeline_config_.two_stages = scheduler.stages == 2;
        pipeline_config_.validate();
    }
    ~PipelineScheduler() override { stop(); }

    void start() override {
        std::lock_guard lock(mutex_);
        if (!pipeline_)
            pipeline_ = std::make_shared<SwapPipeline>(models_, config_, pipeline_config_);
    }

    void stop() override {
        std::shared_ptr<SwapPipeline> pipeline;
        {
            std::lock_guard lock(mutex_);
            pipeline = std::move(pipeline_);
            sessions_.clear();
            metrics_.queue_depth = 0;
        }
        pipeline.reset();  // closes every stream, joins its threads (callbacks take mutex_)
    }

    void submit(FrameJob job) override {
        const auto* stream = dynamic_cast<const EngineStream*>(job.processor.get());
        if (!stream) throw std::logic_error("PipelineScheduler: not an engine stream");
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
                session.stream = pipeline_->open_stream(stream->model(), stream->swap_config(),
                                                        [this, session_id](PipelineResult&& r) {
                                                            on_result(session_id, std::move(r));
                                                        });
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

    void forget(std::uint64_t session_id) override {
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
    void render_metrics(std::string& out) const override {
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

  private:
    struct Session {
        StreamId stream = 0;
        std::map<std::uint64_t, std::function<void(FrameOutcome&&)>> pending;  // by frame_id
    };

    void on_result(std::uint64_t session_id, PipelineResult&& r) {
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

    std::shared_ptr<const FaceModels> models_;
    EngineConfig config_;
    PipelineConfig pipeline_config_;
    ServerMetrics& metrics_;
    mutable std::mutex mutex_;
    std::shared_ptr<SwapPipeline> pipeline_;
    std::map<std::uint64_t, Session> sessions_;
    std::uint64_t next_frame_id_ = 0;
    std::int64_t queued_ = 0;
};

class EngineModel final : public LoadedModel {
  public:
    explicit EngineModel(std::shared_ptr<const SwapModel> model) : model_(std::move(model)) {}
    ModelFacts facts() const override {
        const SwapModelInfo& info = model_->info();
        return {info.identity_a, info.identity_b, info.resolution, info.training_steps};
    }
    const std::shared_ptr<const SwapModel>& model() const { return model_; }

  private:
    std::shared_ptr<const SwapModel> model_;
};

class EngineFactory final : public ProcessorFactory {
  public:
    explicit EngineFactory(const EngineSettings& settings) {
        config_ = EngineConfig::defaults();
        if (!settings.model_dir.empty()) config_.model_dir = settings.model_dir;
        config_.device = settings.device == "cpu"    ? DeviceKind::kCpu
                         : settings.device == "cuda" ? DeviceKind::kCuda
                                                     : DeviceKind::kAuto;
        config_.cpu_threads = settings.cpu_threads;
        config_.precision = parse_precision(settings.precision);
        // The sessions' periodic detectors (new faces walking in) run on the pipeline's one
        // detector thread, so no frame of a stream waits for them: as in the app's local mode.
        config_.background_detection = true;
        config_.validate();
        face_models_ = FaceModels::load(config_);
        for (const std::string& path : settings.swap_models) {
            const std::string id = std::filesystem::path(path).stem().string();
            if (swap_models_.count(id))
                throw Error(ErrorCode::kInvalidArgument,
                            "two swap models share the id '" + id + "': rename one file");
            swap_models_[id] = {SwapModel::load(path, config_), {}};
        }
        if (swap_models_.empty() && !settings.allow_no_swap_models)
            throw Error(ErrorCode::kModelMissing, "no swap model to serve");
    }

    std::string name() const override { return "faceswap"; }
    std::string device_name() const override { return face_models_->device_name(); }

    std::vector<std::string> models() const override {
        std::lock_guard lock(mu_);
        std::vector<std::string> ids;
        for (const auto& [id, model] : swap_models_) ids.push_back(id);
        return ids;
    }

    std::unique_ptr<StreamProcessor> open(const std::string& model, net::Direction direction,
                                          const FaceDetail& detail) override {
        Served served;
        {
            std::lock_guard lock(mu_);
            const auto it = swap_models_.find(model);
            if (it == swap_models_.end())
                throw UnknownModel("model '" + model + "' is not served here");
            served = it->second;
        }
        SwapConfig swap_config;
        swap_config.direction = direction;
        swap_config.detail = detail;
        return std::make_unique<EngineStream>(served.model, swap_config, served.version);
    }

    std::unique_ptr<FrameScheduler> make_scheduler(const SchedulerConfig& config,
                                                   ServerMetrics& metrics) override {
        return std::make_unique<PipelineScheduler>(face_models_, config_, config, metrics);
    }

    bool loads_models() const override { return true; }

    std::shared_ptr<const LoadedModel> load_model(const std::string& path) override {
        return std::make_shared<EngineModel>(SwapModel::load(path, config_));
    }

    void publish_model(const std::string& id, std::shared_ptr<const LoadedModel> model,
                       const std::string& version) override {
        const auto* engine_model = dynamic_cast<const EngineModel*>(model.get());
        if (!engine_model) throw std::logic_error("publish_model: not this engine's model");
        std::lock_guard lock(mu_);
        swap_models_[id] = {engine_model->model(), version};
    }

    bool unpublish_model(const std::string& id) override {
        std::lock_guard lock(mu_);
        return swap_models_.erase(id) > 0;
    }

  private:
    struct Served {
        std::shared_ptr<const SwapModel> model;
        std::string version;  // sha256; empty for models given to the constructor
    };

    EngineConfig config_;
    std::shared_ptr<const FaceModels> face_models_;
    mutable std::mutex mu_;  // swap_models_: open() on network threads, publish from the API
    std::map<std::string, Served> swap_models_;
};

}  // namespace

std::shared_ptr<ProcessorFactory> make_engine_factory(const EngineSettings& settings) {
    return std::make_shared<EngineFactory>(settings);
}

}  // namespace faceswap::server
