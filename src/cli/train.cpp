// faceswap train: two face sets in, a swap model out, with a recipe of phases over a step count
// or a wall-clock budget, progress, previews, checkpoints, exact resume, a clean stop on
// Ctrl-C, and quality checks on held-out frames while it trains (scored by swap_eval.cpp, the
// code of `faceswap eval`).
#include <sys/resource.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <atomic>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "cli_common.h"
#include "commands.h"
#include "face_set.h"
#include "faceswap/capture/media_reader.h"
#include "faceswap/face_pack.h"
#include "faceswap/identity.h"
#include "faceswap/swap.h"
#include "faceswap/train.h"
#include "swap_eval.h"

namespace faceswap::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::atomic<bool> stop_requested{false};
extern "C" void on_stop_signal(int) {
    stop_requested = true;
}

double cpu_seconds() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
           1e-6 * (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

FaceSet load_set(const std::string& dir, const std::string& name) {
    int skipped = 0;
    std::fprintf(stderr, "loading face set %s ... ", dir.c_str());
    FaceSet set;
    if (is_face_pack(dir)) {
        set = read_face_pack(dir, opencv_face_decoder());
        if (!name.empty()) set.name = name;
    } else {
        set = load_face_set(dir, name.empty() ? identity_name_of(dir) : name, &skipped);
    }
    std::fprintf(stderr, "%d faces (%d px, coverage %.2f)%s\n", set.count(), set.size, set.coverage,
                 skipped ? (", " + std::to_string(skipped) + " unreadable skipped").c_str() : "");
    return set;
}

bool write_png(const cv::Mat& bgr, const std::string& path) {
    const std::string partial = path + ".partial.png";
    if (!cv::imwrite(partial, bgr)) {
        std::fprintf(stderr, "\nwarning: cannot write %s\n", path.c_str());
        return false;
    }
    fs::rename(partial, path);
    return true;
}

void write_preview(const Trainer& trainer, int rows, const std::string& path) {
    const RgbImage image = trainer.preview(rows);
    cv::Mat rgb(image.height, image.width, CV_8UC3, const_cast<std::uint8_t*>(image.rgb.data()));
    cv::Mat bgr;
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    write_png(bgr, path);
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

// ---------------------------------------------------------------------------------------------
// Quality checks on held-out frames.

struct QualityRow {
    std::int64_t step = 0;
    double wall_s = 0, cpu_s = 0;  // training time of the model so far (over all runs)
    std::string phase;
    EvalSummary summary;
};

constexpr const char* kQualityHeader =
    "step,wall_s,cpu_s,phase,closer_to_b,landmark_distance,mouth_correlation,mouth_gap,"
    "detail_ratio,flicker_ratio,passes";

std::string csv_number(double v) {
    if (!std::isfinite(v)) return "";
    std::ostringstream out;
    out.precision(5);
    out << v;
    return out.str();
}

double parse_number(const std::string& text) {
    try {
        return text.empty() ? NAN : std::stod(text);
    } catch (const std::exception&) {
        return NAN;
    }
}

// The rows of OUT.quality.csv (a damaged line is skipped: the chart is a view, not a record).
std::vector<QualityRow> read_quality_log(const std::string& path) {
    std::vector<QualityRow> rows;
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
        std::vector<std::string> cells;
        std::stringstream fields(line);
        for (std::string cell; std::getline(fields, cell, ',');) cells.push_back(cell);
        if (cells.size() < 10) continue;
        QualityRow row;
        row.step = static_cast<std::int64_t>(parse_number(cells[0]));
        row.wall_s = parse_number(cells[1]);
        row.cpu_s = parse_number(cells[2]);
        row.phase = cells[3];
        row.summary.closer_fraction = parse_number(cells[4]);
        row.summary.landmarks.mean = parse_number(cells[5]);
        row.summary.mouth_correlation = parse_number(cells[6]);
        row.summary.mouth_gap.mean = parse_number(cells[7]);
        row.summary.detail.mean = parse_number(cells[8]);
        row.summary.flicker_ratio = parse_number(cells[9]);
        rows.push_back(row);
    }
    return rows;
}

// Metric against training time (hours, steps under the axis), one panel per bar line, the
// bar drawn dashed. Plain OpenCV drawing: no plotting library on the machines we target.
void write_quality_chart(const std::vector<QualityRow>& rows, const std::string& path) {
    if (rows.empty()) return;
    struct Panel {
        const char* title;
        double bar;
        bool higher_is_better;
        double (*value)(const QualityRow&);
    };
    const Panel panels[] = {
        {"closer to B (fraction of frames)", kMinCloserToB, true,
         [](const QualityRow& r) { return r.summary.closer_fraction; }},
        {"landmark distance / inter-ocular", kMaxLandmarkDistance, false,
         [](const QualityRow& r) { return r.summary.landmarks.mean; }},
        {"mouth opening correlation", kMinMouthCorrelation, true,
         [](const QualityRow& r) { return r.summary.mouth_correlation; }},
        {"detail ratio", kMinDetailRatio, true,
         [](const QualityRow& r) { return r.summary.detail.mean; }},
        {"flicker ratio", kMaxFlickerRatio, false,
         [](const QualityRow& r) { return r.summary.flicker_ratio; }},
    };
    const int width = 900, panel_h = 170, left = 70, right = 20, top = 28, bottom = 22;
    const int n_panels = static_cast<int>(std::size(panels));
    cv::Mat chart(panel_h * n_panels + 40, width, CV_8UC3, cv::Scalar(255, 255, 255));
    const double t_max = std::max(rows.back().wall_s, 1.0);
    auto x_of = [&](double t) { return left + (width - left - right) * t / t_max; };
    const cv::Scalar axis(90, 90, 90), curve(180, 90, 20), bar_colour(40, 40, 220);
    for (int p = 0; p < n_panels; ++p) {
        const Panel& panel = panels[p];
        const int y0 = p * panel_h + top, y1 = (p + 1) * panel_h - bottom;
        double lo = panel.bar, hi = panel.bar;
        for (const QualityRow& r : rows) {
            const double v = panel.value(r);
            if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
        }
        const double pad = std::max(1e-3, 0.1 * (hi - lo));
        lo -= pad, hi += pad;
        auto y_of = [&](double v) { return y1 - (y1 - y0) * (v - lo) / (hi - lo); };
        cv::rectangle(chart, {left, y0}, {width - right, y1}, axis, 1);
        cv::putText(chart, panel.title, {left, y0 - 8}, cv::FONT_HERSHEY_SIMPLEX, 0.5,
                    cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
        for (double v : {lo + pad, hi - pad}) {
            char label[32];
            std::snprintf(label, sizeof label, "%.3g", v);
            cv::putText(chart, label, {4, static_cast<int>(y_of(v)) + 4}, cv::FONT_HERSHEY_SIMPLEX,
                        0.4, axis, 1, cv::LINE_AA);
        }
        // The bar, dashed.
        const int yb = static_cast<int>(y_of(panel.bar));
        for (int x = left; x < width - right; x += 12)
            cv::line(chart, {x, yb}, {std::min(x + 6, width - right), yb}, bar_colour, 1);
        cv::putText(chart, panel.higher_is_better ? "bar (above passes)" : "bar (below passes)",
                    {width - right - 150, yb - 4}, cv::FONT_HERSHEY_SIMPLEX, 0.4, bar_colour, 1,
                    cv::LINE_AA);
        cv::Point previous(-1, -1);
        for (const QualityRow& r : rows) {
            const double v = panel.value(r);
            if (!std::isfinite(v)) continue;
            const cv::Point point(static_cast<int>(x_of(r.wall_s)), static_cast<int>(y_of(v)));
            if (previous.x >= 0) cv::line(chart, previous, point, curve, 2, cv::LINE_AA);
            cv::circle(chart, point, 3, curve, cv::FILLED, cv::LINE_AA);
            previous = point;
        }
    }
    // Time axis with the step reached at each tick (interpolated between checks).
    const int axis_y = panel_h * n_panels + 8;
    auto step_at = [&](double t) {
        const QualityRow* before = &rows.front();
        for (const QualityRow& r : rows) {
            if (r.wall_s > t) {
                const double span = r.wall_s - before->wall_s;
                const double f = span > 0 ? (t - before->wall_s) / span : 0;
                return static_cast<long long>(before->step + f * (r.step - before->step));
            }
            before = &r;
        }
        return static_cast<long long>(rows.back().step);
    };
    for (int i = 0; i <= 4; ++i) {
        const double t = t_max * i / 4;
        char label[64];
        std::snprintf(label, sizeof label, "%.2f h / %lld steps", t / 3600, step_at(t));
        const int x = std::clamp(static_cast<int>(x_of(t)) - 65, 0, width - 150);
        cv::putText(chart, label, {x, axis_y + 14}, cv::FONT_HERSHEY_SIMPLEX, 0.4,
                    cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    }
    write_png(chart, path);
}

// Short clips of held-out frames, converted with a snapshot of the model and scored.
class QualityCheck {
  public:
    QualityCheck(const TrainOptions& options, const std::string& set_a_dir,
                 const std::string& set_b_dir)
        : options_(options) {
        config_ = EngineConfig::defaults();
        config_.model_dir = resolve_model_dir(options.eval_model_dir);
        config_.cpu_threads = options.config.cpu_threads;
        config_.device = options.config.device;
        models_ = FaceModels::load(config_);
        embedder_ = IdentityEmbedder::load(config_);
        load_clips();
        // A's and B's references default to the training sets' own crops.
        if ((options.eval_ref_a.empty() && is_face_pack(set_a_dir)) ||
            (options.eval_ref_b.empty() && is_face_pack(set_b_dir)))
            throw std::runtime_error(
                "quality checks with a face pack need --eval-ref-a and --eval-ref-b (a video, "
                "image or folder of each identity)");
        const std::string ref_a = options.eval_ref_a.empty()
                                      ? (fs::path(set_a_dir) / "faces").string()
                                      : options.eval_ref_a;
        const std::string ref_b = options.eval_ref_b.empty()
                                      ? (fs::path(set_b_dir) / "faces").string()
                                      : options.eval_ref_b;
        EngineConfig ref_config = config_;
        ref_config.tracking = false;
        auto reference = [&](const std::string& path, bool is_default, const char* flag) {
            try {
                return reference_descriptor(path, "", options.eval_ref_samples, models_, *embedder_,
                                            ref_config);
            } catch (const std::exception& e) {
                if (!is_default) throw;
                // Tight crops of small sets are hard for the detector to find faces in.
                throw std::runtime_error(std::string(e.what()) + "; give " + flag +
                                         " a video or photos of the identity");
            }
        };
        ref_a_ = reference(ref_a, options.eval_ref_a.empty(), "--eval-ref-a");
        ref_b_ = reference(ref_b, options.eval_ref_b.empty(), "--eval-ref-b");
    }

    std::size_t frame_count() const {
        std::size_t n = 0;
        for (const auto& clip : clips_) n += clip.frames.size();
        return n;
    }

    // Converts the clips with the model at model_path and scores them.
    EvalSummary run(const std::string& model_path) const {
        const auto swap_model = SwapModel::load(model_path, config_);
        SwapConfig swap;
        swap.direction = SwapDirection::kAToB;
        swap.faces.mode = FaceChoiceMode::kLargest;
        FaceSwapper swapper(models_, swap_model, config_, swap);
        FrameScorer scorer(models_, embedder_, config_, ref_a_, ref_b_);
        std::vector<FrameScore> scores;
        for (const Clip& clip : clips_) {
            swapper.reset();
            scorer.start_sequence();
            for (size_t i = 0; i < clip.frames.size(); ++i) {
                const cv::Mat& input = clip.frames[i];
                SwapResult result = swapper.process(view_of(input), i / 25.0);
                const cv::Mat output(result.height, result.width, CV_8UC3, result.pixels.data());
                scores.push_back(
                    scorer.score(clip.first + static_cast<std::int64_t>(i), input, output));
            }
        }
        EvalSummary summary = summarize(scores);
        if (summary.with_input_face == 0)
            throw std::runtime_error("no face in any of the " + std::to_string(scores.size()) +
                                     " held-out frames of " + options_.eval_video +
                                     "; choose --eval-frames that show the face");
        return summary;
    }

    // The frames it scores, [first, end) of the eval video; for the overlap warning.
    std::vector<std::pair<std::int64_t, std::int64_t>> ranges() const {
        std::vector<std::pair<std::int64_t, std::int64_t>> out;
        for (const Clip& c : clips_)
            out.push_back({c.first, c.first + static_cast<std::int64_t>(c.frames.size())});
        return out;
    }

  private:
    struct Clip {
        std::int64_t first = 0;
        std::vector<cv::Mat> frames;
    };

    void load_clips() {
        auto [start, end] = parse_frame_range(options_.eval_frames);
        auto reader = capture::MediaReader::open(options_.eval_video);
        if (end < 0) end = reader->frame_count();
        const std::int64_t length = options_.eval_clip_frames;
        const std::int64_t span = end - start;
        if (span < length)
            throw std::runtime_error("--eval-frames " + options_.eval_frames + " of " +
                                     options_.eval_video + " holds fewer than " +
                                     std::to_string(length) + " frames (one clip)");
        // Clips spread evenly over the range; consecutive frames inside each, for flicker.
        std::vector<std::int64_t> firsts;
        const int clips = std::max(1, options_.eval_clips);
        for (int i = 0; i < clips; ++i)
            firsts.push_back(start + (span - length) * (2 * i + 1) / (2 * clips));
        capture::DecodedFrame frame;
        std::int64_t index = 0;
        size_t next = 0;
        while (next < firsts.size() && reader->next(frame)) {
            const std::int64_t i = index++;
            if (i < firsts[next]) continue;
            if (clips_.size() <= next) clips_.push_back({i, {}});
            clips_.back().frames.push_back(frame.bgr.clone());
            if (static_cast<std::int64_t>(clips_.back().frames.size()) == length) ++next;
        }
        if (clips_.empty() || clips_.back().frames.empty())
            throw std::runtime_error(options_.eval_video + " ends before --eval-frames " +
                                     options_.eval_frames);
    }

    const TrainOptions& options_;
    EngineConfig config_;
    std::shared_ptr<const FaceModels> models_;
    std::shared_ptr<const IdentityEmbedder> embedder_;
    Reference ref_a_, ref_b_;
    std::vector<Clip> clips_;
};

// Warns when held-out frames are among the frames set A was extracted from (same video).
void warn_on_overlap(const std::string& set_dir, const std::string& video,
                     const std::vector<std::pair<std::int64_t, std::int64_t>>& ranges) {
    std::ifstream in(fs::path(set_dir) / "faces.json");
    nlohmann::json doc;
    try {
        doc = nlohmann::json::parse(in);
    } catch (const std::exception&) {
        return;  // load_face_set has already accepted or refused it
    }
    const std::string input = doc.value("input", std::string());
    std::error_code ec;
    if (input.empty() || !fs::equivalent(input, video, ec)) return;
    std::int64_t overlapping = 0;
    for (const auto& face : doc.value("faces", nlohmann::json::array())) {
        const std::int64_t index = face.value("frame_index", std::int64_t{-1});
        for (const auto& [first, end] : ranges)
            if (index >= first && index < end) ++overlapping;
    }
    if (overlapping > 0)
        std::fprintf(stderr,
                     "warning: %lld faces of %s come from the held-out frames of %s; the "
                     "quality figures will flatter the model (extract with --end-frame)\n",
                     static_cast<long long>(overlapping), set_dir.c_str(), video.c_str());
}

// A resumed model's shape comes from its file; an architecture flag that says otherwise is a
// mistake (a wrong --out, or a new model meant), not something to ignore silently.
void check_architecture_flags(const std::vector<std::pair<std::string, int>>& flags,
                              const Trainer& trainer, const std::string& path) {
    const std::string arch = trainer.architecture();  // "df-ae r256 e32 ... m8 u2"
    auto value_of = [&](char key) {
        std::istringstream words(arch);
        for (std::string word; words >> word;)
            if (word.size() > 1 && word[0] == key &&
                std::isdigit(static_cast<unsigned char>(word[1])))
                return std::stoi(word.substr(1));
        return key == 'u' ? 1 : -1;  // no "u": format 1's layout
    };
    const std::map<std::string, char> keys = {{"--resolution", 'r'},   {"--output-upscale", 'u'},
                                              {"--encoder-dims", 'e'}, {"--bottleneck-dims", 'b'},
                                              {"--inter-dims", 'i'},   {"--decoder-dims", 'd'},
                                              {"--mask-dims", 'm'}};
    for (const auto& [flag, value] : flags) {
        const auto key = keys.find(flag);
        if (key == keys.end()) continue;
        const int stored = value_of(key->second);
        if (stored != value)
            throw std::runtime_error(flag + " " + std::to_string(value) + " does not match " +
                                     path + " (" + arch + ", " + flag + " " +
                                     std::to_string(stored) +
                                     "); a resumed model keeps its shape: drop the flag, or "
                                     "train a new model with another --out");
    }
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
    if (exists && !options.config.init_from.empty())
        throw std::runtime_error("--init-from starts a new model; " + options.out +
                                 " exists already (resume it without --init-from)");
    double budget_s = 0;
    try {
        budget_s = options.time_budget.empty() ? 0 : parse_duration_seconds(options.time_budget);
    } catch (const Error& e) {
        throw std::runtime_error(std::string("--time-budget: ") + e.what());
    }
    const TrainSchedule schedule = TrainSchedule::sharpening(
        options.warp_until, options.config.warp_amount, options.lr_dropout, options.gan_from,
        options.gan_weight, options.refine_from);

    // Held-out frames first: a bad eval video fails before minutes of loading.
    std::unique_ptr<QualityCheck> quality;
    if (!options.eval_video.empty()) {
        std::fprintf(stderr, "quality checks: %d clips of %d frames of %s (%s)\n",
                     options.eval_clips, options.eval_clip_frames, options.eval_video.c_str(),
                     options.eval_frames.empty() ? "all frames" : options.eval_frames.c_str());
        quality = std::make_unique<QualityCheck>(options, options.set_a, options.set_b);
        warn_on_overlap(options.set_a, options.eval_video, quality->ranges());
    }

    FaceSet a = load_set(options.set_a, options.name_a);
    FaceSet b = load_set(options.set_b, options.name_b);

    TrainConfig config = options.config;
    std::unique_ptr<Trainer> trainer =
        exists ? Trainer::resume(options.out, config, std::move(a), std::move(b))
               : Trainer::create(config, std::move(a), std::move(b));
    if (exists) check_architecture_flags(options.architecture_flags, *trainer, options.out);
    if (!trainer->initialisation_note().empty())
        std::fprintf(stderr, "%s\n", trainer->initialisation_note().c_str());
    const std::int64_t first_step = trainer->steps();
    if (budget_s <= 0 && options.total_steps <= first_step)
        throw std::runtime_error("the model is at step " + std::to_string(first_step) +
                                 " already; ask for more --steps or give a --time-budget");
    std::fprintf(stderr, "training %s on %s in %s, batch %d per identity, from step %lld %s\n",
                 trainer->architecture().c_str(), trainer->device_name().c_str(),
                 trainer->precision_note().c_str(), config.batch_size,
                 static_cast<long long>(first_step),
                 budget_s > 0 ? ("for " + format_duration(budget_s)).c_str()
                              : ("to " + std::to_string(options.total_steps)).c_str());

    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);
    const std::string preview_path = options.out + ".preview.png";
    const std::string quality_path = options.out + ".quality.csv";
    const std::string chart_path = options.out + ".quality.png";

    // Training time of earlier runs of this model, so the quality curve continues.
    std::vector<QualityRow> quality_rows = read_quality_log(quality_path);
    const double earlier_wall = quality_rows.empty() ? 0 : quality_rows.back().wall_s;
    const double earlier_cpu = quality_rows.empty() ? 0 : quality_rows.back().cpu_s;
    const double cpu_start = cpu_seconds();
    double eval_seconds = 0;    // time spent on quality checks before the run starts
    double run_training_s = 0;  // the run's training seconds at the latest step
    std::string bar_note = quality ? "bar: not checked yet" : "";

    // Returns the seconds the check took (not charged to training).
    auto check_quality = [&](const char* why) -> double {
        if (!quality) return 0.0;
        const auto t0 = Clock::now();
        const std::string snapshot = options.out + ".quality-snapshot.fsmodel";
        trainer->save(snapshot, true);
        fs::remove(snapshot + ".train");
        QualityRow row;
        row.step = trainer->steps();
        row.wall_s = earlier_wall + run_training_s;
        row.cpu_s = earlier_cpu + cpu_seconds() - cpu_start;
        row.phase = trainer->phase().name;
        try {
            row.summary = quality->run(snapshot);
        } catch (...) {
            fs::remove(snapshot);
            throw;
        }
        fs::remove(snapshot);
        const bool new_file = !fs::exists(quality_path);
        std::ofstream out(quality_path, std::ios::app);
        if (new_file) out << kQualityHeader << '\n';
        const EvalSummary& s = row.summary;
        const int passes =
            s.pass_identity + s.pass_landmarks + s.pass_mouth + s.pass_detail + s.pass_flicker;
        out << row.step << ',' << csv_number(row.wall_s) << ',' << csv_number(row.cpu_s) << ','
            << row.phase << ',' << csv_number(s.closer_fraction) << ','
            << csv_number(s.landmarks.mean) << ',' << csv_number(s.mouth_correlation) << ','
            << csv_number(s.mouth_gap.mean) << ',' << csv_number(s.detail.mean) << ','
            << csv_number(s.flicker_ratio) << ',' << passes << std::endl;
        quality_rows.push_back(row);
        write_quality_chart(quality_rows, chart_path);
        bar_note = s.all_pass() ? "bar: MET" : "bar: " + std::to_string(passes) + "/5";
        progress_event({{"event", "quality"},
                        {"step", row.step},
                        {"training_s", row.wall_s},
                        {"passes", passes},
                        {"closer_to_b", s.closer_fraction},
                        {"chart", chart_path},
                        {"summary", s.one_line()}});
        const double took = std::chrono::duration<double>(Clock::now() - t0).count();
        std::fprintf(stderr, "\nquality (%s, step %lld, %s of training, check took %s): %s\n", why,
                     static_cast<long long>(row.step), format_duration(row.wall_s).c_str(),
                     format_duration(took).c_str(), s.one_line().c_str());
        return took;
    };

    // The starting point: a baseline, and the cost of one check against the budget.
    if (quality) {
        eval_seconds = check_quality("start");
        if (budget_s > 0 && budget_s < 2 * eval_seconds) {
            if (!exists) {  // leave nothing of a run that never started
                fs::remove(quality_path);
                fs::remove(chart_path);
            }
            throw std::runtime_error("--time-budget " + format_duration(budget_s) +
                                     " is too short: one quality "
                                     "check takes " +
                                     format_duration(eval_seconds) + "; give at least " +
                                     format_duration(4 * eval_seconds) +
                                     ", fewer --eval-clips, or no --eval-video");
        }
    }

    TrainRunOptions run;
    run.out = options.out;
    run.budget_s = budget_s;
    run.total_steps = options.total_steps;
    run.schedule = schedule;
    run.save_every = options.save_every;
    run.half_precision = options.half_precision;

    ProgressBar progress("train", budget_s > 0 ? 0 : options.total_steps - first_step);
    TrainLosses smoothed;
    bool have_smoothed = false;
    double last_check = 0;
    TrainRunHooks hooks;
    hooks.stop_requested = [] { return stop_requested.load(); };
    hooks.on_phase = [&](const TrainPhase& phase, std::int64_t step) {
        std::string extra;
        if (phase.gan_weight > 0)
            extra = ", patch discriminator at weight " + csv_number(phase.gan_weight);
        if (phase.refine)
            extra = "; the autoencoder is frozen, the detail stage trains (" +
                    trainer->refiner_note() + ")";
        progress_event({{"event", "phase"}, {"phase", phase.name}, {"step", step}});
        std::fprintf(stderr, "\nphase '%s' from step %lld: warp %.2f, lr dropout %.2f%s\n",
                     phase.name.c_str(), static_cast<long long>(step), phase.warp_amount,
                     phase.lr_dropout, extra.c_str());
    };
    hooks.on_step = [&](const TrainLosses& losses, const TrainRunStatus& status) {
        run_training_s = status.training_s;
        // An exponential average makes the printed loss readable; the log keeps raw values.
        if (!have_smoothed) smoothed = losses, have_smoothed = true;
        const double k = 0.05;
        smoothed.total += k * (losses.total - smoothed.total);
        smoothed.face_a += k * (losses.face_a - smoothed.face_a);
        smoothed.face_b += k * (losses.face_b - smoothed.face_b);
        smoothed.adversarial += k * (losses.adversarial - smoothed.adversarial);
        smoothed.discriminator += k * (losses.discriminator - smoothed.discriminator);
        smoothed.refine_a += k * (losses.refine_a - smoothed.refine_a);
        smoothed.refine_b += k * (losses.refine_b - smoothed.refine_b);
        char losses_note[96];
        if (status.phase->refine)
            std::snprintf(losses_note, sizeof losses_note, "detail A %.4f B %.4f",
                          smoothed.refine_a, smoothed.refine_b);
        else
            std::snprintf(losses_note, sizeof losses_note, "loss %.4f (A %.4f B %.4f)",
                          smoothed.total, smoothed.face_a, smoothed.face_b);
        char gan_note[64] = "";
        if (status.phase->gan_weight > 0 ||
            (status.phase->refine && options.config.refine.gan_weight > 0))
            std::snprintf(gan_note, sizeof gan_note, " G %.3f D %.3f", smoothed.adversarial,
                          smoothed.discriminator);
        char note[256];
        std::snprintf(note, sizeof note, "step %lld %s %s%s %s",
                      static_cast<long long>(status.step), status.phase->name.c_str(), losses_note,
                      gan_note, bar_note.c_str());
        progress.update_fraction(status.progress, status.run_steps, note);
        if (options.preview_every > 0 && status.step % options.preview_every == 0) {
            write_preview(*trainer, options.preview_rows, preview_path);
            progress_event({{"event", "preview"}, {"path", preview_path}, {"step", status.step}});
        }
    };
    hooks.on_save = [&](const std::string& why, std::int64_t step) {
        write_preview(*trainer, options.preview_rows, preview_path);
        progress_event({{"event", "saved"}, {"model", options.out}, {"step", step}});
        progress_event({{"event", "preview"}, {"path", preview_path}, {"step", step}});
        std::fprintf(stderr, "\n%s: saved %s at step %lld\n", why.c_str(), options.out.c_str(),
                     static_cast<long long>(step));
    };
    hooks.between_steps = [&](const TrainRunStatus& status) -> double {
        if (!quality || status.training_s - last_check < options.eval_every_s) return 0.0;
        last_check = status.training_s;
        return check_quality("periodic");
    };
    const TrainRunSummary done = run_training(*trainer, run, hooks);
    progress.finish();
    if (done.timed_steps > 0) std::fprintf(stderr, "%s\n", done.timing_line().c_str());
    run_training_s = done.training_s;
    // The end's check, unless a periodic one just scored this very step.
    if (quality && trainer->steps() > first_step &&
        (quality_rows.empty() || quality_rows.back().step != trainer->steps()))
        check_quality(stop_requested ? "stop" : "end");
    return 0;
}

bool training_was_stopped() {
    return stop_requested;
}

}  // namespace faceswap::cli
