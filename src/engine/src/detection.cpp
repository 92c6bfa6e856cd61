#include "detection.h"
#include <ATen/core/grad_mode.h>
#include "cpu_threads.h"

#include <algorithm>
#include <string>
#include <utility>

#if defined(__linux__)
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace faceswap::detail {

// SSD detection on one frame: boxes above the score threshold, non-maximum suppressed.
std::vector<Detection> detect_faces(const FaceModels::Impl& models, const EngineConfig& config,
                                    const at::Tensor& rgb, DetectorInput& input) {
    const int side = static_cast<int>(std::max(rgb.size(2), rgb.size(3)));
    const SsdOutput out = models.detector.forward(input.make(rgb, kDetectorInputSize));
    const at::Tensor boxes = out.boxes[0], scores = out.scores[0];

    // Candidates above the threshold, best first; IoU matrix in torch, greedy pass on the CPU.
    const at::Tensor candidates = at::nonzero(scores > config.detector_min_score).view(-1);
    if (candidates.numel() == 0) return {};
    const at::Tensor candidate_scores = scores.index_select(0, candidates);
    const at::Tensor order = std::get<1>(candidate_scores.sort(0, true))
                                 .narrow(0, 0, std::min<int64_t>(candidates.numel(), 100));
    const at::Tensor picked = candidates.index_select(0, order);
    const at::Tensor b = boxes.index_select(0, picked);  // (ymin, xmin, ymax, xmax)
    const at::Tensor lo = at::minimum(b.slice(1, 0, 2), b.slice(1, 2, 4));
    const at::Tensor hi = at::maximum(b.slice(1, 0, 2), b.slice(1, 2, 4));
    const at::Tensor area = (hi - lo).prod(1);
    const at::Tensor inter = (at::minimum(hi.unsqueeze(1), hi.unsqueeze(0)) -
                              at::maximum(lo.unsqueeze(1), lo.unsqueeze(0)))
                                 .clamp_min(0)
                                 .prod(2);
    const at::Tensor iou =
        (inter / (area.unsqueeze(1) + area.unsqueeze(0) - inter))
            .masked_fill((area.unsqueeze(1) <= 0) | (area.unsqueeze(0) <= 0), 0.0);

    const at::Tensor iou_cpu = iou.cpu();
    const at::Tensor boxes_cpu = b.cpu();
    const at::Tensor scores_cpu = scores.index_select(0, picked).cpu();
    const auto iou_a = iou_cpu.accessor<float, 2>();
    const auto box_a = boxes_cpu.accessor<float, 2>();
    const auto score_a = scores_cpu.accessor<float, 1>();

    std::vector<int> kept;
    std::vector<Detection> detections;
    for (int i = 0; i < static_cast<int>(picked.numel()); ++i) {
        bool suppressed = false;
        for (int k : kept)
            if (iou_a[i][k] > config.detector_nms_iou) suppressed = true;
        if (suppressed) continue;
        kept.push_back(i);
        // Relative to the padded square; clipped to it, then to pixels (face-api's convention).
        const float top = std::max(0.f, box_a[i][0]) * side;
        const float left = std::max(0.f, box_a[i][1]) * side;
        const float bottom = std::min(1.f, box_a[i][2]) * side;
        const float right = std::min(1.f, box_a[i][3]) * side;
        const Box box{left, top, right - left, bottom - top};
        if (std::min(box.width, box.height) < config.min_face_px) continue;
        detections.push_back({box, score_a[i]});
        if (static_cast<int>(detections.size()) >= config.max_faces) break;
    }
    return detections;
}

#if defined(__linux__)
constexpr int kDetectorNiceness = 10;
#endif

DetectionWorker::DetectionWorker() {
    thread_ = std::thread([this] { run(); });
}

DetectionWorker::~DetectionWorker() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    changed_.notify_all();
    thread_.join();
}

void DetectionWorker::post(std::function<void()> task) {
    {
        std::lock_guard lock(mutex_);
        tasks_.push_back(std::move(task));
    }
    changed_.notify_one();
}

std::size_t DetectionWorker::backlog() const {
    std::lock_guard lock(mutex_);
    return tasks_.size();
}

void DetectionWorker::run() {
    use_cpu_threads(1);  // it shares the cores with the live pipeline
#if defined(__linux__)
    // Below the stage threads (Linux niceness is per thread): the detector only looks for
    // faces walking in, a few frames late is fine, and at equal priority its pass (about two
    // frames' time on a CPU) took a core from the stages once per period, the slowest frames'
    // latency. Raising one's own niceness needs no privilege; a failure changes nothing.
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), kDetectorNiceness);
#endif
    at::NoGradGuard no_grad;
    at::InferenceMode inference;
    for (;;) {
        std::function<void()> task;
        {
            std::unique_lock lock(mutex_);
            changed_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
            if (tasks_.empty()) return;  // stopping, nothing left
            task = std::move(tasks_.front());
            tasks_.pop_front();
        }
        task();
    }
}

}  // namespace faceswap::detail
