// The one training loop every driver runs (faceswap train, faceswap-train-packs): phases,
// budget, checkpoints, the loss log. No Torch here: it drives the Trainer's public API.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

#include "faceswap/train.h"

namespace faceswap {
namespace {

using Clock = std::chrono::steady_clock;

// The loss log's columns, each with the value it records. A log begun by an older version keeps
// its header: each row writes the columns that header names, so one file never mixes layouts.
struct LogColumn {
    const char* name;
    double (*value)(std::int64_t step, double seconds, const TrainLosses& l);
};
const LogColumn kLogColumns[] = {
    {"step", [](std::int64_t step, double, const TrainLosses&) { return double(step); }},
    {"seconds", [](std::int64_t, double seconds, const TrainLosses&) { return seconds; }},
    {"total", [](std::int64_t, double, const TrainLosses& l) { return l.total; }},
    {"face_a", [](std::int64_t, double, const TrainLosses& l) { return l.face_a; }},
    {"face_b", [](std::int64_t, double, const TrainLosses& l) { return l.face_b; }},
    {"mask_a", [](std::int64_t, double, const TrainLosses& l) { return l.mask_a; }},
    {"mask_b", [](std::int64_t, double, const TrainLosses& l) { return l.mask_b; }},
    {"adversarial", [](std::int64_t, double, const TrainLosses& l) { return l.adversarial; }},
    {"discriminator", [](std::int64_t, double, const TrainLosses& l) { return l.discriminator; }},
    {"refine_a", [](std::int64_t, double, const TrainLosses& l) { return l.refine_a; }},
    {"refine_b", [](std::int64_t, double, const TrainLosses& l) { return l.refine_b; }},
};

double column_value(const std::string& name, std::int64_t step, double seconds,
                    const TrainLosses& l) {
    for (const LogColumn& column : kLogColumns)
        if (name == column.name) return column.value(step, seconds, l);
    return NAN;  // a column this version does not know: left empty
}

class LossLog {
  public:
    explicit LossLog(const std::string& path) {
        {
            std::ifstream existing(path);
            std::string header;
            if (std::getline(existing, header) && !header.empty()) {
                std::stringstream fields(header);
                for (std::string name; std::getline(fields, name, ',');) columns_.push_back(name);
            }
        }
        out_.open(path, std::ios::app);
        if (columns_.empty()) {
            for (const LogColumn& column : kLogColumns) columns_.push_back(column.name);
            for (size_t i = 0; i < columns_.size(); ++i) out_ << (i ? "," : "") << columns_[i];
            out_ << '\n';
        }
    }
    void write(std::int64_t step, double seconds, const TrainLosses& losses) {
        for (size_t i = 0; i < columns_.size(); ++i) {
            const double v = column_value(columns_[i], step, seconds, losses);
            if (i) out_ << ',';
            if (columns_[i] == "step")
                out_ << step;
            else if (std::isfinite(v))
                out_ << v;
        }
        out_ << '\n';
        out_.flush();
    }

  private:
    std::vector<std::string> columns_;
    std::ofstream out_;
};

void add_times(TrainLosses& sum, const TrainLosses& l) {
    sum.sample_ms += l.sample_ms;
    sum.forward_ms += l.forward_ms;
    sum.loss_ms += l.loss_ms;
    sum.backward_ms += l.backward_ms;
    sum.update_ms += l.update_ms;
    sum.discriminator_ms += l.discriminator_ms;
}

}  // namespace

std::string TrainRunSummary::timing_line() const {
    const TrainLosses& m = mean_ms;
    char line[256];
    std::snprintf(
        line, sizeof line,
        "ms per step (mean of %lld): batches %.0f, forward %.0f, losses %.0f, "
        "backward %.0f, update %.0f, discriminator %.0f, total %.0f",
        static_cast<long long>(timed_steps), m.sample_ms, m.forward_ms, m.loss_ms, m.backward_ms,
        m.update_ms, m.discriminator_ms,
        m.sample_ms + m.forward_ms + m.loss_ms + m.backward_ms + m.update_ms + m.discriminator_ms);
    return line;
}

TrainRunSummary run_training(Trainer& trainer, const TrainRunOptions& options,
                             const TrainRunHooks& hooks) {
    options.schedule.validate();
    TrainRunSummary summary;
    summary.first_step = trainer.steps();
    if (options.budget_s <= 0 && options.total_steps <= summary.first_step)
        throw Error(ErrorCode::kInvalidArgument,
                    "the model is at step " + std::to_string(summary.first_step) +
                        " already; ask for more steps or give a time budget");
    LossLog log(options.out + ".log.csv");
    const auto start = Clock::now();
    double hook_seconds = 0;  // spent in between_steps: not training
    auto training_s = [&] {
        return std::chrono::duration<double>(Clock::now() - start).count() - hook_seconds;
    };
    auto progress = [&] {
        if (options.budget_s > 0) return std::min(1.0, training_s() / options.budget_s);
        return std::min(1.0,
                        static_cast<double>(trainer.steps() - summary.first_step) /
                            std::max<std::int64_t>(1, options.total_steps - summary.first_step));
    };
    auto save = [&](const std::string& why) {
        trainer.save(options.out, options.half_precision);
        if (hooks.on_save) hooks.on_save(why, trainer.steps());
    };
    bool first_phase = true;
    TrainLosses time_sums;
    while (true) {
        if (hooks.stop_requested && hooks.stop_requested()) {
            summary.stopped = true;
            break;
        }
        if (progress() >= 1.0) break;
        const TrainPhase& phase = options.schedule.at(progress());
        if (first_phase || phase.name != trainer.phase().name) {
            trainer.set_phase(phase);
            first_phase = false;
            if (hooks.on_phase) hooks.on_phase(phase, trainer.steps());
        }
        const TrainLosses losses = trainer.step();
        TrainRunStatus status;
        status.step = trainer.steps();
        status.run_steps = status.step - summary.first_step;
        status.training_s = training_s();
        status.progress = progress();
        status.phase = &trainer.phase();
        if (status.run_steps > 3) {  // the first steps warm caches up
            add_times(time_sums, losses);
            ++summary.timed_steps;
        }
        log.write(status.step, status.training_s, losses);
        if (hooks.on_step) hooks.on_step(losses, status);
        if (options.save_every > 0 && status.step % options.save_every == 0) save("checkpoint");
        if (hooks.between_steps) hook_seconds += hooks.between_steps(status);
    }
    summary.training_s = training_s();
    summary.last_step = trainer.steps();
    if (summary.timed_steps > 0) {
        const double n = static_cast<double>(summary.timed_steps);
        summary.mean_ms.sample_ms = time_sums.sample_ms / n;
        summary.mean_ms.forward_ms = time_sums.forward_ms / n;
        summary.mean_ms.loss_ms = time_sums.loss_ms / n;
        summary.mean_ms.backward_ms = time_sums.backward_ms / n;
        summary.mean_ms.update_ms = time_sums.update_ms / n;
        summary.mean_ms.discriminator_ms = time_sums.discriminator_ms / n;
    }
    save(summary.stopped ? "interrupted" : "done");
    return summary;
}

}  // namespace faceswap
