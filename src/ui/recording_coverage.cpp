#include "recording_coverage.h"

#include <algorithm>
#include <cmath>

namespace faceswap::ui {

namespace {

double median(std::vector<double> values) {
    std::nth_element(values.begin(), values.begin() + values.size() / 2, values.end());
    return values[values.size() / 2];
}

}  // namespace

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
