// Internal: face detection. The SSD detector with its box decoding and non-maximum
// suppression (detect_faces), and the periodic detector off the frame path
// (BackgroundDetector), which runs on a DetectionWorker thread shared by a pipeline's streams.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "batching.h"
#include "face_models_impl.h"
#include "image_ops.h"

namespace faceswap::detail {

struct Detection {
    Box box;
    float score;
};

// SSD detection on one frame: boxes above the score threshold, non-maximum suppressed.
std::vector<Detection> detect_faces(const FaceModels::Impl& models, const EngineConfig& config,
                                    const at::Tensor& rgb, DetectorInput& input);

// The periodic detector off the frame path (EngineConfig::background_detection): one frame at
// a time per analyzer, run on a DetectionWorker (its own, or one a pipeline shares between its
// streams), its result picked up by a later analyze(). The task holds what it needs by value,
// so an analyzer may go while its detection is still queued.
class BackgroundDetector {
  public:
    BackgroundDetector(std::shared_ptr<const FaceModels> models, EngineConfig config,
                       std::shared_ptr<detail::DetectionWorker> worker)
        : models_(std::move(models)),
          config_(std::move(config)),
          worker_(std::move(worker)),
          state_(std::make_shared<State>()) {}

    bool busy() const {
        std::lock_guard lock(state_->mutex);
        return state_->pending;
    }
    void submit(at::Tensor frame) {  // an owned copy of the frame
        std::uint64_t generation;
        {
            std::lock_guard lock(state_->mutex);
            state_->pending = true;
            generation = state_->generation;
        }
        worker_->post([state = state_, models = models_, config = config_, frame = std::move(frame),
                       generation] {
            std::optional<std::vector<Detection>> found;
            std::exception_ptr error;
            try {
                found = detect_faces(detail::Access::of(*models), config, frame, state->input);
            } catch (...) {
                error = std::current_exception();
            }
            std::lock_guard lock(state->mutex);
            state->pending = false;
            if (generation != state->generation) return;  // discarded meanwhile
            state->output = std::move(found);
            state->error = error;
        });
    }
    // The finished detections, once; rethrows the detector's error.
    std::optional<std::vector<Detection>> take() {
        std::lock_guard lock(state_->mutex);
        if (state_->error) std::rethrow_exception(std::exchange(state_->error, nullptr));
        return std::exchange(state_->output, std::nullopt);
    }
    void discard() {
        std::lock_guard lock(state_->mutex);
        state_->output.reset();
        state_->error = nullptr;
        ++state_->generation;
    }

  private:
    struct State {
        std::mutex mutex;
        detail::DetectorInput input;  // only the one running task uses it
        std::optional<std::vector<Detection>> output;
        std::exception_ptr error;
        bool pending = false;
        std::uint64_t generation = 0;  // bumped by discard(): a running result is dropped
    };
    std::shared_ptr<const FaceModels> models_;
    EngineConfig config_;
    std::shared_ptr<detail::DetectionWorker> worker_;
    std::shared_ptr<State> state_;
};

}  // namespace faceswap::detail
