#include "cli_common.h"

#include "faceswap/paths.h"

#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace faceswap::cli {

std::string default_cache_dir() { return paths::cache_dir(); }

std::string resolve_model_dir(const std::string& from_flag) {
    return paths::face_model_dir(from_flag);
}

std::string resolve_swap_model(const std::string& from_flag) {
    return paths::swap_model(from_flag);
}

DeviceKind parse_device(const std::string& name) {
    if (name == "cpu") return DeviceKind::kCpu;
    if (name == "cuda") return DeviceKind::kCuda;
    return DeviceKind::kAuto;
}

FrameView view_of(const cv::Mat& bgr) {
    return {bgr.data, bgr.cols, bgr.rows, static_cast<int>(bgr.step[0]), PixelFormat::BGR24};
}

ProgressBar::ProgressBar(std::string label, std::int64_t total)
    : label_(std::move(label)), total_(total), start_(std::chrono::steady_clock::now()) {}

void ProgressBar::update(std::int64_t done, const std::string& note) {
    const auto now = std::chrono::steady_clock::now();
    // On a terminal redraw 10 times a second; in a log, one line every 10 seconds.
    const auto interval = ::isatty(2) ? std::chrono::milliseconds(100) : std::chrono::seconds(10);
    if (now - last_draw_ < interval) return;
    last_draw_ = now;
    draw(done, note);
}

void ProgressBar::finish(const std::string& note) {
    draw(total_ > 0 ? total_ : 0, note);
    if (::isatty(2)) std::fputc('\n', stderr);
}

void ProgressBar::draw(std::int64_t done, const std::string& note) {
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double rate = elapsed > 0 ? done / elapsed : 0.0;
    char line[256];
    if (total_ > 0) {
        const double fraction = std::min(1.0, static_cast<double>(done) / total_);
        const int width = 28, filled = static_cast<int>(fraction * width);
        const double eta = rate > 0 ? (total_ - done) / rate : 0.0;
        std::snprintf(line, sizeof line, "%s [%-*s] %3.0f%% %lld/%lld  %.1f/s  ETA %02d:%02d  %s",
                      label_.c_str(), width, std::string(filled, '#').c_str(), fraction * 100,
                      static_cast<long long>(done), static_cast<long long>(total_), rate,
                      static_cast<int>(eta) / 60, static_cast<int>(eta) % 60, note.c_str());
    } else {
        std::snprintf(line, sizeof line, "%s %lld  %.1f/s  %s", label_.c_str(),
                      static_cast<long long>(done), rate, note.c_str());
    }
    if (::isatty(2)) {
        std::fprintf(stderr, "\r%s\033[K", line);  // \033[K clears what a longer line left
    } else {
        std::fprintf(stderr, "%s\n", line);
    }
    std::fflush(stderr);
}

}  // namespace faceswap::cli
