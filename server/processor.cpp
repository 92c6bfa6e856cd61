#include "processor.h"

#include <algorithm>

namespace faceswap::server {

std::shared_ptr<const LoadedModel> ProcessorFactory::load_model(const std::string&) {
    throw std::runtime_error("engine '" + name() + "' cannot load models at run time");
}

void ProcessorFactory::publish_model(const std::string&, std::shared_ptr<const LoadedModel>,
                                     const std::string&) {
    throw std::runtime_error("engine '" + name() + "' cannot load models at run time");
}

bool ProcessorFactory::unpublish_model(const std::string&) {
    return false;
}

namespace {

// No swap model: the pipeline hands each frame back as it came (the decoded buffer itself).
class PassthroughProcessor final : public StreamProcessor {};

class PassthroughFactory final : public ProcessorFactory {
  public:
    explicit PassthroughFactory(std::vector<std::string> ids) : ids_(std::move(ids)) {}
    std::string name() const override { return "none"; }
    std::vector<std::string> models() const override { return ids_; }
    std::string device_name() const override { return "none"; }
    std::unique_ptr<StreamProcessor> open(const std::string& model, net::Direction,
                                          const FaceDetail&, const FaceChoice&) override {
        if (std::find(ids_.begin(), ids_.end(), model) == ids_.end())
            throw UnknownModel("model '" + model + "' is not served here");
        return std::make_unique<PassthroughProcessor>();
    }

  private:
    std::vector<std::string> ids_;
};

}  // namespace

std::shared_ptr<ProcessorFactory> make_passthrough_factory(std::vector<std::string> model_ids) {
    return std::make_shared<PassthroughFactory>(std::move(model_ids));
}

}  // namespace faceswap::server
