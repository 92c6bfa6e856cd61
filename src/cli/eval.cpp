// faceswap eval: how well a converted video swapped the face, frame by frame against its input.
// The metrics and their exact definitions are in docs/evaluation.md; the scoring itself is
// swap_eval.cpp, shared with the quality checks of faceswap train.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>

#include "cli_common.h"
#include "commands.h"
#include "faceswap/capture/media_reader.h"
#include "faceswap/identity.h"
#include "swap_eval.h"

#ifdef FACESWAP_HAVE_DLIB
#include "dlib_peer.h"
#endif

namespace faceswap::cli {
namespace {

using capture::DecodedFrame;
using capture::MediaReader;

nlohmann::json number_or_null(double v) {
    return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

// Points as [[x, y], ...] rounded to a hundredth of a pixel (the files stay small); [] for a
// face that was not found.
nlohmann::json points_json(const std::optional<Landmarks68>& points) {
    nlohmann::json out = nlohmann::json::array();
    if (points)
        for (const Point2f& p : *points)
            out.push_back({std::round(p.x * 100) / 100, std::round(p.y * 100) / 100});
    return out;
}

nlohmann::json stats_json(const Stats& s) {
    return {{"frames", s.count},
            {"mean", number_or_null(s.mean)},
            {"median", number_or_null(s.median)},
            {"p90", number_or_null(s.p90)}};
}

nlohmann::json json_of(double v) {
    return number_or_null(v);
}
nlohmann::json json_of(const Stats& s) {
    return stats_json(s);
}

// {"jaw": ..., "brows": ..., ...}: one value per landmark region.
template <typename Value>
nlohmann::json region_json(const std::array<Value, kLandmarkRegions.size()>& values) {
    nlohmann::json out = nlohmann::json::object();
    for (std::size_t region = 0; region < kLandmarkRegions.size(); ++region)
        out[kLandmarkRegions[region].name] = json_of(values[region]);
    return out;
}

// Skips frames up to `start`; false if the source ends first.
bool skip_to(MediaReader& reader, std::int64_t start, DecodedFrame& frame) {
    for (std::int64_t i = 0; i < start; ++i)
        if (!reader.next(frame)) return false;
    return true;
}

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
    config.precision = parse_precision(options.precision);
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

    FrameScorer scorer(models, embedder, config, ref_a, ref_b);
    // The engine's own landmark net both drives expression following and scores it, so a
    // second model, trained on other data by another method, re-measures the openings.
    std::string cross_check_name;
#ifdef FACESWAP_HAVE_DLIB
    if (!options.cross_check_predictor.empty()) {
        if (std::filesystem::exists(options.cross_check_predictor)) {
            auto dlib = std::make_shared<DlibPeer>(options.cross_check_predictor);
            cross_check_name = "dlib's shape predictor";
            scorer.set_cross_check(
                [dlib](const cv::Mat& in,
                       const cv::Mat& out) -> std::optional<std::pair<Landmarks68, Landmarks68>> {
                    // dlib's own detector's box on the input, the same box on the output.
                    const std::optional<Box> box = dlib->largest_face(in);
                    if (!box) return std::nullopt;
                    return std::pair{dlib->landmarks(in, *box), dlib->landmarks(out, *box)};
                });
        } else {
            std::fprintf(stderr, "note: %s not found; no cross-check of the openings\n",
                         options.cross_check_predictor.c_str());
        }
    }
#endif
    std::vector<FrameScore> results;
    const std::int64_t available = std::max<std::int64_t>(
        0, std::min(input->frame_count(), output->frame_count()) - options.start_frame);
    ProgressBar progress("eval", options.frames > 0 ? options.frames : available);
    const auto loop_start = std::chrono::steady_clock::now();
    for (std::int64_t i = 0; options.frames <= 0 || i < options.frames; ++i) {
        if (i > 0 && !read_pair(i)) break;
        results.push_back(scorer.score(options.start_frame + i, in_frame.bgr, out_frame.bgr));
        progress.update(i + 1);
    }
    progress.finish();
    const double loop_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - loop_start).count();
    if (results.empty()) throw std::runtime_error("no frames to evaluate");
    const EvalSummary sum = summarize(results);
    if (sum.with_input_face == 0)
        throw std::runtime_error("no face found in any of the " + std::to_string(results.size()) +
                                 " input frames of " + options.input +
                                 "; evaluate a video that shows a face");

    std::printf("eval: %s -> %s, frames %lld..%lld (%zu), input face in %zu, output face in %zu\n",
                options.input.c_str(), options.output.c_str(),
                static_cast<long long>(results.front().index),
                static_cast<long long>(results.back().index), results.size(), sum.with_input_face,
                sum.with_output_face);
    std::printf("references: A %s (%d of %d samples had a face), B %s (%d of %d); A to B %.3f\n",
                options.ref_a.c_str(), ref_a.samples_used, ref_a.samples_tried,
                options.ref_b.c_str(), ref_b.samples_used, ref_b.samples_tried, a_to_b);
    std::printf("\n%-34s %8s %8s %8s %7s\n", "metric", "mean", "median", "p90", "frames");
    auto row = [](const char* name, const Stats& s) {
        std::printf("%-34s %8.3f %8.3f %8.3f %7zu\n", name, s.mean, s.median, s.p90, s.count);
    };
    row("identity distance to A", sum.distance_a);
    row("identity distance to B", sum.distance_b);
    row("landmark distance / inter-ocular", sum.landmarks);
    for (std::size_t region = 0; region < kLandmarkRegions.size(); ++region) {
        const std::string name = std::string("  of which ") + kLandmarkRegions[region].name;
        row(name.c_str(), sum.landmark_regions[region]);
    }
    row("  after a similarity fit (shape)", sum.landmarks_aligned);
    row("  less each point's usual offset", sum.landmarks_following);
    std::printf("  (the faces' usual shape offset: %.3f of the inter-ocular distance)\n",
                sum.landmark_shape_offset);
    row("mouth opening, input", sum.mouth_input);
    row("mouth opening, output", sum.mouth_output);
    row("mouth opening gap |out - in|", sum.mouth_gap);
    row("eye opening (EAR), input", sum.eye_input);
    row("eye opening (EAR), output", sum.eye_output);
    row("eye opening gap |out - in|", sum.eye_gap);
    row("detail ratio (output / input)", sum.detail);
    row("eyes+mouth detail ratio", sum.eyes_mouth_detail);
    row("flicker in face box, input", sum.flicker_input);
    row("flicker in face box, output", sum.flicker_output);
    std::printf("\nquality bar:\n");
    std::printf("  %s  output closer to B than to A in %.1f%% of frames (need >= %.0f%%)\n",
                pass_fail(sum.pass_identity).c_str(), 100 * sum.closer_fraction,
                100 * kMinCloserToB);
    std::printf(
        "  %s  mean landmark distance %.2f%% of the inter-ocular distance (need <= %.0f%%)\n",
        pass_fail(sum.pass_landmarks).c_str(), 100 * sum.landmarks.mean,
        100 * kMaxLandmarkDistance);
    std::printf(
        "  %s  mouth opening follows the input: correlation %.3f, mean gap %.3f (need r >= %.1f)\n",
        pass_fail(sum.pass_mouth).c_str(), sum.mouth_correlation, sum.mouth_gap.mean,
        kMinMouthCorrelation);
    std::printf(
        "  %s  eye opening follows the input: correlation %.3f, mean gap %.3f (need r >= %.1f)\n",
        pass_fail(sum.pass_eyes).c_str(), sum.eye_correlation, sum.eye_gap.mean,
        kMinEyeCorrelation);
    std::printf("  %s  mean detail ratio %.3f (need >= %.1f)\n", pass_fail(sum.pass_detail).c_str(),
                sum.detail.mean, kMinDetailRatio);
    std::printf("  %s  flicker output / input %.3f (need <= %.1f)\n",
                pass_fail(sum.pass_flicker).c_str(), sum.flicker_ratio, kMaxFlickerRatio);
    std::printf("  (no visible seam: look at the frames)\n");
    if (!cross_check_name.empty())
        std::printf(
            "cross-check by %s (not in the bar): eye opening r %.3f, mouth opening r "
            "%.3f\n",
            cross_check_name.c_str(), sum.eye_correlation_cross, sum.mouth_correlation_cross);
    std::printf("time: references %.1f s, %.1f ms per frame pair\n", setup_s,
                1000 * loop_s / results.size());

    if (!options.json_path.empty()) {
        nlohmann::json frames = nlohmann::json::array();
        for (const FrameScore& r : results)
            frames.push_back(
                {{"index", r.index},
                 {"input_face", r.input_face},
                 {"output_face", r.output_face},
                 {"distance_a", number_or_null(r.distance_a)},
                 {"distance_b", number_or_null(r.distance_b)},
                 {"closer_to_b", r.closer_to_b},
                 {"landmark_distance", number_or_null(r.landmark_distance)},
                 {"landmark_distance_aligned", number_or_null(r.landmark_distance_aligned)},
                 {"landmark_regions", region_json(r.landmark_region)},
                 {"input_landmarks", points_json(r.input_landmarks)},
                 {"output_landmarks", points_json(r.output_landmarks)},
                 {"mouth_input", number_or_null(r.mouth_input)},
                 {"mouth_output", number_or_null(r.mouth_output)},
                 {"eye_input", number_or_null(r.eye_input)},
                 {"eye_output", number_or_null(r.eye_output)},
                 {"eye_input_cross", number_or_null(r.eye_input_cross)},
                 {"eye_output_cross", number_or_null(r.eye_output_cross)},
                 {"mouth_input_cross", number_or_null(r.mouth_input_cross)},
                 {"mouth_output_cross", number_or_null(r.mouth_output_cross)},
                 {"detail_input", number_or_null(r.detail_input)},
                 {"detail_output", number_or_null(r.detail_output)},
                 {"detail_ratio", number_or_null(r.detail_ratio)},
                 {"eyes_mouth_detail_ratio", number_or_null(r.eyes_mouth_detail_ratio)},
                 {"flicker_input", number_or_null(r.flicker_input)},
                 {"flicker_output", number_or_null(r.flicker_output)}});
        const nlohmann::json out = {
            {"input", options.input},
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
              {"frames_with_input_face", sum.with_input_face},
              {"frames_with_output_face", sum.with_output_face},
              {"closer_to_b_fraction", sum.closer_fraction},
              {"distance_a", stats_json(sum.distance_a)},
              {"distance_b", stats_json(sum.distance_b)},
              {"landmark_distance", stats_json(sum.landmarks)},
              {"landmark_distance_aligned", stats_json(sum.landmarks_aligned)},
              {"landmark_regions", region_json(sum.landmark_regions)},
              {"landmark_shape_offset", number_or_null(sum.landmark_shape_offset)},
              {"landmark_distance_following", stats_json(sum.landmarks_following)},
              {"mouth_correlation", number_or_null(sum.mouth_correlation)},
              {"mouth_gap", stats_json(sum.mouth_gap)},
              {"eye_correlation", number_or_null(sum.eye_correlation)},
              {"eye_gap", stats_json(sum.eye_gap)},
              {"eye_correlation_cross", number_or_null(sum.eye_correlation_cross)},
              {"mouth_correlation_cross", number_or_null(sum.mouth_correlation_cross)},
              {"detail_ratio", stats_json(sum.detail)},
              {"eyes_mouth_detail_ratio", stats_json(sum.eyes_mouth_detail)},
              {"flicker_input", stats_json(sum.flicker_input)},
              {"flicker_output", stats_json(sum.flicker_output)},
              {"flicker_ratio", number_or_null(sum.flicker_ratio)},
              {"pass",
               {{"identity", sum.pass_identity},
                {"landmarks", sum.pass_landmarks},
                {"mouth", sum.pass_mouth},
                {"eyes", sum.pass_eyes},
                {"detail", sum.pass_detail},
                {"flicker", sum.pass_flicker}}},
              {"ms_per_frame", 1000 * loop_s / results.size()}}},
            {"frames", frames}};
        std::ofstream file(options.json_path);
        file << out.dump(1) << '\n';
        if (!file) throw std::runtime_error("cannot write " + options.json_path);
        std::printf("wrote %s\n", options.json_path.c_str());
    }
    return options.require_pass && !sum.all_pass() ? 3 : 0;
}

}  // namespace faceswap::cli
