// Similarity alignment of a face to the canonical template (Umeyama, closed form in 2-D).
// Plain C++: no Torch, so it is cheap to test and to call per face.
#pragma once

#include "faceswap/engine.h"

namespace faceswap::detail {

// x' = a*x - b*y + tx ; y' = b*x + a*y + ty   (rotation + uniform scale + translation)
struct Similarity {
    double a = 1, b = 0, tx = 0, ty = 0;

    Point2f apply(Point2f p) const;
    Similarity inverse() const;
    double scale() const;
    Affine2x3 affine() const;
};

// Least-squares similarity mapping src[i] onto dst[i] (Umeyama 1991 without reflection).
// rms_residual, when given, receives the RMS distance left over, in dst units.
Similarity fit_similarity(const Point2f* src, const Point2f* dst, int count,
                          double* rms_residual = nullptr);

}  // namespace faceswap::detail
