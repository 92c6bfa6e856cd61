#include "recording_coverage.h"

#include <algorithm>
#include <cmath>

namespace faceswap::ui {

namespace {

double distance(const Point2f& a, const Point2f& b) {
    return std::hypot(a.x - b.x, a.y - b.y);
}

Point2f mean_of(const Landmarks68& p, int from, int to) {
    Point2f sum{0, 0};
    for (int i = from; i <= to; ++i) sum.x += p[i].x, sum.y += p[i].y;
    const float n = static_cast<float>(to - from + 1);
    return {sum.x / n, sum.y / n};
}

double median(std::vector<double> values) {
    std::nth_element(values.begin(), values.begin() + values.size() / 2, values.end());
    return values[values.size() / 2];
}

}  // namespace

// iBUG 68-point indices: jaw 0-16 (8 the chin), nose tip 30, eyes 36-41 and 42-47, mouth
// corners 48 and 54, inner lips 62 (upper) and 66 (lower).
FaceMeasures measure_face(const Landmarks68& p) {
    FaceMeasures m;
    const double jaw_width = std::max(1e-3, static_cast<double>(p[16].x - p[0].x));
    m.yaw = (p[30].x - p[0].x) / jaw_width;
    const Point2f left_eye = mean_of(p, 36, 41), right_eye = mean_of(p, 42, 47);
    const double eye_y = (left_eye.y + right_eye.y) / 2;
    m.pitch = (p[30].y - eye_y) / std::max(1e-3, p[8].y - eye_y);
    const double mouth_width = std::max(1e-3, distance(p[48], p[54]));
    m.mouth = distance(p[62], p[66]) / mouth_width;
    const auto opening = [&](int a, int b1, int b2, int c1, int c2, int d) {
        return (distance(p[b1], p[c2]) + distance(p[b2], p[c1])) /
               (2 * std::max(1e-3, distance(p[a], p[d])));
    };
    m.eyes = (opening(36, 37, 38, 40, 41, 39) + opening(42, 43, 44, 46, 47, 45)) / 2;
    m.smile = mouth_width / std::max(1e-3, distance(left_eye, right_eye));
    return m;
}

void RecordingCoverage::add(const Landmarks68& landmarks) {
    ++frames_;
    const FaceMeasures m = measure_face(landmarks);
    if (!calibrated_) {
        first_.push_back(m);
        if (static_cast<int>(first_.size()) < kCalibrationFrames) return;
        const auto median_of = [&](double FaceMeasures::*field) {
            std::vector<double> values;
            for (const FaceMeasures& f : first_) values.push_back(f.*field);
            return median(values);
        };
        neutral_ = {median_of(&FaceMeasures::yaw), median_of(&FaceMeasures::pitch),
                    median_of(&FaceMeasures::mouth), median_of(&FaceMeasures::eyes),
                    median_of(&FaceMeasures::smile)};
        calibrated_ = true;
        return;
    }
    // Thresholds: about 20 degrees of turn, 15 of tilt, a mouth open by a quarter of its width,
    // eyes at 60% of their neutral opening, a mouth 10% wider than neutral. The image is not
    // mirrored: the user's left is the image's right, so a turn to their left moves the nose
    // to higher x.
    auto& c = covered_;
    c[static_cast<std::size_t>(Coverage::kLeft)] |= m.yaw > neutral_.yaw + 0.12;
    c[static_cast<std::size_t>(Coverage::kRight)] |= m.yaw < neutral_.yaw - 0.12;
    c[static_cast<std::size_t>(Coverage::kUp)] |= m.pitch < neutral_.pitch - 0.07;
    c[static_cast<std::size_t>(Coverage::kDown)] |= m.pitch > neutral_.pitch + 0.07;
    c[static_cast<std::size_t>(Coverage::kTalk)] |= m.mouth > std::max(0.25, neutral_.mouth + 0.2);
    c[static_cast<std::size_t>(Coverage::kBlink)] |= m.eyes < 0.6 * neutral_.eyes;
    c[static_cast<std::size_t>(Coverage::kSmile)] |=
        m.smile > 1.1 * neutral_.smile && m.mouth < neutral_.mouth + 0.2;
}

int RecordingCoverage::covered_count() const {
    return static_cast<int>(std::count(covered_.begin(), covered_.end(), true));
}

const char* RecordingCoverage::next_instruction() const {
    if (!calibrated_) return "";
    for (std::size_t i = 0; i < kCoverageCount; ++i)
        if (!covered_[i]) return kCoverageItems[i].instruction;
    return "";
}

}  // namespace faceswap::ui
