#include "cli_common.h"

#include "faceswap/capture/media_reader.h"
#include "faceswap/identity.h"
#include "faceswap/paths.h"

#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>

namespace faceswap::cli {

std::string default_cache_dir() {
    return paths::cache_dir();
}

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

FaceChoice face_choice_from(const std::vector<std::string>& values, float max_distance,
                            const EngineConfig& config) {
    FaceChoice choice;
    if (max_distance >= 0) choice.max_distance = max_distance;
    if (values.empty() || (values.size() == 1 && values[0] == "all")) return choice;
    if (values.size() == 1 && values[0] == "largest") {
        choice.mode = FaceChoiceMode::kLargest;
        return choice;
    }
    EngineConfig one_by_one = config;
    one_by_one.tracking = false;  // every photo stands alone
    auto models = FaceModels::load(one_by_one);
    FaceAnalyzer analyzer(models, one_by_one);
    auto embedder = IdentityEmbedder::load(one_by_one);
    std::vector<FaceDescriptor> descriptors;
    for (const std::string& value : values) {
        if (value == "all" || value == "largest")
            throw Error(ErrorCode::kInvalidArgument,
                        "--faces " + value + " cannot be combined with reference photos");
        std::unique_ptr<capture::MediaReader> reader;
        try {
            reader = capture::MediaReader::open(value);
        } catch (const capture::MediaError& e) {
            throw Error(ErrorCode::kInvalidArgument, std::string("--faces: ") + e.what() +
                                                         " (give all, largest, or photos "
                                                         "of the person to swap)");
        }
        if (!reader->stills())
            throw Error(ErrorCode::kInvalidArgument,
                        "--faces " + value +
                            " is a video: give photos of the person to swap "
                            "(a frame saved as .jpg or .png will do)");
        capture::DecodedFrame photo;
        while (reader->next(photo)) {
            const std::string name =
                std::filesystem::is_directory(value) ? value + "/" + photo.name : value;
            const FrameAnalysis analysis = analyzer.analyze(view_of(photo.bgr));
            if (analysis.faces.empty())
                throw Error(ErrorCode::kInvalidArgument,
                            "reference photo " + name +
                                " shows no face the detector finds: "
                                "give a photo where the face is clearly visible, front-on and at "
                                "least 80 pixels wide");
            const Face& largest = *largest_face(analysis.faces);
            if (analysis.faces.size() > 1)
                std::fprintf(stderr,
                             "note: reference photo %s shows %zu faces; using the largest (at "
                             "x %.0f, y %.0f, %.0f px wide): crop the photo to choose another\n",
                             name.c_str(), analysis.faces.size(), largest.box.x, largest.box.y,
                             largest.box.width);
            descriptors.push_back(embedder->embed(view_of(photo.bgr), {largest}).at(0));
        }
    }
    choice.mode = FaceChoiceMode::kPeople;
    choice.people = {mean_descriptor(descriptors)};
    std::fprintf(stderr,
                 "swapping only the person of %zu reference photo%s (match distance %.2f)\n",
                 descriptors.size(), descriptors.size() == 1 ? "" : "s", choice.max_distance);
    return choice;
}

namespace {
std::atomic<bool> json_progress{false};
}

void set_progress_json(bool on) {
    json_progress = on;
}
bool progress_json() {
    return json_progress;
}
void progress_event(const nlohmann::json& event) {
    if (!json_progress) return;
    static std::mutex stdout_mutex;  // one whole line at a time
    const std::string line = event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::lock_guard lock(stdout_mutex);
    std::fprintf(stdout, "%s\n", line.c_str());
    std::fflush(stdout);
}

ProgressBar::ProgressBar(std::string label, std::int64_t total)
    : label_(std::move(label)), total_(total), start_(std::chrono::steady_clock::now()) {}

std::string format_duration(double seconds) {
    if (!(seconds >= 0)) seconds = 0;
    const auto total = static_cast<long long>(seconds + 0.5);
    char text[64];
    if (total < 60)
        std::snprintf(text, sizeof text, "%lld s", total);
    else if (total < 3600)
        std::snprintf(text, sizeof text, "%lld min %02lld s", total / 60, total % 60);
    else
        std::snprintf(text, sizeof text, "%lld h %02lld min", total / 3600, total % 3600 / 60);
    return text;
}

bool ProgressBar::due() {
    const auto now = std::chrono::steady_clock::now();
    // On a terminal redraw 10 times a second; in a log, one line every 10 seconds.
    const auto interval = ::isatty(2) ? std::chrono::milliseconds(100) : std::chrono::seconds(10);
    if (now - last_draw_ < interval) return false;
    last_draw_ = now;
    return true;
}

void ProgressBar::update(std::int64_t done, const std::string& note) {
    last_done_ = done;
    report_json(done, -1, note, false);
    if (due()) draw(done, -1, note);
}

void ProgressBar::update_fraction(double fraction, std::int64_t done, const std::string& note) {
    last_done_ = done;
    last_fraction_ = std::clamp(fraction, 0.0, 1.0);
    report_json(done, last_fraction_, note, false);
    if (due()) draw(done, last_fraction_, note);
}

// Once a second: {"event":"progress","label":..,"done":..,"total":..,"fraction":..,"eta_s":..}
// (fraction and eta_s are null where the end is unknown).
void ProgressBar::report_json(std::int64_t done, double fraction, const std::string& note,
                              bool final) {
    if (!progress_json()) return;
    const auto now = std::chrono::steady_clock::now();
    if (!final && now - last_json_ < std::chrono::seconds(1)) return;
    last_json_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    if (fraction < 0 && total_ > 0) fraction = std::min(1.0, static_cast<double>(done) / total_);
    nlohmann::json event = {{"event", "progress"}, {"label", label_},      {"done", done},
                            {"total", total_},     {"elapsed_s", elapsed}, {"note", note}};
    event["fraction"] = fraction >= 0 ? nlohmann::json(fraction) : nlohmann::json();
    event["eta_s"] = fraction > 0
                         ? nlohmann::json(final ? 0.0 : elapsed * (1 - fraction) / fraction)
                         : nlohmann::json();
    progress_event(event);
}

void ProgressBar::finish(const std::string& note) {
    report_json(last_done_, last_fraction_, note, true);
    draw(last_done_, last_fraction_, note);
    if (::isatty(2)) std::fputc('\n', stderr);
}

void ProgressBar::draw(std::int64_t done, double fraction, const std::string& note) {
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double rate = elapsed > 0 ? done / elapsed : 0.0;
    char line[320];
    if (fraction >= 0 || total_ > 0) {
        if (fraction < 0) fraction = std::min(1.0, static_cast<double>(done) / total_);
        const int width = 28, filled = static_cast<int>(fraction * width);
        const double eta = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0.0;
        const std::string count =
            total_ > 0 ? std::to_string(done) + "/" + std::to_string(total_) : std::to_string(done);
        std::snprintf(line, sizeof line, "%s [%-*s] %3.0f%% %s  %.1f/s  %s %s  %s", label_.c_str(),
                      width, std::string(filled, '#').c_str(), fraction * 100, count.c_str(), rate,
                      fraction >= 1 ? "took" : "ETA",
                      format_duration(fraction >= 1 ? elapsed : eta).c_str(), note.c_str());
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
