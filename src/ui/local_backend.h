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
    SwapConfig swap;
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

    LocalSettings settings_;
    std::thread worker_;
    std::atomic<bool> stop_requested_{false};
    mutable std::mutex models_mutex_;  // the loaded models and what they were loaded from
    std::shared_ptr<const FaceModels> face_models_;
    std::shared_ptr<const SwapModel> swap_model_;
    std::string loaded_key_;
    std::string device_name_;
};

}  // namespace faceswap::ui
