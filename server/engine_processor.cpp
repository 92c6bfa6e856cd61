// The real pipeline behind the server: detector + landmarks and the swap models load once and
// are shared read-only; each session gets its own FaceSwapper (tracking and smoothing state).
#include <filesystem>
#include <map>

#include "faceswap/engine.h"
#include "faceswap/swap.h"
#include "processor.h"

namespace faceswap::server {
namespace {

class EngineStream final : public StreamProcessor {
  public:
    explicit EngineStream(FaceSwapper swapper) : swapper_(std::move(swapper)) {}

    ProcessedFrame process(std::vector<std::uint8_t>& bgr, int width, int height,
                           double timestamp_s) override {
        const FrameView frame{bgr.data(), width, height, width * 3, PixelFormat::BGR24};
        SwapResult result = swapper_.process(frame, timestamp_s);
        return {std::move(result.pixels), static_cast<int>(result.analysis.faces.size())};
    }

  private:
    FaceSwapper swapper_;
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
        config_.validate();
        face_models_ = FaceModels::load(config_);
        for (const std::string& path : settings.swap_models) {
            const std::string id = std::filesystem::path(path).stem().string();
            if (swap_models_.count(id))
                throw Error(ErrorCode::kInvalidArgument,
                            "two swap models share the id '" + id + "': rename one file");
            swap_models_[id] = SwapModel::load(path, config_);
        }
        if (swap_models_.empty()) throw Error(ErrorCode::kModelMissing, "no swap model to serve");
    }

    std::string name() const override { return "faceswap"; }
    std::string device_name() const override { return face_models_->device_name(); }

    std::vector<std::string> models() const override {
        std::vector<std::string> ids;
        for (const auto& [id, model] : swap_models_) ids.push_back(id);
        return ids;
    }

    std::unique_ptr<StreamProcessor> open(const std::string& model,
                                          net::Direction direction) override {
        const auto it = swap_models_.find(model);
        if (it == swap_models_.end())
            throw UnknownModel("model '" + model + "' is not served here");
        SwapConfig swap_config;
        swap_config.direction =
            direction == net::Direction::kAtoB ? SwapDirection::kAToB : SwapDirection::kBToA;
        return std::make_unique<EngineStream>(
            FaceSwapper(face_models_, it->second, config_, swap_config));
    }

  private:
    EngineConfig config_;
    std::shared_ptr<const FaceModels> face_models_;
    std::map<std::string, std::shared_ptr<const SwapModel>> swap_models_;
};

}  // namespace

std::shared_ptr<ProcessorFactory> make_engine_factory(const EngineSettings& settings) {
    return std::make_shared<EngineFactory>(settings);
}

}  // namespace faceswap::server
