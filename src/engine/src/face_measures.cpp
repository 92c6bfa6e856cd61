#include "faceswap/face_measures.h"

#include <algorithm>
#include <cmath>

namespace faceswap {

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

}  // namespace faceswap
