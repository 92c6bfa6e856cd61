#include "alignment.h"

#include <cmath>
#include <utility>

namespace faceswap {
namespace {

// The widely used five-point face template (ArcFace, 112x112 crop): left eye, right eye, nose
// tip, left and right mouth corners, in the image's left-to-right order.
constexpr std::array<Point2f, 5> kTemplate112 = {{{38.2946f, 51.6963f},
                                                  {73.5318f, 51.5014f},
                                                  {56.0252f, 71.7366f},
                                                  {41.5493f, 92.3655f},
                                                  {70.7299f, 92.2041f}}};

Point2f mean_of(const Landmarks68& l, int first, int last) {
    Point2f sum;
    for (int i = first; i <= last; ++i) {
        sum.x += l[i].x;
        sum.y += l[i].y;
    }
    const float n = static_cast<float>(last - first + 1);
    return {sum.x / n, sum.y / n};
}

}  // namespace

std::array<Point2f, 5> alignment_template(int aligned_size, float coverage) {
    std::array<Point2f, 5> points;
    for (size_t i = 0; i < points.size(); ++i) {
        points[i].x = aligned_size * (0.5f + (kTemplate112[i].x / 112.f - 0.5f) * coverage);
        points[i].y = aligned_size * (0.5f + (kTemplate112[i].y / 112.f - 0.5f) * coverage);
    }
    return points;
}

std::array<Point2f, 5> alignment_points(const Landmarks68& l) {
    // iBUG 300-W: 36-41 one eye, 42-47 the other, 30 nose tip, 48 and 54 mouth corners.
    return {mean_of(l, 36, 41), mean_of(l, 42, 47), l[30], l[48], l[54]};
}

double eye_opening(const Landmarks68& p) {
    double sum = 0;
    for (int first : {36, 42}) {
        auto d = [&](int i, int j) {
            return std::hypot(p[first + j].x - p[first + i].x, p[first + j].y - p[first + i].y);
        };
        const double width = d(0, 3);
        if (width < 1) return NAN;
        sum += (d(1, 5) + d(2, 4)) / (2 * width);
    }
    return sum / 2;
}

double mouth_opening(const Landmarks68& p) {
    const double width = std::hypot(p[54].x - p[48].x, p[54].y - p[48].y);
    if (width < 1) return NAN;
    double gap = 0;
    for (auto [top, bottom] : {std::pair{61, 67}, std::pair{62, 66}, std::pair{63, 65}})
        gap += std::hypot(p[bottom].x - p[top].x, p[bottom].y - p[top].y);
    return gap / 3 / width;
}

Landmarks68 transform_landmarks(const Landmarks68& landmarks, const Affine2x3& m) {
    Landmarks68 out;
    for (size_t i = 0; i < landmarks.size(); ++i) {
        const Point2f p = landmarks[i];
        out[i] = {m[0] * p.x + m[1] * p.y + m[2], m[3] * p.x + m[4] * p.y + m[5]};
    }
    return out;
}

namespace detail {

Point2f Similarity::apply(Point2f p) const {
    return {static_cast<float>(a * p.x - b * p.y + tx), static_cast<float>(b * p.x + a * p.y + ty)};
}

Similarity Similarity::inverse() const {
    const double d = a * a + b * b;
    Similarity inv;
    inv.a = a / d;
    inv.b = -b / d;
    inv.tx = -(inv.a * tx - inv.b * ty);
    inv.ty = -(inv.b * tx + inv.a * ty);
    return inv;
}

double Similarity::scale() const {
    return std::hypot(a, b);
}

Affine2x3 Similarity::affine() const {
    return {static_cast<float>(a), static_cast<float>(-b), static_cast<float>(tx),
            static_cast<float>(b), static_cast<float>(a),  static_cast<float>(ty)};
}

Similarity fit_similarity(const Point2f* src, const Point2f* dst, int count, double* rms_residual) {
    double sx = 0, sy = 0, dx = 0, dy = 0;
    for (int i = 0; i < count; ++i) {
        sx += src[i].x;
        sy += src[i].y;
        dx += dst[i].x;
        dy += dst[i].y;
    }
    sx /= count, sy /= count, dx /= count, dy /= count;
    // With centred points p, q: a = sum(p.q) / |p|^2, b = sum(p x q) / |p|^2.
    double dot = 0, cross = 0, norm = 0;
    for (int i = 0; i < count; ++i) {
        const double px = src[i].x - sx, py = src[i].y - sy;
        const double qx = dst[i].x - dx, qy = dst[i].y - dy;
        dot += px * qx + py * qy;
        cross += px * qy - py * qx;
        norm += px * px + py * py;
    }
    Similarity s;
    if (norm <= 1e-12) {  // all points coincide: no defined rotation or scale
        s.tx = dx - sx;
        s.ty = dy - sy;
    } else {
        s.a = dot / norm;
        s.b = cross / norm;
        s.tx = dx - (s.a * sx - s.b * sy);
        s.ty = dy - (s.b * sx + s.a * sy);
    }
    if (rms_residual) {
        double sum = 0;
        for (int i = 0; i < count; ++i) {
            const Point2f m = s.apply(src[i]);
            sum += (m.x - dst[i].x) * (m.x - dst[i].x) + (m.y - dst[i].y) * (m.y - dst[i].y);
        }
        *rms_residual = std::sqrt(sum / count);
    }
    return s;
}

}  // namespace detail
}  // namespace faceswap
