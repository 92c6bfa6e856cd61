#include "scheduler.h"

#include <algorithm>
#include <optional>

namespace faceswap::server {

using Clock = std::chrono::steady_clock;

InferenceScheduler::InferenceScheduler(std::shared_ptr<ProcessorFactory> factory,
                                       SchedulerConfig config, ServerMetrics& metrics)
    : factory_(std::move(factory)), config_(config), metrics_(metrics) {
    config_.batch_size = std::max(1, std::min(config_.batch_size, factory_->max_batch()));
}

InferenceScheduler::~InferenceScheduler() {
    stop();
}

void InferenceScheduler::start() {
    std::lock_guard lock(mu_);
    if (thread_.joinable()) return;
    stopping_ = false;
    thread_ = std::thread([this] { run(); });
}

void InferenceScheduler::stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    std::lock_guard lock(mu_);
    queues_.clear();
    ready_.clear();
    queued_ = 0;
    metrics_.queue_depth = 0;
}

void InferenceScheduler::submit(FrameJob job) {
    job.enqueued = Clock::now();
    std::optional<FrameJob> displaced;
    {
        std::lock_guard lock(mu_);
        if (stopping_) return;
        auto& queue = queues_[job.session_id];
        if (queue.empty()) ready_.push_back(job.session_id);
        queue.push_back(std::move(job));
        ++queued_;
        if (static_cast<int>(queue.size()) > config_.per_session_depth) {
            displaced = std::move(queue.front());
            queue.pop_front();
            --queued_;
        }
        metrics_.queue_depth = static_cast<std::int64_t>(queued_);
    }
    cv_.notify_one();
    if (displaced) {
        metrics_.count_drop(DropReason::kReplaced);
        FrameOutcome outcome;
        outcome.dropped = true;
        displaced->deliver(std::move(outcome));
    }
}

void InferenceScheduler::forget(std::uint64_t session_id) {
    std::deque<FrameJob> dropped;  // destroyed outside the lock (they may hold the session)
    std::lock_guard lock(mu_);
    const auto it = queues_.find(session_id);
    if (it == queues_.end()) return;
    queued_ -= it->second.size();
    dropped = std::move(it->second);
    queues_.erase(it);
    ready_.erase(std::remove(ready_.begin(), ready_.end(), session_id), ready_.end());
    metrics_.queue_depth = static_cast<std::int64_t>(queued_);
}

// One frame from each of up to batch_size sessions, in turn. Waits up to batch_wait for a
// fuller batch only while fewer sessions than batch_size have frames.
std::vector<FrameJob> InferenceScheduler::take_batch(std::unique_lock<std::mutex>& lock) {
    cv_.wait(lock, [this] { return stopping_ || !ready_.empty(); });
    if (stopping_) return {};
    if (config_.batch_wait.count() > 0 && static_cast<int>(ready_.size()) < config_.batch_size) {
        const auto deadline = Clock::now() + config_.batch_wait;
        cv_.wait_until(lock, deadline, [this] {
            return stopping_ || static_cast<int>(ready_.size()) >= config_.batch_size;
        });
        if (stopping_) return {};
    }
    std::vector<FrameJob> batch;
    const std::size_t turns = std::min<std::size_t>(ready_.size(), config_.batch_size);
    for (std::size_t i = 0; i < turns; ++i) {
        const std::uint64_t session = ready_.front();
        ready_.pop_front();
        auto& queue = queues_[session];
        batch.push_back(std::move(queue.front()));
        queue.pop_front();
        --queued_;
        if (queue.empty())
            queues_.erase(session);
        else
            ready_.push_back(session);  // its next frame waits for the next turn
    }
    metrics_.queue_depth = static_cast<std::int64_t>(queued_);
    return batch;
}

void InferenceScheduler::run() {
    std::vector<BatchItem> items;
    while (true) {
        std::vector<FrameJob> batch;
        {
            std::unique_lock lock(mu_);
            batch = take_batch(lock);
        }
        if (batch.empty()) return;  // stopping
        const auto started = Clock::now();
        items.clear();
        for (FrameJob& job : batch)
            items.push_back({job.processor.get(),
                             &job.bgr,
                             job.width,
                             job.height,
                             job.timestamp_s,
                             {},
                             0.0,
                             {}});
        factory_->process_batch(items);
        metrics_.batch_size.observe(static_cast<double>(batch.size()));
        for (std::size_t i = 0; i < batch.size(); ++i) {
            FrameOutcome outcome;
            outcome.output = std::move(items[i].output);
            outcome.error = std::move(items[i].error);
            outcome.queue_ms =
                std::chrono::duration<double, std::milli>(started - batch[i].enqueued).count();
            outcome.engine_ms = items[i].engine_ms;
            metrics_.queue_ms.observe(outcome.queue_ms);
            metrics_.engine_ms.observe(outcome.engine_ms);
            batch[i].deliver(std::move(outcome));
        }
    }
}

}  // namespace faceswap::server
