// Local mode: the engine in this process, on a worker thread (CUDA when present, else all CPU
// threads). Loaded models are kept between runs, so a second Start is immediate.
#pragma once

#include <QString>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "faceswap/engine.h"
#include "faceswap/swap.h"
#include "swap_backend.h"

namespace faceswap::ui {

struct LocalSettings {
    std::string face_model_dir;  // detector and landmark nets
    std::string swap_model;      // .fsmodel file
    DeviceKind device = DeviceKind::kAuto;
    Precision precision = Precision::kAuto;  // EngineConfig::precision
    SwapConfig swap;
    // Two stages on two threads (analysis + encoding, then decoding + merging), one CPU thread
    // each: on a small CPU this beats one stage with two intra-op threads, whose small
    // convolutions barely scale. Off: one thread runs both stages with every core.
    bool pipelined = true;
    bool background_detection = true;  // EngineConfig::background_detection
};

class LocalBackend : public SwapBackend {
    Q_OBJECT
  public:
    explicit LocalBackend(LocalSettings settings, QObject* parent = nullptr);
    ~LocalBackend() override;
    void start(std::shared_ptr<capture::FrameMailbox> input) override;
    void stop() override;
    QString describe() const override;
    void set_settings(LocalSettings settings);  // used from the next start()

  private:
    void run(std::shared_ptr<capture::FrameMailbox> input, LocalSettings settings);
    void deliver_result(const capture::FramePtr& frame, SwapResult&& result);

    LocalSettings settings_;
    std::thread worker_;
    std::atomic<bool> stop_requested_{false};
    mutable std::mutex models_mutex_;  // the loaded models and what they were loaded from
    std::shared_ptr<const FaceModels> face_models_;
    std::shared_ptr<const SwapModel> swap_model_;
    std::string loaded_key_;
    std::string device_name_;
    std::string precision_note_;  // FaceModels::precision_note of the loaded models
};

}  // namespace faceswap::ui
