#include "local_backend.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>

#include "faceswap/capture/engine_frames.h"
#include "faceswap/pipeline.h"

namespace faceswap::ui {

LocalBackend::LocalBackend(LocalSettings settings, QObject* parent)
    : SwapBackend(parent), settings_(std::move(settings)) {}

LocalBackend::~LocalBackend() {
    stop_requested_ = true;
    if (worker_.joinable()) worker_.join();
}

void LocalBackend::set_settings(LocalSettings settings) {
    settings_ = std::move(settings);
}

QString LocalBackend::describe() const {
    std::lock_guard lock(models_mutex_);
    // A model that cannot honour the detail slider says so here, in the status bar.
    const bool no_detail_stage = swap_model_ && swap_model_->info().detail_stage_dims == 0 &&
                                 settings_.swap.detail.detail_strength > 0;
    return device_name_.empty()
               ? QStringLiteral("local")
               : QStringLiteral("local, %1%2%3%4")
                     .arg(QString::fromStdString(device_name_),
                          settings_.pipelined ? QStringLiteral(", 2-stage pipeline") : QString(),
                          no_detail_stage ? QStringLiteral(", model without a detail stage")
                                          : QString(),
                          precision_note_.empty()
                              ? QString()
                              : QStringLiteral(", ") + QString::fromStdString(precision_note_));
}

void LocalBackend::start(std::shared_ptr<capture::FrameMailbox> input) {
    // A worker still finishing its last frame after stop() exits within one frame's time.
    stop_requested_ = true;
    if (worker_.joinable()) worker_.join();
    stop_requested_ = false;
    reset_counters();
    set_state(BackendState::kStarting, QStringLiteral("loading the models"));
    worker_ = std::thread(
        [this, input = std::move(input), settings = settings_] { run(input, settings); });
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
        config.precision = settings.precision;
        // Two stages share the cores, half each (one LibTorch thread each on two cores: faster
        // than one stage with both, whose small convolutions barely scale; docs/live-speed.md).
        const int threads_per_stage =
            settings.pipelined ? std::max(1, available_cpu_threads() / 2) : 0;
        if (settings.pipelined) config.cpu_threads = threads_per_stage;
        config.background_detection = settings.background_detection;  // no slow frame every period
        std::shared_ptr<const FaceModels> face_models;
        std::shared_ptr<const SwapModel> swap_model;
        const std::string key = settings.face_model_dir + '\n' + settings.swap_model + '\n' +
                                std::to_string(static_cast<int>(settings.device)) + '\n' +
                                std::to_string(static_cast<int>(settings.precision)) + '\n' +
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
            precision_note_ = face_models->precision_note();
            // Said once in the log; the status bar shows it while the models are loaded.
            if (!precision_note_.empty())
                std::fprintf(stderr, "note: %s\n", precision_note_.c_str());
        }
        // The engine's pipeline with one stream: the same stages, threads and detector
        // thread as the server's, batch size 1 (one camera).
        PipelineConfig pipeline_config;
        pipeline_config.max_batch = 1;
        pipeline_config.two_stages = settings.pipelined;
        pipeline_config.threads_per_stage = threads_per_stage;
        SwapPipeline pipeline(face_models, config, pipeline_config);
        std::mutex in_flight_mutex;
        std::map<std::uint64_t, capture::FramePtr> in_flight;  // by sequence, until answered
        std::string failure;
        const StreamId stream =
            pipeline.open_stream(swap_model, settings.swap, [&](PipelineResult&& r) {
                capture::FramePtr frame;
                {
                    std::lock_guard lock(in_flight_mutex);
                    const auto it = in_flight.find(r.frame_id);
                    if (it == in_flight.end()) return;
                    frame = std::move(it->second);
                    in_flight.erase(it);
                    if (!r.error.empty()) {
                        if (failure.empty()) failure = r.error;
                        stop_requested_ = true;
                        return;
                    }
                }
                if (r.dropped)
                    ++skipped_;  // a newer frame came before the engine was free
                else
                    deliver_result(frame, std::move(r.swap));
            });
        set_state(BackendState::kRunning);

        std::int64_t last = input->published();
        while (!stop_requested_) {
            // The newest captured frame after `last`, counting the ones skipped meanwhile.
            const capture::FramePtr frame = input->wait_newer(last, std::chrono::milliseconds(100));
            if (!frame) continue;
            if (last > 0 && frame->sequence > last + 1) skipped_ += frame->sequence - last - 1;
            last = frame->sequence;
            // Read in place: the captured frame is shared with the preview and never written;
            // the pipeline's output is the one copy of it on the way to the screen.
            PipelineFrame job =
                capture::shared_pipeline_frame(frame->bgr, frame, frame->media_time_s,
                                               static_cast<std::uint64_t>(frame->sequence));
            {
                std::lock_guard lock(in_flight_mutex);
                in_flight[job.frame_id] = frame;
            }
            pipeline.submit(stream, std::move(job));
        }
        pipeline.close_stream(stream);
        {
            std::lock_guard lock(in_flight_mutex);
            if (!failure.empty()) throw std::runtime_error(failure);
        }
        set_state(BackendState::kStopped);
    } catch (const std::exception& e) {
        // Engine errors already say what is wrong and what to do (missing model, wrong file).
        set_state(BackendState::kFailed, QString::fromStdString(e.what()));
    }
}

void LocalBackend::deliver_result(const capture::FramePtr& frame, SwapResult&& result) {
    auto out = std::make_shared<SwappedFrame>();
    out->image = bgr_image(std::move(result.pixels), result.width, result.height);
    out->sequence = frame->sequence;
    out->capture_us = frame->capture_us;
    out->faces = static_cast<int>(result.analysis.faces.size());
    for (const Box& box : result.swapped_boxes)
        out->swapped_boxes.emplace_back(box.x, box.y, box.width, box.height);
    out->work_ms = result.timings.total_ms;
    out->source = frame;
    ++swapped_;
    deliver(std::move(out));
}

}  // namespace faceswap::ui
