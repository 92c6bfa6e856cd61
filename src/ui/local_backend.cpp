#include "local_backend.h"

namespace faceswap::ui {

LocalBackend::LocalBackend(LocalSettings settings, QObject* parent)
    : SwapBackend(parent), settings_(std::move(settings)) {}

LocalBackend::~LocalBackend() {
    stop_requested_ = true;
    if (worker_.joinable()) worker_.join();
}

void LocalBackend::set_settings(LocalSettings settings) { settings_ = std::move(settings); }

QString LocalBackend::describe() const {
    std::lock_guard lock(models_mutex_);
    return device_name_.empty() ? QStringLiteral("local")
                                : QStringLiteral("local, %1").arg(QString::fromStdString(device_name_));
}

void LocalBackend::start(std::shared_ptr<capture::FrameMailbox> input) {
    // A worker still finishing its last frame after stop() exits within one frame's time.
    stop_requested_ = true;
    if (worker_.joinable()) worker_.join();
    stop_requested_ = false;
    reset_counters();
    set_state(BackendState::kStarting, QStringLiteral("loading the models"));
    worker_ = std::thread([this, input = std::move(input), settings = settings_] {
        run(input, settings);
    });
}

void LocalBackend::stop() {
    if (!worker_.joinable() || !active()) return;
    set_state(BackendState::kStopping);
    stop_requested_ = true;  // the worker sets kStopped as it leaves
}

void LocalBackend::run(std::shared_ptr<capture::FrameMailbox> input, LocalSettings settings) {
    try {
        EngineConfig config;
        config.model_dir = settings.face_model_dir;
        config.device = settings.device;
        std::shared_ptr<const FaceModels> face_models;
        std::shared_ptr<const SwapModel> swap_model;
        const std::string key = settings.face_model_dir + '\n' + settings.swap_model + '\n' +
                                std::to_string(static_cast<int>(settings.device));
        {
            std::lock_guard lock(models_mutex_);
            if (loaded_key_ == key) {
                face_models = face_models_;
                swap_model = swap_model_;
            }
        }
        if (!face_models) {
            face_models = FaceModels::load(config);
            swap_model = SwapModel::load(settings.swap_model, config);
            std::lock_guard lock(models_mutex_);
            face_models_ = face_models;
            swap_model_ = swap_model;
            loaded_key_ = key;
            device_name_ = face_models->device_name();
        }
        FaceSwapper swapper(face_models, swap_model, config, settings.swap);
        set_state(BackendState::kRunning);

        std::int64_t last = input->published();
        while (!stop_requested_) {
            const capture::FramePtr frame = input->wait_newer(last, std::chrono::milliseconds(100));
            if (!frame) continue;
            if (last > 0 && frame->sequence > last + 1) skipped_ += frame->sequence - last - 1;
            last = frame->sequence;
            const cv::Mat& bgr = frame->bgr;
            const FrameView view{bgr.data, bgr.cols, bgr.rows, static_cast<int>(bgr.step[0]),
                                 PixelFormat::BGR24};
            SwapResult result = swapper.process(view, frame->media_time_s);
            auto out = std::make_shared<SwappedFrame>();
            out->image = bgr_image(result.pixels.data(), result.width, result.height, result.width * 3);
            out->sequence = frame->sequence;
            out->capture_us = frame->capture_us;
            out->faces = static_cast<int>(result.analysis.faces.size());
            out->work_ms = result.timings.total_ms;
            out->source = frame;
            ++swapped_;
            deliver(std::move(out));
        }
        set_state(BackendState::kStopped);
    } catch (const std::exception& e) {
        // Engine errors already say what is wrong and what to do (missing model, wrong file).
        set_state(BackendState::kFailed, QString::fromStdString(e.what()));
    }
}

}  // namespace faceswap::ui
