// A face's pose and expression as a few ratios of its 68 landmarks: head turn and tilt, mouth
// and eye opening, smile. Ratios, so the face's size and place do not matter; they work on
// image landmarks and on aligned-crop landmarks alike. Used for the New model dialog's
// recording coverage and make-model's pose balance.
#pragma once

#include "faceswap/engine.h"  // Landmarks68

namespace faceswap {

// One frame's measures (ratios, so the face's size does not matter).
struct FaceMeasures {
    double yaw = 0;    // nose tip across the jaw: 0.5 front-on, lower or higher turned
    double pitch = 0;  // nose tip between the eye line and the chin
    double mouth = 0;  // inner-lip gap / mouth width
    double eyes = 0;   // eye opening (height / width, both eyes)
    double smile = 0;  // mouth width / eye distance
};
FaceMeasures measure_face(const Landmarks68& landmarks);

}  // namespace faceswap
