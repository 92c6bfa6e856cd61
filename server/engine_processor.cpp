// The real engine behind the server: detector + landmarks and the swap models load once and
// are shared read-only; the server's PipelineScheduler (scheduler.cpp) runs the sessions'
// frames through the engine's SwapPipeline with them. Swap models can be
// published, replaced and withdrawn while sessions run (the model API): a session holds the
// shared_ptr of the model it opened with, so it finishes on that version.
#include <filesystem>
#include <map>
#include <mutex>

#include "faceswap/engine.h"
#include "faceswap/swap.h"
#include "processor.h"

namespace faceswap::server {
namespace {

// One session's model and settings; the scheduler opens its pipeline stream with them.
class EngineStream final : public StreamProcessor {
  public:
    EngineStream(std::shared_ptr<const SwapModel> model, SwapConfig swap_config,
                 std::string version)
        : model_(std::move(model)), swap_config_(swap_config), version_(std::move(version)) {}

    std::shared_ptr<const SwapModel> swap_model() const override { return model_; }
    SwapConfig swap_config() const override { return swap_config_; }
    std::string model_version() const override { return version_; }

  private:
    std::shared_ptr<const SwapModel> model_;
    SwapConfig swap_config_;
    std::string version_;
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
                                          const FaceDetail& detail,
                                          const FaceChoice& faces) override {
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
        swap_config.faces = faces;
        swap_config.validate();
        return std::make_unique<EngineStream>(served.model, swap_config, served.version);
    }

    std::shared_ptr<const FaceModels> face_models() const override { return face_models_; }
    EngineConfig engine_config() const override { return config_; }

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
