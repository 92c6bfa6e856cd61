// faceswap-train-packs: the trainer with nothing but LibTorch, for a GPU machine that has no
// OpenCV, Qt or Boost. Reads raw face packs (scripts/fspack_to_raw.py makes them from the
// JPEG packs of `faceswap pack`), runs the same Trainer and recipe as `faceswap train`, and
// writes the same model file. Quality checks need the face nets and a video decoder: run
// `faceswap train --resume ... --eval-video` or `faceswap eval` where OpenCV is.
//
//   faceswap-train-packs --a a.raw.fspack --b b.raw.fspack --out m.fsmodel --time-budget 12m
//       [--init-from demo.fsmodel] [--resume] [--resolution 256 --output-upscale 2 ...]
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "faceswap/face_pack.h"
#include "faceswap/train.h"

namespace {

using Clock = std::chrono::steady_clock;
std::atomic<bool> stop_requested{false};
extern "C" void on_stop(int) {
    stop_requested = true;
}

const char* kUsage =
    "usage: faceswap-train-packs --a PACK --b PACK --out MODEL [--time-budget 12m | --steps N]\n"
    "  [--resume] [--init-from MODEL] [--resolution R] [--output-upscale 1|2]\n"
    "  [--encoder-dims N] [--bottleneck-dims N] [--inter-dims N] [--decoder-dims N]\n"
    "  [--mask-dims N] [--batch N] [--lr X] [--loss multiscale|classic] [--warp-until F]\n"
    "  [--lr-dropout P] [--gan-from F] [--gan-weight W] [--save-every N] [--half]\n"
    "  [--device auto|cpu|cuda] [--cpu-threads N] [--precision auto|fp32|bf16]\n"
    "  [--refine-from F] [--refiner-dims N] [--eyes-mouth-weight W] [--expression-balance B]\n";

}  // namespace

int main(int argc, char** argv) {
    using namespace faceswap;
    std::map<std::string, std::string> args;
    const std::map<std::string, bool> known = {{"--a", true},
                                               {"--b", true},
                                               {"--out", true},
                                               {"--time-budget", true},
                                               {"--steps", true},
                                               {"--resume", false},
                                               {"--init-from", true},
                                               {"--resolution", true},
                                               {"--output-upscale", true},
                                               {"--encoder-dims", true},
                                               {"--bottleneck-dims", true},
                                               {"--inter-dims", true},
                                               {"--decoder-dims", true},
                                               {"--mask-dims", true},
                                               {"--batch", true},
                                               {"--lr", true},
                                               {"--loss", true},
                                               {"--warp-until", true},
                                               {"--lr-dropout", true},
                                               {"--gan-from", true},
                                               {"--gan-weight", true},
                                               {"--save-every", true},
                                               {"--half", false},
                                               {"--device", true},
                                               {"--cpu-threads", true},
                                               {"--threads", true},  // the earlier name
                                               {"--precision", true},
                                               {"--refine-from", true},
                                               {"--refiner-dims", true},
                                               {"--eyes-mouth-weight", true},
                                               {"--expression-balance", true},
                                               {"--help", false}};
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        const auto it = known.find(flag);
        if (it == known.end()) {
            std::fprintf(stderr, "error: unknown argument '%s'\n%s", flag.c_str(), kUsage);
            return 2;
        }
        if (it->second && i + 1 >= argc) {
            std::fprintf(stderr, "error: %s needs a value\n%s", flag.c_str(), kUsage);
            return 2;
        }
        args[flag] = it->second ? argv[++i] : "1";
    }
    if (args.count("--help") || !args.count("--a") || !args.count("--b") || !args.count("--out")) {
        std::fprintf(stderr, "%s", kUsage);
        return args.count("--help") ? 0 : 2;
    }
    try {
        auto number = [&](const char* flag, double fallback) {
            const auto it = args.find(flag);
            if (it == args.end()) return fallback;
            try {
                size_t used = 0;
                const double v = std::stod(it->second, &used);
                if (used == it->second.size()) return v;
            } catch (const std::exception&) {
            }
            throw Error(ErrorCode::kInvalidArgument,
                        std::string(flag) + " '" + it->second + "' is not a number");
        };
        TrainConfig config;
        config.resolution = static_cast<int>(number("--resolution", 256));
        config.output_upscale = static_cast<int>(number("--output-upscale", 2));
        config.encoder_dims = static_cast<int>(number("--encoder-dims", config.encoder_dims));
        config.bottleneck_dims =
            static_cast<int>(number("--bottleneck-dims", config.bottleneck_dims));
        config.inter_dims = static_cast<int>(number("--inter-dims", config.inter_dims));
        config.decoder_dims = static_cast<int>(number("--decoder-dims", 32));
        config.mask_dims = static_cast<int>(number("--mask-dims", config.mask_dims));
        config.batch_size = static_cast<int>(number("--batch", config.batch_size));
        config.learning_rate = number("--lr", 1.5e-4);
        config.cpu_threads = static_cast<int>(number("--cpu-threads", number("--threads", 0)));
        config.eyes_mouth_weight =
            static_cast<float>(number("--eyes-mouth-weight", config.eyes_mouth_weight));
        config.expression_balance =
            static_cast<float>(number("--expression-balance", config.expression_balance));
        config.loss = args.count("--loss") && args["--loss"] == "classic" ? TrainLoss::kClassic
                                                                          : TrainLoss::kMultiScale;
        const std::string device = args.count("--device") ? args["--device"] : "auto";
        config.device = device == "cpu"    ? DeviceKind::kCpu
                        : device == "cuda" ? DeviceKind::kCuda
                                           : DeviceKind::kAuto;
        if (args.count("--init-from")) config.init_from = args["--init-from"];
        if (args.count("--precision"))
            config.precision = parse_train_precision(args["--precision"]);
        const double budget_s =
            args.count("--time-budget") ? parse_duration_seconds(args["--time-budget"]) : 0;
        const auto total_steps = static_cast<std::int64_t>(number("--steps", 100000));
        const auto save_every = static_cast<std::int64_t>(number("--save-every", 1000));
        const TrainSchedule schedule = TrainSchedule::sharpening(
            number("--warp-until", 0.6), config.warp_amount,
            static_cast<float>(number("--lr-dropout", 0.3)), number("--gan-from", 1.0),
            static_cast<float>(number("--gan-weight", 0.1)), number("--refine-from", 1.0));
        config.refine.dims = static_cast<int>(number("--refiner-dims", config.refine.dims));
        const std::string out = args["--out"];
        const bool exists = std::filesystem::exists(out);
        if (exists && !args.count("--resume"))
            throw Error(
                ErrorCode::kInvalidArgument,
                out + " already exists; pass --resume to continue it, or choose another --out");

        std::fprintf(stderr, "reading %s and %s\n", args["--a"].c_str(), args["--b"].c_str());
        FaceSet a = read_face_pack(args["--a"]);
        FaceSet b = read_face_pack(args["--b"]);
        std::fprintf(stderr, "%d faces of %s, %d of %s (%d px, coverage %.2f)\n", a.count(),
                     a.name.c_str(), b.count(), b.name.c_str(), a.size, a.coverage);
        auto trainer = exists ? Trainer::resume(out, config, std::move(a), std::move(b))
                              : Trainer::create(config, std::move(a), std::move(b));
        if (!trainer->initialisation_note().empty())
            std::fprintf(stderr, "%s\n", trainer->initialisation_note().c_str());
        const std::int64_t first = trainer->steps();
        std::fprintf(stderr, "training %s on %s in %s from step %lld\n",
                     trainer->architecture().c_str(), trainer->device_name().c_str(),
                     trainer->precision_note().c_str(), static_cast<long long>(first));
        std::signal(SIGINT, on_stop);
        std::signal(SIGTERM, on_stop);
        TrainRunOptions run;
        run.out = out;
        run.budget_s = budget_s;
        run.total_steps = total_steps;
        run.schedule = schedule;
        run.save_every = save_every;
        run.half_precision = args.count("--half") > 0;
        TrainRunHooks hooks;
        hooks.stop_requested = [] { return stop_requested.load(); };
        hooks.on_phase = [](const TrainPhase& phase, std::int64_t step) {
            std::fprintf(stderr, "phase '%s' from step %lld\n", phase.name.c_str(),
                         static_cast<long long>(step));
        };
        auto last_print = Clock::now();
        hooks.on_step = [&](const TrainLosses& l, const TrainRunStatus& status) {
            if (Clock::now() - last_print < std::chrono::seconds(10)) return;
            last_print = Clock::now();
            const double rate = status.run_steps / std::max(status.training_s, 1e-9);
            std::fprintf(stderr,
                         "step %lld  %.2f steps/s  loss %.4f  detail %.4f  %3.0f%%  (%.0f ms/step: "
                         "batches %.0f, forward %.0f, losses %.0f, backward %.0f, update %.0f)\n",
                         static_cast<long long>(status.step), rate, l.total,
                         l.refine_a + l.refine_b, 100 * status.progress,
                         1000 / std::max(rate, 1e-9), l.sample_ms, l.forward_ms, l.loss_ms,
                         l.backward_ms, l.update_ms);
        };
        const TrainRunSummary done = run_training(*trainer, run, hooks);
        if (done.timed_steps > 0) std::fprintf(stderr, "%s\n", done.timing_line().c_str());
        std::fprintf(stderr, "%s: saved %s at step %lld after %.0f s (%.2f steps/s)\n",
                     done.stopped ? "interrupted" : "done", out.c_str(),
                     static_cast<long long>(done.last_step), done.training_s,
                     (done.last_step - done.first_step) / std::max(done.training_s, 1e-9));
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
