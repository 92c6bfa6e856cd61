// What the server runs on each frame, behind an interface so that the transport does not depend
// on the engine: a ProcessorFactory holds the loaded (shared, read-only) models and opens one
// StreamProcessor per session, which keeps that stream's state (face tracking, smoothing).
//
// Threading: StreamProcessor::process() and ProcessorFactory::process_batch() are called on the
// inference scheduler's thread only (it owns the device); open() on network threads.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "faceswap/net/protocol.h"

namespace faceswap::server {

struct ProcessedFrame {
    std::vector<std::uint8_t> bgr;  // same size as the input, tightly packed BGR
    int faces = 0;
};

class StreamProcessor {
  public:
    virtual ~StreamProcessor() = default;
    // bgr is the decoded frame (width * height * 3); an implementation may take it over.
    // Throws on failure (the session is then closed with "internal").
    virtual ProcessedFrame process(std::vector<std::uint8_t>& bgr, int width, int height,
                                   double timestamp_s) = 0;
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

// One frame of a batch: in from the scheduler, out filled by process_batch().
struct BatchItem {
    StreamProcessor* processor = nullptr;
    std::vector<std::uint8_t>* bgr = nullptr;
    int width = 0;
    int height = 0;
    double timestamp_s = 0;
    ProcessedFrame output;
    double engine_ms = 0;
    std::string error;  // non-empty: processing failed
};

class FrameScheduler;
struct SchedulerConfig;
struct ServerMetrics;

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
    // detail: the hello's detail settings (the detail stage, mouth interior, texture).
    virtual std::unique_ptr<StreamProcessor> open(const std::string& model,
                                                  net::Direction direction,
                                                  const FaceDetail& detail) = 0;
    // How many frames one engine pass can take. The scheduler never forms a larger batch: an
    // engine that runs frames one after another gains nothing from a batch, and a frame picked
    // for the end of one would go stale while the others run (with 1, each frame is picked
    // when the device frees, so it is that session's newest).
    virtual int max_batch() const { return 1; }
    // Several sessions' frames in one go (at most max_batch()). The default runs them one after
    // another; an engine with a batched forward pass overrides both.
    virtual void process_batch(std::span<BatchItem> items);

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

    // An engine that schedules frames itself (batching across sessions on its own threads)
    // returns its scheduler; nullptr (the default) means the server's InferenceScheduler runs
    // process_batch(). Called once, before any session opens.
    virtual std::unique_ptr<FrameScheduler> make_scheduler(const SchedulerConfig& config,
                                                           ServerMetrics& metrics);
};

// --engine none: every frame comes back unchanged (faces = 0). For benchmarking the transport
// alone (loopback FPS, latency, backpressure); it does not swap anything. Serves the given ids.
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
