// What the server runs its sessions' frames with, behind an interface so that the transport
// does not depend on how models load: a ProcessorFactory holds the loaded (shared, read-only)
// models and opens one StreamProcessor per session, which names the swap model and settings its
// frames run with. Every frame of every engine goes through one path, the server's
// PipelineScheduler and the engine's SwapPipeline (scheduler.h); the pass-through engine
// (--engine none) is a factory whose streams name no swap model, so its frames come back
// unchanged through that same path.
//
// Threading: open() on network threads; the rest on any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "faceswap/engine.h"
#include "faceswap/net/protocol.h"
#include "faceswap/swap.h"

namespace faceswap::server {

class StreamProcessor {
  public:
    virtual ~StreamProcessor() = default;
    // The swap model its frames run through; nullptr: they come back unchanged (pass-through).
    virtual std::shared_ptr<const SwapModel> swap_model() const { return nullptr; }
    virtual SwapConfig swap_config() const { return {}; }
    // The version (sha256) of the model this stream runs on, for the welcome; may be empty.
    virtual std::string model_version() const { return {}; }
};

// What a swap model says about itself, for the model API's listing.
struct ModelFacts {
    std::string identity_a, identity_b;
    int resolution = 0;
    std::int64_t training_steps = 0;
};

// A model file read and checked completely, not served yet (see ProcessorFactory::load_model).
class LoadedModel {
  public:
    virtual ~LoadedModel() = default;
    virtual ModelFacts facts() const = 0;
};

class UnknownModel : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

class ProcessorFactory {
  public:
    virtual ~ProcessorFactory() = default;
    virtual std::string name() const = 0;
    virtual std::vector<std::string> models() const = 0;  // the ids clients may ask for
    virtual std::string device_name() const = 0;
    // A fresh per-session processor; throws UnknownModel for an id not served.
    // detail: the hello's detail settings (the detail stage, mouth interior, texture); faces:
    // whose faces it swaps. A face choice the engine refuses throws Error(kInvalidArgument).
    virtual std::unique_ptr<StreamProcessor> open(const std::string& model,
                                                  net::Direction direction,
                                                  const FaceDetail& detail,
                                                  const FaceChoice& faces) = 0;
    // The face models the pipeline analyses frames with, and the engine settings it runs
    // under; nullptr for an engine whose streams are all pass-through.
    virtual std::shared_ptr<const FaceModels> face_models() const { return nullptr; }
    virtual EngineConfig engine_config() const { return {}; }

    // Models at run time (the model API, docs/model-api.md). An engine that can load models
    // says so and overrides the three below; the others serve a fixed set.
    virtual bool loads_models() const { return false; }
    // Reads and checks a model file completely without serving it; throws std::exception with
    // a one-line reason for a file that is not a loadable model.
    virtual std::shared_ptr<const LoadedModel> load_model(const std::string& path);
    // Serves `model` under `id` from the next open() on, replacing a model of that id: sessions
    // already open keep the one they started with. `version` is its sha256.
    virtual void publish_model(const std::string& id, std::shared_ptr<const LoadedModel> model,
                               const std::string& version);
    virtual bool unpublish_model(const std::string& id);  // false: no such id
};

// --engine none: every frame comes back unchanged (faces = 0), through the same scheduling as
// the real engine's. For benchmarking the transport alone (loopback FPS, latency,
// backpressure) and for the network tests; it swaps nothing. Serves the given ids.
std::shared_ptr<ProcessorFactory> make_passthrough_factory(std::vector<std::string> model_ids);

// The real pipeline: FaceModels + one or more SwapModels, loaded once; a FaceSwapper per
// session. Defined in engine_processor.cpp (target faceswap_server_engine).
struct EngineSettings {
    std::string model_dir;                 // detector + landmarks; empty = the usual search
    std::vector<std::string> swap_models;  // files; id = file stem
    bool allow_no_swap_models = false;     // the model API will publish them later
    std::string device = "auto";
    std::string precision = "auto";  // EngineConfig::precision: auto, fp32 or bf16
    int cpu_threads = 0;
};
std::shared_ptr<ProcessorFactory> make_engine_factory(const EngineSettings& settings);

}  // namespace faceswap::server
