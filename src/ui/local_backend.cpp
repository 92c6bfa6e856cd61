#include "local_backend.h"

#include <condition_variable>
#include <optional>

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
                                : QStringLiteral("local, %1%2").arg(QString::fromStdString(device_name_), settings_.pipelined ? QStringLiteral(", 2-stage pipeline") : QString());
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
        if (settings.pipelined) config.cpu_threads = 1;
        config.background_detection = settings.background_detection;  // no slow frame every period
        std::shared_ptr<const FaceModels> face_models;
        std::shared_ptr<const SwapModel> swap_model;
        const std::string key = settings.face_model_dir + '\n' + settings.swap_model + '\n' +
                                std::to_string(static_cast<int>(settings.device)) + '\n' +
                                std::to_string(config.cpu_threads);
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
        // The newest captured frame after `last`, counting the ones skipped meanwhile.
        const auto next_frame = [&]() -> capture::FramePtr {
            const capture::FramePtr frame = input->wait_newer(last, std::chrono::milliseconds(100));
            if (!frame) return nullptr;
            if (last > 0 && frame->sequence > last + 1) skipped_ += frame->sequence - last - 1;
            last = frame->sequence;
            return frame;
        };
        const auto view_of = [](const capture::FramePtr& frame) {
            const cv::Mat& bgr = frame->bgr;
            return FrameView{bgr.data, bgr.cols, bgr.rows, static_cast<int>(bgr.step[0]),
                             PixelFormat::BGR24};
        };

        if (!settings.pipelined) {
            while (!stop_requested_)
                if (const capture::FramePtr frame = next_frame())
                    deliver_result(frame, swapper.process(view_of(frame), frame->media_time_s));
        } else {
            // Stage 2 runs on its own thread; the hand-over holds one prepared frame. Stage 1
            // takes a new frame only once stage 2 has taken the last one, so no work is wasted
            // and each frame starts as fresh as possible.
            struct Handover {
                std::mutex mutex;
                std::condition_variable changed;
                std::optional<std::pair<capture::FramePtr, std::shared_ptr<PreparedSwap>>> job;
                std::exception_ptr error;
                bool done = false;
            } handover;
            std::thread stage2([&] {
                set_cpu_threads(1);
                try {
                    for (;;) {
                        std::unique_lock lock(handover.mutex);
                        handover.changed.wait(lock, [&] { return handover.done || handover.job; });
                        if (!handover.job) return;
                        auto [frame, job] = std::move(*handover.job);
                        handover.job.reset();
                        lock.unlock();
                        handover.changed.notify_all();
                        deliver_result(frame, swapper.complete(std::move(job)));
                    }
                } catch (...) {
                    std::lock_guard lock(handover.mutex);
                    handover.error = std::current_exception();
                    handover.done = true;
                    handover.changed.notify_all();
                }
            });
            set_cpu_threads(1);
            try {
                while (!stop_requested_) {
                    {
                        std::unique_lock lock(handover.mutex);
                        handover.changed.wait_for(lock, std::chrono::milliseconds(100),
                                                  [&] { return handover.done || !handover.job; });
                        if (handover.done) break;
                        if (handover.job) continue;
                    }
                    const capture::FramePtr frame = next_frame();
                    if (!frame) continue;
                    auto job = swapper.prepare(view_of(frame), frame->media_time_s, true);
                    std::lock_guard lock(handover.mutex);
                    handover.job.emplace(frame, std::move(job));
                    handover.changed.notify_all();
                }
            } catch (...) {
                std::lock_guard lock(handover.mutex);
                if (!handover.error) handover.error = std::current_exception();
            }
            {
                std::lock_guard lock(handover.mutex);
                handover.done = true;
                handover.job.reset();
            }
            handover.changed.notify_all();
            stage2.join();
            if (handover.error) std::rethrow_exception(handover.error);
        }
        set_state(BackendState::kStopped);
    } catch (const std::exception& e) {
        // Engine errors already say what is wrong and what to do (missing model, wrong file).
        set_state(BackendState::kFailed, QString::fromStdString(e.what()));
    }
}

void LocalBackend::deliver_result(const capture::FramePtr& frame, SwapResult&& result) {
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

}  // namespace faceswap::ui
