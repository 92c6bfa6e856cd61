#include "tracking.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "alignment.h"

namespace faceswap::detail {
namespace {

float smoothing_alpha(double dt_s, float cutoff_hz) {
    const double tau = 1.0 / (2.0 * std::numbers::pi * cutoff_hz);
    return static_cast<float>(1.0 / (1.0 + tau / dt_s));
}

}  // namespace

float OneEuroFilter::filter(float value, double timestamp_s, float min_cutoff_hz, float beta,
                            float derivative_cutoff_hz) {
    if (!initialised_) {
        initialised_ = true;
        value_ = value;
        derivative_ = 0.f;
        timestamp_s_ = timestamp_s;
        return value;
    }
    const double dt = timestamp_s - timestamp_s_;
    if (dt <= 0.0) return value_;  // a repeated or out-of-order timestamp changes nothing
    timestamp_s_ = timestamp_s;
    const float raw_derivative = static_cast<float>((value - value_) / dt);
    const float a_d = smoothing_alpha(dt, derivative_cutoff_hz);
    derivative_ += a_d * (raw_derivative - derivative_);
    const float cutoff = min_cutoff_hz + beta * std::fabs(derivative_);
    value_ += smoothing_alpha(dt, cutoff) * (value - value_);
    return value_;
}

Landmarks68 LandmarkSmoother::apply(const Landmarks68& raw, double timestamp_s,
                                    const EngineConfig& config) {
    // Filter in pixels; speed counts relative to face size (beta per face-size unit per second),
    // so small and large faces smooth alike.
    const float beta_per_px = config.smoothing_beta / std::max(face_frame(raw).unit_px, 1.f);
    Landmarks68 out;
    for (int i = 0; i < kLandmarkCount; ++i) {
        out[i].x = filters_[2 * i].filter(raw[i].x, timestamp_s, config.smoothing_min_cutoff_hz,
                                          beta_per_px, config.smoothing_derivative_cutoff_hz);
        out[i].y = filters_[2 * i + 1].filter(raw[i].y, timestamp_s, config.smoothing_min_cutoff_hz,
                                              beta_per_px, config.smoothing_derivative_cutoff_hz);
    }
    return out;
}

void LandmarkSmoother::reset() {
    for (auto& f : filters_) f.reset();
}

FaceFrame face_frame(const Landmarks68& landmarks) {
    const auto points = alignment_points(landmarks);
    const auto unit_template = alignment_template(1, 1.f);
    const Similarity to_image = fit_similarity(unit_template.data(), points.data(), 5);
    FaceFrame frame;
    frame.centre = to_image.apply({0.5f, 0.5f});
    frame.unit_px = static_cast<float>(to_image.scale());
    return frame;
}

RelativeBox to_relative(const Box& box, const FaceFrame& frame) {
    const float u = std::max(frame.unit_px, 1e-3f);
    return {(box.x + box.width / 2 - frame.centre.x) / u,
            (box.y + box.height / 2 - frame.centre.y) / u, box.width / u, box.height / u};
}

Box from_relative(const RelativeBox& r, const FaceFrame& frame) {
    const float u = frame.unit_px;
    const float w = r.width * u, h = r.height * u;
    return {frame.centre.x + r.dx * u - w / 2, frame.centre.y + r.dy * u - h / 2, w, h};
}

bool close_enough(const Box& current, const Box& candidate) {
    if (current.width <= 0.f || current.height <= 0.f) return false;
    const float dx = (candidate.x + candidate.width / 2) - (current.x + current.width / 2);
    const float dy = (candidate.y + candidate.height / 2) - (current.y + current.height / 2);
    return std::fabs(dx) < 0.03f * current.width && std::fabs(dy) < 0.03f * current.height &&
           std::fabs(candidate.width / current.width - 1.f) < 0.05f &&
           std::fabs(candidate.height / current.height - 1.f) < 0.05f;
}

float appearance_change(const std::vector<float>& before, const std::vector<float>& after) {
    if (before.empty() || before.size() != after.size()) return 1.f;
    double sum = 0;
    for (size_t i = 0; i < before.size(); ++i) sum += std::fabs(before[i] - after[i]);
    return static_cast<float>(sum / before.size() / 255.0);
}

Box landmark_bounds(const Landmarks68& l) {
    float x0 = l[0].x, y0 = l[0].y, x1 = l[0].x, y1 = l[0].y;
    for (const auto& p : l) {
        x0 = std::min(x0, p.x), y0 = std::min(y0, p.y);
        x1 = std::max(x1, p.x), y1 = std::max(y1, p.y);
    }
    return {x0, y0, x1 - x0, y1 - y0};
}

}  // namespace faceswap::detail

namespace faceswap {

float intersection_over_union(const Box& a, const Box& b) {
    const float x0 = std::max(a.x, b.x), y0 = std::max(a.y, b.y);
    const float x1 = std::min(a.x + a.width, b.x + b.width);
    const float y1 = std::min(a.y + a.height, b.y + b.height);
    const float inter = std::max(0.f, x1 - x0) * std::max(0.f, y1 - y0);
    const float uni = a.width * a.height + b.width * b.height - inter;
    return uni > 0.f ? inter / uni : 0.f;
}

const Face* largest_face(const std::vector<Face>& faces) {
    const Face* best = nullptr;
    for (const Face& f : faces)
        if (!best || f.box.width * f.box.height > best->box.width * best->box.height) best = &f;
    return best;
}

}  // namespace faceswap
