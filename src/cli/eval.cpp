// faceswap eval: how well a converted video swapped the face, frame by frame against its input.
// The metrics and their exact definitions are in docs/evaluation.md.
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>

#include "cli_common.h"
#include "commands.h"
#include "faceswap/capture/media_reader.h"
#include "faceswap/identity.h"

namespace faceswap::cli {
namespace {

using capture::DecodedFrame;
using capture::MediaReader;

// The quality bar (issue 3).
constexpr double kMinCloserToB = 0.90;
constexpr double kMaxLandmarkDistance = 0.05;
constexpr double kMinDetailRatio = 0.5;
constexpr double kMaxFlickerRatio = 1.0;

// "START:END" (END exclusive, either may be empty) into [start, end); end -1 = to the end.
std::pair<std::int64_t, std::int64_t> parse_range(const std::string& text) {
    if (text.empty()) return {0, -1};
    const size_t colon = text.find(':');
    try {
        if (colon == std::string::npos) throw std::invalid_argument(text);
        const std::string a = text.substr(0, colon), b = text.substr(colon + 1);
        const std::int64_t start = a.empty() ? 0 : std::stoll(a);
        const std::int64_t end = b.empty() ? -1 : std::stoll(b);
        if (start < 0 || (end >= 0 && end <= start)) throw std::invalid_argument(text);
        return {start, end};
    } catch (const std::exception&) {
        throw std::runtime_error("frame range '" + text +
                                 "' is not START:END with 0 <= START < END (END exclusive)");
    }
}

const Face* largest_face(const std::vector<Face>& faces) {
    const Face* best = nullptr;
    for (const Face& f : faces)
        if (!best || f.box.width * f.box.height > best->box.width * best->box.height) best = &f;
    return best;
}

Point2f mean_point(const Landmarks68& p, int first, int last) {
    Point2f sum;
    for (int i = first; i < last; ++i) sum.x += p[i].x, sum.y += p[i].y;
    return {sum.x / (last - first), sum.y / (last - first)};
}

// Box clipped to the image as an integer cv::Rect (possibly empty).
cv::Rect to_rect(const Box& box, const cv::Size& size) {
    const int x0 = std::max(0, static_cast<int>(std::floor(box.x)));
    const int y0 = std::max(0, static_cast<int>(std::floor(box.y)));
    const int x1 = std::min(size.width, static_cast<int>(std::ceil(box.x + box.width)));
    const int y1 = std::min(size.height, static_cast<int>(std::ceil(box.y + box.height)));
    return {x0, y0, std::max(0, x1 - x0), std::max(0, y1 - y0)};
}

// The middle half of a box: half its width and half its height, same centre.
Box middle_half(const Box& b) {
    return {b.x + b.width / 4, b.y + b.height / 4, b.width / 2, b.height / 2};
}

double laplacian_variance(const cv::Mat& laplacian, const cv::Rect& roi) {
    cv::Scalar mean, stddev;
    cv::meanStdDev(laplacian(roi), mean, stddev);
    return stddev[0] * stddev[0];
}

cv::Mat laplacian_of(const cv::Mat& bgr) {
    cv::Mat grey, laplacian;
    cv::cvtColor(bgr, grey, cv::COLOR_BGR2GRAY);
    cv::Laplacian(grey, laplacian, CV_32F, 1);  // 3x3 [0 1 0; 1 -4 1; 0 1 0]
    return laplacian;
}

// Mean absolute change of all three channels between two frames inside roi (0..255).
double mean_abs_change(const cv::Mat& previous, const cv::Mat& current, const cv::Rect& roi) {
    cv::Mat diff;
    cv::absdiff(previous(roi), current(roi), diff);
    const cv::Scalar m = cv::mean(diff);
    return (m[0] + m[1] + m[2]) / 3.0;
}

struct Stats {
    std::size_t count = 0;
    double mean = NAN, median = NAN, p90 = NAN;
};

Stats stats_of(std::vector<double> values) {
    Stats s;
    s.count = values.size();
    if (values.empty()) return s;
    std::sort(values.begin(), values.end());
    double sum = 0;
    for (double v : values) sum += v;
    s.mean = sum / values.size();
    auto rank = [&](double q) {  // nearest rank
        const auto i = static_cast<std::size_t>(std::ceil(q * values.size()));
        return values[std::clamp<std::size_t>(i, 1, values.size()) - 1];
    };
    s.median = rank(0.5);
    s.p90 = rank(0.9);
    return s;
}

nlohmann::json number_or_null(double v) {
    return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

nlohmann::json stats_json(const Stats& s) {
    return {{"frames", s.count},
            {"mean", number_or_null(s.mean)},
            {"median", number_or_null(s.median)},
            {"p90", number_or_null(s.p90)}};
}

// Skips frames up to `start`; false if the source ends first.
bool skip_to(MediaReader& reader, std::int64_t start, DecodedFrame& frame) {
    for (std::int64_t i = 0; i < start; ++i)
        if (!reader.next(frame)) return false;
    return true;
}

struct Reference {
    FaceDescriptor descriptor{};
    int samples_used = 0;
    int samples_tried = 0;
};

// The mean descriptor of the largest face over `samples` frames spread evenly over the range
// of a video, or over the images of a folder or a single image.
Reference reference_descriptor(const std::string& path, const std::string& range_text, int samples,
                               const std::shared_ptr<const FaceModels>& models,
                               const IdentityEmbedder& embedder, const EngineConfig& config) {
    const auto [start, end_requested] = parse_range(range_text);
    auto reader = MediaReader::open(path);
    std::int64_t end = reader->frame_count();
    if (end_requested >= 0 && (end <= 0 || end_requested < end)) end = end_requested;
    std::vector<std::int64_t> picks;
    if (end > start) {
        const std::int64_t span = end - start;
        const std::int64_t n = std::min<std::int64_t>(samples, span);
        for (std::int64_t i = 0; i < n; ++i) picks.push_back(start + (2 * i + 1) * span / (2 * n));
    } else {
        for (int i = 0; i < samples; ++i) picks.push_back(start + i);  // length unknown
    }
    FaceAnalyzer analyzer(models, config);
    std::vector<FaceDescriptor> descriptors;
    Reference ref;
    DecodedFrame frame;
    std::size_t next = 0;
    std::int64_t index = 0;
    while (next < picks.size() && reader->next(frame)) {
        if (index++ != picks[next]) continue;
        ++next;
        ++ref.samples_tried;
        const FrameView view = view_of(frame.bgr);
        const auto faces = analyzer.analyze(view).faces;
        const Face* face = largest_face(faces);
        if (!face) continue;
        descriptors.push_back(embedder.embed(view, {*face}).front());
    }
    if (descriptors.empty())
        throw std::runtime_error("no face found in the " + std::to_string(ref.samples_tried) +
                                 " sampled frames of reference " + path);
    ref.descriptor = mean_descriptor(descriptors);
    ref.samples_used = static_cast<int>(descriptors.size());
    return ref;
}

struct FrameResult {
    std::int64_t index = 0;
    bool input_face = false, output_face = false;
    double distance_a = NAN, distance_b = NAN;
    bool closer_to_b = false;
    double landmark_distance = NAN;  // fraction of the input's inter-ocular distance
    double detail_input = NAN, detail_output = NAN, detail_ratio = NAN;
    double flicker_input = NAN, flicker_output = NAN;  // NAN on the first frame
};

std::string size_text(const cv::Mat& m) {
    return std::to_string(m.cols) + "x" + std::to_string(m.rows);
}

std::string pass_fail(bool ok) {
    return ok ? "PASS" : "FAIL";
}

}  // namespace

int run_eval(const EvalOptions& options) {
    if (options.ref_samples < 1) throw std::runtime_error("--ref-samples must be >= 1");
    EngineConfig config = EngineConfig::defaults();
    config.model_dir = resolve_model_dir(options.model_dir);
    config.cpu_threads = options.threads;
    config.device = parse_device(options.device);
    // Every frame gets its own detection and raw landmarks: no tracking or smoothing may hide
    // a jump in the output.
    config.tracking = false;

    auto input = MediaReader::open(options.input);
    auto output = MediaReader::open(options.output);
    auto models = FaceModels::load(config);
    auto embedder = IdentityEmbedder::load(config);

    DecodedFrame in_frame, out_frame;
    if (!skip_to(*input, options.start_frame, in_frame))
        throw std::runtime_error(options.input + " has fewer than --start-frame " +
                                 std::to_string(options.start_frame) + " frames");
    if (!skip_to(*output, options.start_frame, out_frame))
        throw std::runtime_error(options.output + " has fewer than --start-frame " +
                                 std::to_string(options.start_frame) + " frames");
    // Reads the next frame pair; false at the end of either. Sizes are checked on every pair.
    auto read_pair = [&](std::int64_t i) {
        const bool have_in = input->next(in_frame);
        const bool have_out = have_in && output->next(out_frame);
        if (!have_in || !have_out) {
            if (options.frames > 0 || i == 0)
                throw std::runtime_error(
                    (have_in ? options.output : options.input) + " ends at frame " +
                    std::to_string(options.start_frame + i) +
                    (i == 0 ? "" : ", before the frames asked for with --frames"));
            if (have_in)
                std::fprintf(
                    stderr, "\nwarning: %s ends at frame %lld, before %s\n", options.output.c_str(),
                    static_cast<long long>(options.start_frame + i), options.input.c_str());
            return false;
        }
        if (in_frame.bgr.size() != out_frame.bgr.size())
            throw std::runtime_error("frame " + std::to_string(options.start_frame + i) + " of " +
                                     options.output + " is " + size_text(out_frame.bgr) +
                                     " but the input's is " + size_text(in_frame.bgr) +
                                     "; eval compares frames pixel for pixel and needs the "
                                     "output at the input's size");
        return true;
    };
    read_pair(0);  // fail on a missing or mismatched output before the slow reference pass

    const auto setup_start = std::chrono::steady_clock::now();
    std::fprintf(stderr, "references: %d frames of %s and of %s\n", options.ref_samples,
                 options.ref_a.c_str(), options.ref_b.c_str());
    const Reference ref_a = reference_descriptor(options.ref_a, options.ref_a_frames,
                                                 options.ref_samples, models, *embedder, config);
    const Reference ref_b = reference_descriptor(options.ref_b, options.ref_b_frames,
                                                 options.ref_samples, models, *embedder, config);
    const double a_to_b = descriptor_distance(ref_a.descriptor, ref_b.descriptor);
    const double setup_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - setup_start).count();

    FaceAnalyzer in_analyzer(models, config), out_analyzer(models, config);
    std::vector<FrameResult> results;
    cv::Mat previous_in, previous_out;
    const std::int64_t available = std::max<std::int64_t>(
        0, std::min(input->frame_count(), output->frame_count()) - options.start_frame);
    ProgressBar progress("eval", options.frames > 0 ? options.frames : available);
    const auto loop_start = std::chrono::steady_clock::now();
    for (std::int64_t i = 0; options.frames <= 0 || i < options.frames; ++i) {
        if (i > 0 && !read_pair(i)) break;
        FrameResult r;
        r.index = options.start_frame + i;
        const FrameView in_view = view_of(in_frame.bgr), out_view = view_of(out_frame.bgr);
        const auto in_faces = in_analyzer.analyze(in_view).faces;
        const auto out_faces = out_analyzer.analyze(out_view).faces;
        const Face* in_face = largest_face(in_faces);
        // The output face is the one on the input face's place.
        const Face* out_face = nullptr;
        if (in_face) {
            float best_iou = 0.3f;
            for (const Face& f : out_faces) {
                const float iou = intersection_over_union(f.box, in_face->box);
                if (iou > best_iou) best_iou = iou, out_face = &f;
            }
        }
        r.input_face = in_face != nullptr;
        r.output_face = out_face != nullptr;
        if (out_face) {
            const FaceDescriptor d = embedder->embed(out_view, {*out_face}).front();
            r.distance_a = descriptor_distance(d, ref_a.descriptor);
            r.distance_b = descriptor_distance(d, ref_b.descriptor);
            r.closer_to_b = r.distance_b < r.distance_a;
            const Point2f left = mean_point(in_face->raw_landmarks, 36, 42);
            const Point2f right = mean_point(in_face->raw_landmarks, 42, 48);
            const double inter_ocular = std::hypot(right.x - left.x, right.y - left.y);
            double sum = 0;
            for (int k = 0; k < kLandmarkCount; ++k)
                sum += std::hypot(out_face->raw_landmarks[k].x - in_face->raw_landmarks[k].x,
                                  out_face->raw_landmarks[k].y - in_face->raw_landmarks[k].y);
            if (inter_ocular > 1) r.landmark_distance = sum / kLandmarkCount / inter_ocular;
        }
        if (in_face) {
            // Detail and flicker are read in the input face's box on both frames, so both
            // numbers cover the same pixels.
            const cv::Rect inner = to_rect(middle_half(in_face->box), in_frame.bgr.size());
            if (inner.area() >= 4) {
                r.detail_input = laplacian_variance(laplacian_of(in_frame.bgr), inner);
                r.detail_output = laplacian_variance(laplacian_of(out_frame.bgr), inner);
                if (r.detail_input > 0) r.detail_ratio = r.detail_output / r.detail_input;
            }
            const cv::Rect box = to_rect(in_face->box, in_frame.bgr.size());
            if (!previous_in.empty() && box.area() > 0) {
                r.flicker_input = mean_abs_change(previous_in, in_frame.bgr, box);
                r.flicker_output = mean_abs_change(previous_out, out_frame.bgr, box);
            }
        }
        previous_in = in_frame.bgr.clone();
        previous_out = out_frame.bgr.clone();
        results.push_back(r);
        progress.update(i + 1);
    }
    progress.finish();
    const double loop_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - loop_start).count();
    if (results.empty()) throw std::runtime_error("no frames to evaluate");

    // Summary. Frames without an input face have nothing to compare and are left out; a frame
    // whose output face was not found counts as not closer to B.
    std::vector<double> dist_a, dist_b, landmarks, detail, flicker_in, flicker_out;
    std::size_t with_input_face = 0, with_output_face = 0, closer_to_b = 0;
    for (const FrameResult& r : results) {
        if (!r.input_face) continue;
        ++with_input_face;
        if (r.output_face) ++with_output_face;
        if (r.closer_to_b) ++closer_to_b;
        if (std::isfinite(r.distance_a)) dist_a.push_back(r.distance_a);
        if (std::isfinite(r.distance_b)) dist_b.push_back(r.distance_b);
        if (std::isfinite(r.landmark_distance)) landmarks.push_back(r.landmark_distance);
        if (std::isfinite(r.detail_ratio)) detail.push_back(r.detail_ratio);
        if (std::isfinite(r.flicker_input)) {
            flicker_in.push_back(r.flicker_input);
            flicker_out.push_back(r.flicker_output);
        }
    }
    const Stats s_a = stats_of(dist_a), s_b = stats_of(dist_b), s_land = stats_of(landmarks),
                s_detail = stats_of(detail), s_fin = stats_of(flicker_in),
                s_fout = stats_of(flicker_out);
    const double closer_fraction =
        with_input_face ? static_cast<double>(closer_to_b) / with_input_face : 0.0;
    const double flicker_ratio = s_fin.count && s_fin.mean > 0 ? s_fout.mean / s_fin.mean : NAN;
    const bool pass_identity = with_input_face > 0 && closer_fraction >= kMinCloserToB;
    const bool pass_landmarks = s_land.count > 0 && s_land.mean <= kMaxLandmarkDistance;
    const bool pass_detail = s_detail.count > 0 && s_detail.mean >= kMinDetailRatio;
    const bool pass_flicker = std::isfinite(flicker_ratio) && flicker_ratio <= kMaxFlickerRatio;

    std::printf("eval: %s -> %s, frames %lld..%lld (%zu), input face in %zu, output face in %zu\n",
                options.input.c_str(), options.output.c_str(),
                static_cast<long long>(results.front().index),
                static_cast<long long>(results.back().index), results.size(), with_input_face,
                with_output_face);
    std::printf("references: A %s (%d of %d samples had a face), B %s (%d of %d); A to B %.3f\n",
                options.ref_a.c_str(), ref_a.samples_used, ref_a.samples_tried,
                options.ref_b.c_str(), ref_b.samples_used, ref_b.samples_tried, a_to_b);
    std::printf("\n%-34s %8s %8s %8s %7s\n", "metric", "mean", "median", "p90", "frames");
    auto row = [](const char* name, const Stats& s) {
        std::printf("%-34s %8.3f %8.3f %8.3f %7zu\n", name, s.mean, s.median, s.p90, s.count);
    };
    row("identity distance to A", s_a);
    row("identity distance to B", s_b);
    row("landmark distance / inter-ocular", s_land);
    row("detail ratio (output / input)", s_detail);
    row("flicker in face box, input", s_fin);
    row("flicker in face box, output", s_fout);
    std::printf("\nquality bar (issue 3):\n");
    std::printf("  %s  output closer to B than to A in %.1f%% of frames (need >= %.0f%%)\n",
                pass_fail(pass_identity).c_str(), 100 * closer_fraction, 100 * kMinCloserToB);
    std::printf(
        "  %s  mean landmark distance %.2f%% of the inter-ocular distance (need <= %.0f%%)\n",
        pass_fail(pass_landmarks).c_str(), 100 * s_land.mean, 100 * kMaxLandmarkDistance);
    std::printf("  %s  mean detail ratio %.3f (need >= %.1f)\n", pass_fail(pass_detail).c_str(),
                s_detail.mean, kMinDetailRatio);
    std::printf("  %s  flicker output / input %.3f (need <= %.1f)\n",
                pass_fail(pass_flicker).c_str(), flicker_ratio, kMaxFlickerRatio);
    std::printf("  (no visible seam: look at the frames)\n");
    std::printf("time: references %.1f s, %.1f ms per frame pair\n", setup_s,
                1000 * loop_s / results.size());

    if (!options.json_path.empty()) {
        nlohmann::json frames = nlohmann::json::array();
        for (const FrameResult& r : results)
            frames.push_back({{"index", r.index},
                              {"input_face", r.input_face},
                              {"output_face", r.output_face},
                              {"distance_a", number_or_null(r.distance_a)},
                              {"distance_b", number_or_null(r.distance_b)},
                              {"closer_to_b", r.closer_to_b},
                              {"landmark_distance", number_or_null(r.landmark_distance)},
                              {"detail_input", number_or_null(r.detail_input)},
                              {"detail_output", number_or_null(r.detail_output)},
                              {"detail_ratio", number_or_null(r.detail_ratio)},
                              {"flicker_input", number_or_null(r.flicker_input)},
                              {"flicker_output", number_or_null(r.flicker_output)}});
        const nlohmann::json out = {{"input", options.input},
                                    {"output", options.output},
                                    {"references",
                                     {{"a",
                                       {{"path", options.ref_a},
                                        {"frames", options.ref_a_frames},
                                        {"samples_used", ref_a.samples_used}}},
                                      {"b",
                                       {{"path", options.ref_b},
                                        {"frames", options.ref_b_frames},
                                        {"samples_used", ref_b.samples_used}}},
                                      {"a_to_b_distance", a_to_b}}},
                                    {"summary",
                                     {{"frames", results.size()},
                                      {"frames_with_input_face", with_input_face},
                                      {"frames_with_output_face", with_output_face},
                                      {"closer_to_b_fraction", closer_fraction},
                                      {"distance_a", stats_json(s_a)},
                                      {"distance_b", stats_json(s_b)},
                                      {"landmark_distance", stats_json(s_land)},
                                      {"detail_ratio", stats_json(s_detail)},
                                      {"flicker_input", stats_json(s_fin)},
                                      {"flicker_output", stats_json(s_fout)},
                                      {"flicker_ratio", number_or_null(flicker_ratio)},
                                      {"pass",
                                       {{"identity", pass_identity},
                                        {"landmarks", pass_landmarks},
                                        {"detail", pass_detail},
                                        {"flicker", pass_flicker}}},
                                      {"ms_per_frame", 1000 * loop_s / results.size()}}},
                                    {"frames", frames}};
        std::ofstream file(options.json_path);
        file << out.dump(1) << '\n';
        if (!file) throw std::runtime_error("cannot write " + options.json_path);
        std::printf("wrote %s\n", options.json_path.c_str());
    }
    const bool all_pass = pass_identity && pass_landmarks && pass_detail && pass_flicker;
    return options.require_pass && !all_pass ? 3 : 0;
}

}  // namespace faceswap::cli
