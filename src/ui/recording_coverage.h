// What a recording of "me" has shown so far, for the New model dialog's guidance: head turned
// left and right, looking up and down, talking (mouth open), blinking and smiling. A model
// only learns the poses and expressions it has seen, so the dialog asks for the ones missing.
//
// Measured from the 68 landmarks (faceswap/face_measures.h), relative to the person's own neutral
// face (the median of the first frames), so that face shape and camera angle do not count as a
// pose.
#pragma once

#include <array>
#include <cstddef>
#include <vector>

#include "faceswap/face_measures.h"

namespace faceswap::ui {

enum class Coverage { kLeft, kRight, kUp, kDown, kTalk, kBlink, kSmile };
inline constexpr std::size_t kCoverageCount = 7;

struct CoverageItem {
    const char* label;        // on the indicator
    const char* instruction;  // the guidance while it is missing
};
// In Coverage's order.
inline constexpr std::array<CoverageItem, kCoverageCount> kCoverageItems{{
    {"Left", "Turn your head slowly to your left"},
    {"Right", "Now slowly to your right"},
    {"Up", "Look up"},
    {"Down", "Look down"},
    {"Talk", "Talk for a few seconds (count to ten)"},
    {"Blink", "Blink a few times"},
    {"Smile", "Smile"},
}};

class RecordingCoverage {
  public:
    // A frame's largest face (or none: nothing changes).
    void add(const Landmarks68& landmarks);
    bool covered(Coverage item) const { return covered_[static_cast<std::size_t>(item)]; }
    int covered_count() const;
    int frames() const { return frames_; }
    // The instruction for the first item still missing ("" when all are covered or the
    // neutral face is still being learnt).
    const char* next_instruction() const;
    bool calibrated() const { return calibrated_; }

  private:
    static constexpr int kCalibrationFrames = 8;
    std::vector<FaceMeasures> first_;
    FaceMeasures neutral_;
    bool calibrated_ = false;
    std::array<bool, kCoverageCount> covered_{};
    int frames_ = 0;
};

}  // namespace faceswap::ui
