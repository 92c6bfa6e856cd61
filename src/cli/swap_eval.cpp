#include "swap_eval.h"
#include "faceswap/stats.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <tuple>

#include "cli_common.h"
#include "faceswap/capture/media_reader.h"

namespace faceswap::cli {

using capture::DecodedFrame;
using capture::MediaReader;

std::pair<std::int64_t, std::int64_t> parse_frame_range(const std::string& text) {
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

namespace {

Point2f mean_point(const Landmarks68& p, int first, int last) {
    Point2f sum;
    for (int i = first; i < last; ++i) sum.x += p[i].x, sum.y += p[i].y;
    return {sum.x / (last - first), sum.y / (last - first)};
}

// The line between a face's eye centres (means of 36-41 and 42-47): its unit direction and
// length, the inter-ocular distance every landmark figure is divided by.
struct EyeAxis {
    double ux = 1, uy = 0, length = 0;
};
EyeAxis eye_axis(const Landmarks68& p) {
    const Point2f left = mean_point(p, 36, 42), right = mean_point(p, 42, 48);
    const double dx = right.x - left.x, dy = right.y - left.y, length = std::hypot(dx, dy);
    if (length <= 0) return {};
    return {dx / length, dy / length, length};
}

// Mean distance from `moved` to `fixed` after the similarity transform (scale, rotation,
// shift) that best maps `moved` onto `fixed` in least squares: the shape difference alone.
double aligned_mean_distance(const Landmarks68& moved, const Landmarks68& fixed) {
    const Point2f cm = mean_point(moved, 0, kLandmarkCount),
                  cf = mean_point(fixed, 0, kLandmarkCount);
    double dot = 0, cross = 0, norm = 0;
    for (int k = 0; k < kLandmarkCount; ++k) {
        const double mx = moved[k].x - cm.x, my = moved[k].y - cm.y;
        const double fx = fixed[k].x - cf.x, fy = fixed[k].y - cf.y;
        dot += mx * fx + my * fy;
        cross += mx * fy - my * fx;
        norm += mx * mx + my * my;
    }
    if (norm <= 0) return NAN;
    const double a = dot / norm, b = cross / norm;  // scale * (cos, sin) of the rotation
    double sum = 0;
    for (int k = 0; k < kLandmarkCount; ++k) {
        const double mx = moved[k].x - cm.x, my = moved[k].y - cm.y;
        sum += std::hypot(a * mx - b * my + cf.x - fixed[k].x, b * mx + a * my + cf.y - fixed[k].y);
    }
    return sum / kLandmarkCount;
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

// The eyes' and the mouth's boxes from the 68 landmarks (36-41, 42-47, 48-59), each grown by a
// fraction of its width so eyelids and lip lines are inside: where a viewer looks for detail.
std::vector<Box> eyes_and_mouth_boxes(const Landmarks68& p) {
    std::vector<Box> boxes;
    for (auto [first, end, grow] :
         {std::tuple{36, 42, 0.5f}, std::tuple{42, 48, 0.5f}, std::tuple{48, 60, 0.2f}}) {
        float x0 = p[first].x, x1 = x0, y0 = p[first].y, y1 = y0;
        for (int k = first; k < end; ++k) {
            x0 = std::min(x0, p[k].x), x1 = std::max(x1, p[k].x);
            y0 = std::min(y0, p[k].y), y1 = std::max(y1, p[k].y);
        }
        const float margin = grow * (x1 - x0);
        boxes.push_back({x0 - margin, y0 - margin, x1 - x0 + 2 * margin, y1 - y0 + 2 * margin});
    }
    return boxes;
}

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
    const size_t n = x.size();
    if (n < 3) return NAN;
    double mx = 0, my = 0;
    for (size_t i = 0; i < n; ++i) mx += x[i], my += y[i];
    mx /= n, my /= n;
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; ++i) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    return sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : NAN;
}

}  // namespace

Stats stats_of(std::vector<double> values) {
    Stats s;
    s.count = values.size();
    if (values.empty()) return s;
    s.mean = stats::mean(values);
    s.median = stats::percentile_in_place(values, 0.5);
    s.p90 = stats::percentile_in_place(values, 0.9);
    return s;
}

Reference reference_descriptor(const std::string& path, const std::string& range_text, int samples,
                               const std::shared_ptr<const FaceModels>& models,
                               const IdentityEmbedder& embedder, const EngineConfig& config) {
    const auto [start, end_requested] = parse_frame_range(range_text);
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

FrameScorer::FrameScorer(std::shared_ptr<const FaceModels> models,
                         std::shared_ptr<const IdentityEmbedder> embedder, EngineConfig config,
                         const Reference& a, const Reference& b)
    : models_(std::move(models)), embedder_(std::move(embedder)), config_(config), a_(a), b_(b) {
    config_.tracking = false;
    in_analyzer_ = std::make_unique<FaceAnalyzer>(models_, config_);
    out_analyzer_ = std::make_unique<FaceAnalyzer>(models_, config_);
}

void FrameScorer::start_sequence() {
    previous_in_.release();
    previous_out_.release();
}

FrameScore FrameScorer::score(std::int64_t index, const cv::Mat& input_bgr,
                              const cv::Mat& output_bgr) {
    FrameScore r;
    r.index = index;
    const FrameView in_view = view_of(input_bgr), out_view = view_of(output_bgr);
    const auto in_faces = in_analyzer_->analyze(in_view).faces;
    const auto out_faces = out_analyzer_->analyze(out_view).faces;
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
    if (in_face) r.input_landmarks = in_face->raw_landmarks;
    if (out_face) r.output_landmarks = out_face->raw_landmarks;
    if (in_face) r.mouth_input = mouth_opening(in_face->raw_landmarks);
    if (in_face) r.eye_input = eye_opening(in_face->raw_landmarks);
    if (out_face) {
        const FaceDescriptor d = embedder_->embed(out_view, {*out_face}).front();
        r.distance_a = descriptor_distance(d, a_.descriptor);
        r.distance_b = descriptor_distance(d, b_.descriptor);
        r.closer_to_b = r.distance_b < r.distance_a;
        r.mouth_output = mouth_opening(out_face->raw_landmarks);
        r.eye_output = eye_opening(out_face->raw_landmarks);
        const double inter_ocular = eye_axis(in_face->raw_landmarks).length;
        if (inter_ocular > 1) {
            const auto& in_points = in_face->raw_landmarks;
            const auto& out_points = out_face->raw_landmarks;
            double sum = 0;
            for (std::size_t region = 0; region < kLandmarkRegions.size(); ++region) {
                const auto [first, end, name] = kLandmarkRegions[region];
                double region_sum = 0;
                for (int k = first; k < end; ++k)
                    region_sum += std::hypot(out_points[k].x - in_points[k].x,
                                             out_points[k].y - in_points[k].y);
                r.landmark_region[region] = region_sum / (end - first) / inter_ocular;
                sum += region_sum;
            }
            r.landmark_distance = sum / kLandmarkCount / inter_ocular;
            r.landmark_distance_aligned =
                aligned_mean_distance(out_points, in_points) / inter_ocular;
        }
    }
    if (in_face && cross_check_) {
        if (const auto points = cross_check_(input_bgr, output_bgr)) {
            r.eye_input_cross = eye_opening(points->first);
            r.eye_output_cross = eye_opening(points->second);
            r.mouth_input_cross = mouth_opening(points->first);
            r.mouth_output_cross = mouth_opening(points->second);
        }
    }
    if (in_face) {
        // Detail and flicker are read in the input face's box on both frames, so both
        // numbers cover the same pixels.
        const cv::Rect inner = to_rect(middle_half(in_face->box), input_bgr.size());
        if (inner.area() >= 4) {
            const cv::Mat lap_in = laplacian_of(input_bgr), lap_out = laplacian_of(output_bgr);
            r.detail_input = laplacian_variance(lap_in, inner);
            r.detail_output = laplacian_variance(lap_out, inner);
            if (r.detail_input > 0) r.detail_ratio = r.detail_output / r.detail_input;
            double in_sum = 0, out_sum = 0;
            for (const Box& box : eyes_and_mouth_boxes(in_face->raw_landmarks)) {
                const cv::Rect rect = to_rect(box, input_bgr.size());
                if (rect.area() < 4) continue;
                in_sum += laplacian_variance(lap_in, rect) * rect.area();
                out_sum += laplacian_variance(lap_out, rect) * rect.area();
            }
            if (in_sum > 0) r.eyes_mouth_detail_ratio = out_sum / in_sum;
        }
        const cv::Rect box = to_rect(in_face->box, input_bgr.size());
        if (!previous_in_.empty() && box.area() > 0) {
            r.flicker_input = mean_abs_change(previous_in_, input_bgr, box);
            r.flicker_output = mean_abs_change(previous_out_, output_bgr, box);
        }
    }
    previous_in_ = input_bgr.clone();
    previous_out_ = output_bgr.clone();
    return r;
}

namespace {

// Each output landmark's offset from the input's, in the input face's eye frame (x along the
// line between the eye centres, y across it) and in inter-ocular distances; empty when either
// face is missing or the eyes are closer than a pixel (as for the landmark distance).
std::vector<Point2f> offsets_in_eye_frame(const FrameScore& r) {
    if (!r.input_landmarks || !r.output_landmarks) return {};
    const Landmarks68& in = *r.input_landmarks;
    const Landmarks68& out = *r.output_landmarks;
    const EyeAxis axis = eye_axis(in);
    if (axis.length <= 1) return {};
    std::vector<Point2f> offsets(kLandmarkCount);
    for (int k = 0; k < kLandmarkCount; ++k) {
        const double ox = out[k].x - in[k].x, oy = out[k].y - in[k].y;
        offsets[k] = {static_cast<float>((ox * axis.ux + oy * axis.uy) / axis.length),
                      static_cast<float>((oy * axis.ux - ox * axis.uy) / axis.length)};
    }
    return offsets;
}

// The landmark distance per frame after each point's mean offset over the clip is taken away,
// and the mean length of those offsets (EvalSummary::landmarks_following).
void split_shape_from_following(const std::vector<FrameScore>& scores, EvalSummary& s) {
    std::vector<std::vector<Point2f>> offsets;
    for (const FrameScore& r : scores)
        if (auto o = offsets_in_eye_frame(r); !o.empty()) offsets.push_back(std::move(o));
    if (offsets.empty()) return;
    std::vector<double> mean_x(kLandmarkCount), mean_y(kLandmarkCount);
    for (const auto& o : offsets)
        for (int k = 0; k < kLandmarkCount; ++k) mean_x[k] += o[k].x, mean_y[k] += o[k].y;
    double shape = 0;
    for (int k = 0; k < kLandmarkCount; ++k) {
        mean_x[k] /= offsets.size(), mean_y[k] /= offsets.size();
        shape += std::hypot(mean_x[k], mean_y[k]) / kLandmarkCount;
    }
    s.landmark_shape_offset = shape;
    std::vector<double> following;
    for (const auto& o : offsets) {
        double sum = 0;
        for (int k = 0; k < kLandmarkCount; ++k)
            sum += std::hypot(o[k].x - mean_x[k], o[k].y - mean_y[k]);
        following.push_back(sum / kLandmarkCount);
    }
    s.landmarks_following = stats_of(following);
}

}  // namespace

EvalSummary summarize(const std::vector<FrameScore>& scores) {
    // Frames without an input face have nothing to compare and are left out; a frame whose
    // output face was not found counts as not closer to B.
    EvalSummary s;
    s.frames = scores.size();
    std::array<std::vector<double>, kLandmarkRegions.size()> landmark_regions;
    std::vector<double> dist_a, dist_b, landmarks, landmarks_aligned, mouth_in, mouth_out,
        mouth_gap, eye_in, eye_out, eye_gap, detail, eyes_mouth_detail, flicker_in, flicker_out,
        eye_in_cross, eye_out_cross, mouth_in_cross, mouth_out_cross;
    std::size_t closer_to_b = 0;
    for (const FrameScore& r : scores) {
        if (!r.input_face) continue;
        ++s.with_input_face;
        if (r.output_face) ++s.with_output_face;
        if (r.closer_to_b) ++closer_to_b;
        if (std::isfinite(r.distance_a)) dist_a.push_back(r.distance_a);
        if (std::isfinite(r.distance_b)) dist_b.push_back(r.distance_b);
        if (std::isfinite(r.landmark_distance)) {
            landmarks.push_back(r.landmark_distance);
            landmarks_aligned.push_back(r.landmark_distance_aligned);
            for (std::size_t region = 0; region < kLandmarkRegions.size(); ++region)
                landmark_regions[region].push_back(r.landmark_region[region]);
        }
        if (std::isfinite(r.mouth_input) && std::isfinite(r.mouth_output)) {
            mouth_in.push_back(r.mouth_input);
            mouth_out.push_back(r.mouth_output);
            mouth_gap.push_back(std::abs(r.mouth_output - r.mouth_input));
        }
        if (std::isfinite(r.eye_input) && std::isfinite(r.eye_output)) {
            eye_in.push_back(r.eye_input);
            eye_out.push_back(r.eye_output);
            eye_gap.push_back(std::abs(r.eye_output - r.eye_input));
        }
        if (std::isfinite(r.eye_input_cross) && std::isfinite(r.eye_output_cross)) {
            eye_in_cross.push_back(r.eye_input_cross);
            eye_out_cross.push_back(r.eye_output_cross);
        }
        if (std::isfinite(r.mouth_input_cross) && std::isfinite(r.mouth_output_cross)) {
            mouth_in_cross.push_back(r.mouth_input_cross);
            mouth_out_cross.push_back(r.mouth_output_cross);
        }
        if (std::isfinite(r.detail_ratio)) detail.push_back(r.detail_ratio);
        if (std::isfinite(r.eyes_mouth_detail_ratio))
            eyes_mouth_detail.push_back(r.eyes_mouth_detail_ratio);
        if (std::isfinite(r.flicker_input)) {
            flicker_in.push_back(r.flicker_input);
            flicker_out.push_back(r.flicker_output);
        }
    }
    s.mouth_correlation = pearson(mouth_in, mouth_out);
    s.eye_correlation = pearson(eye_in, eye_out);
    s.eye_correlation_cross = pearson(eye_in_cross, eye_out_cross);
    s.mouth_correlation_cross = pearson(mouth_in_cross, mouth_out_cross);
    s.eye_input = stats_of(eye_in);
    s.eye_output = stats_of(eye_out);
    s.eye_gap = stats_of(eye_gap);
    s.distance_a = stats_of(dist_a);
    s.distance_b = stats_of(dist_b);
    s.landmarks = stats_of(landmarks);
    s.landmarks_aligned = stats_of(landmarks_aligned);
    for (std::size_t region = 0; region < kLandmarkRegions.size(); ++region)
        s.landmark_regions[region] = stats_of(landmark_regions[region]);
    split_shape_from_following(scores, s);
    s.mouth_input = stats_of(mouth_in);
    s.mouth_output = stats_of(mouth_out);
    s.mouth_gap = stats_of(mouth_gap);
    s.detail = stats_of(detail);
    s.eyes_mouth_detail = stats_of(eyes_mouth_detail);
    s.flicker_input = stats_of(flicker_in);
    s.flicker_output = stats_of(flicker_out);
    s.closer_fraction =
        s.with_input_face ? static_cast<double>(closer_to_b) / s.with_input_face : 0.0;
    s.flicker_ratio = s.flicker_input.count && s.flicker_input.mean > 0
                          ? s.flicker_output.mean / s.flicker_input.mean
                          : NAN;
    s.pass_identity = s.with_input_face > 0 && s.closer_fraction >= kMinCloserToB;
    s.pass_landmarks = s.landmarks.count > 0 && s.landmarks.mean <= kMaxLandmarkDistance;
    s.pass_mouth =
        std::isfinite(s.mouth_correlation) && s.mouth_correlation >= kMinMouthCorrelation;
    s.pass_detail = s.detail.count > 0 && s.detail.mean >= kMinDetailRatio;
    s.pass_eyes = std::isfinite(s.eye_correlation) && s.eye_correlation >= kMinEyeCorrelation;
    s.pass_flicker = std::isfinite(s.flicker_ratio) && s.flicker_ratio <= kMaxFlickerRatio;
    return s;
}

std::string EvalSummary::one_line() const {
    const int passes = pass_identity + pass_landmarks + pass_mouth + pass_detail + pass_flicker;
    char line[256];
    std::snprintf(line, sizeof line,
                  "closer to B %.0f%% · landmarks %.1f%% · mouth r %.2f · eyes r %.2f · "
                  "detail %.2f · flicker %.2f · %d/5 of the bar",
                  100 * closer_fraction, 100 * landmarks.mean, mouth_correlation, eye_correlation,
                  detail.mean, flicker_ratio, passes);
    return line;
}

}  // namespace faceswap::cli
