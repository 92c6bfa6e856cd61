// faceswap train: two face sets in, a swap model out, with progress, previews, checkpoints,
// exact resume and a clean stop on Ctrl-C.
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli_common.h"
#include "commands.h"
#include "face_set.h"
#include "faceswap/train.h"

namespace faceswap::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::atomic<bool> stop_requested{false};
extern "C" void on_stop_signal(int) { stop_requested = true; }

FaceSet load_set(const std::string& dir, const std::string& name) {
    int skipped = 0;
    std::fprintf(stderr, "loading face set %s ... ", dir.c_str());
    FaceSet set = load_face_set(dir, name.empty() ? identity_name_of(dir) : name, &skipped);
    std::fprintf(stderr, "%d faces (%d px, coverage %.2f)%s\n", set.count(), set.size,
                 set.coverage,
                 skipped ? (", " + std::to_string(skipped) + " unreadable skipped").c_str() : "");
    return set;
}

void write_preview(const Trainer& trainer, int rows, const std::string& path) {
    const RgbImage image = trainer.preview(rows);
    cv::Mat rgb(image.height, image.width, CV_8UC3, const_cast<std::uint8_t*>(image.rgb.data()));
    cv::Mat bgr;
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    const std::string partial = path + ".partial.png";
    if (!cv::imwrite(partial, bgr)) {
        std::fprintf(stderr, "\nwarning: cannot write preview %s\n", path.c_str());
        return;
    }
    fs::rename(partial, path);
}

// Probe that the output folder takes files before spending time on loading and training.
void check_writable(const fs::path& model) {
    const fs::path dir = model.has_parent_path() ? model.parent_path() : fs::path(".");
    if (!fs::is_directory(dir))
        throw std::runtime_error("output folder " + dir.string() +
                                 " does not exist; create it or choose another --out");
    const fs::path probe = dir / (".faceswap-write-test-" + std::to_string(::getpid()));
    std::ofstream out(probe);
    if (!out)
        throw std::runtime_error("cannot write into " + dir.string() +
                                 " (permissions?); choose another --out");
    out.close();
    fs::remove(probe);
}

}  // namespace

int run_train(const TrainOptions& options) {
    const fs::path model_path(options.out);
    check_writable(model_path);
    const bool exists = fs::exists(model_path);
    if (exists && !options.resume)
        throw std::runtime_error(options.out +
                                 " already exists; pass --resume to continue training it, or "
                                 "choose another --out (it is never overwritten otherwise)");
    if (!exists && options.resume)
        std::fprintf(stderr, "note: %s does not exist yet, starting a new model\n",
                     options.out.c_str());

    FaceSet a = load_set(options.set_a, options.name_a);
    FaceSet b = load_set(options.set_b, options.name_b);

    TrainConfig config = options.config;
    std::unique_ptr<Trainer> trainer =
        exists ? Trainer::resume(options.out, config, std::move(a), std::move(b))
               : Trainer::create(config, std::move(a), std::move(b));
    std::fprintf(stderr, "training %s on %s, batch %d per identity, from step %lld to %lld\n",
                 trainer->architecture().c_str(), trainer->device_name().c_str(),
                 config.batch_size, static_cast<long long>(trainer->steps()),
                 static_cast<long long>(options.total_steps));

    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);
    const std::string preview_path = options.out + ".preview.png";
    std::ofstream log(options.out + ".log.csv", std::ios::app);
    if (log.tellp() == 0) log << "step,seconds,total,face_a,face_b,mask_a,mask_b\n";

    const std::int64_t first_step = trainer->steps();
    ProgressBar progress("train", options.total_steps - first_step);
    const auto start = Clock::now();
    TrainLosses smoothed;
    bool have_smoothed = false;
    auto save = [&](const char* why) {
        trainer->save(options.out, options.half_precision);
        write_preview(*trainer, options.preview_rows, preview_path);
        std::fprintf(stderr, "\n%s: saved %s at step %lld\n", why, options.out.c_str(),
                     static_cast<long long>(trainer->steps()));
    };
    while (trainer->steps() < options.total_steps && !stop_requested) {
        const TrainLosses losses = trainer->step();
        // An exponential average makes the printed loss readable; the log keeps raw values.
        if (!have_smoothed) smoothed = losses, have_smoothed = true;
        const double k = 0.05;
        smoothed.total += k * (losses.total - smoothed.total);
        smoothed.face_a += k * (losses.face_a - smoothed.face_a);
        smoothed.face_b += k * (losses.face_b - smoothed.face_b);
        const std::int64_t step = trainer->steps();
        const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
        log << step << ',' << seconds << ',' << losses.total << ',' << losses.face_a << ','
            << losses.face_b << ',' << losses.mask_a << ',' << losses.mask_b << std::endl;
        char note[128];
        std::snprintf(note, sizeof note, "step %lld loss %.4f (A %.4f B %.4f)",
                      static_cast<long long>(step), smoothed.total, smoothed.face_a,
                      smoothed.face_b);
        progress.update(step - first_step, note);
        if (options.preview_every > 0 && step % options.preview_every == 0)
            write_preview(*trainer, options.preview_rows, preview_path);
        if (options.save_every > 0 && step % options.save_every == 0) save("checkpoint");
    }
    progress.finish();
    save(stop_requested ? "interrupted" : "done");
    return 0;
}

}  // namespace faceswap::cli
