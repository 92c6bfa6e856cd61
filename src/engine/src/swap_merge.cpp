#include "swap_merge.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

namespace faceswap::detail {
namespace {

double cross(Point2f o, Point2f a, Point2f b) {
    return (double(a.x) - o.x) * (double(b.y) - o.y) - (double(a.y) - o.y) * (double(b.x) - o.x);
}

// Andrew's monotone chain; returns the hull counter-clockwise in a y-down image, i.e. with
// every interior point on the non-negative side of each edge's cross product.
std::vector<Point2f> convex_hull(std::vector<Point2f> points) {
    std::sort(points.begin(), points.end(),
              [](Point2f a, Point2f b) { return a.x < b.x || (a.x == b.x && a.y < b.y); });
    if (points.size() < 3) return points;
    std::vector<Point2f> hull(points.size() * 2);
    size_t k = 0;
    for (size_t i = 0; i < points.size(); ++i) {
        while (k >= 2 && cross(hull[k - 2], hull[k - 1], points[i]) <= 0) --k;
        hull[k++] = points[i];
    }
    for (size_t i = points.size() - 1, t = k + 1; i-- > 0;) {
        while (k >= t && cross(hull[k - 2], hull[k - 1], points[i]) <= 0) --k;
        hull[k++] = points[i];
    }
    hull.resize(k - 1);
    return hull;
}

std::vector<Point2f> grown(std::vector<Point2f> points, float factor) {
    Point2f centre;
    for (const auto& p : points) centre.x += p.x, centre.y += p.y;
    centre.x /= points.size(), centre.y /= points.size();
    for (auto& p : points) {
        p.x = centre.x + (p.x - centre.x) * factor;
        p.y = centre.y + (p.y - centre.y) * factor;
    }
    return points;
}

std::vector<Point2f> landmark_range(const Landmarks68& l, int first, int last) {
    return std::vector<Point2f>(l.begin() + first, l.begin() + last + 1);
}

// 1-D Gaussian as a [1, 1, k] kernel normalised to sum 1.
at::Tensor gaussian_kernel(int radius, double sigma, const c10::Device& device) {
    at::Tensor x = at::arange(-radius, radius + 1, at::kFloat);
    at::Tensor k = at::exp(-(x * x) / (2 * sigma * sigma));
    return (k / k.sum()).to(device);
}

// Affine helpers in double: [a b c; d e f].
struct Affine {
    double m[6];
    Affine then(const Affine& next) const {  // next * this
        const double* n = next.m;
        return {{n[0] * m[0] + n[1] * m[3], n[0] * m[1] + n[1] * m[4],
                 n[0] * m[2] + n[1] * m[5] + n[2], n[3] * m[0] + n[4] * m[3],
                 n[3] * m[1] + n[4] * m[4], n[3] * m[2] + n[4] * m[5] + n[5]}};
    }
};

}  // namespace

at::Tensor gaussian_blur(const at::Tensor& x, int radius, double sigma) {
    if (radius <= 0) return x;
    const int64_t c = x.size(1);
    const at::Tensor k = gaussian_kernel(radius, sigma, x.device());
    const at::Tensor kx = k.view({1, 1, 1, -1}).expand({c, 1, 1, 2 * radius + 1}).contiguous();
    const at::Tensor ky = k.view({1, 1, -1, 1}).expand({c, 1, 2 * radius + 1, 1}).contiguous();
    at::Tensor y = at::replication_pad2d(x, {radius, radius, radius, radius});
    y = depthwise_conv2d(y, kx);
    return depthwise_conv2d(y, ky);
}

at::Tensor laplacian(const at::Tensor& x) {
    const int64_t c = x.size(1);
    const at::Tensor k = at::tensor({0.f, 1.f, 0.f, 1.f, -4.f, 1.f, 0.f, 1.f, 0.f}, x.options())
                             .view({1, 1, 3, 3})
                             .expand({c, 1, 3, 3})
                             .contiguous();
    return depthwise_conv2d(x.contiguous(at::MemoryFormat::ChannelsLast), k);
}

at::Tensor depthwise_conv2d(const at::Tensor& x, const at::Tensor& kernel) {
    const std::vector<int64_t> one{1, 1}, zero{0, 0};
    return at::conv2d(x, kernel, c10::nullopt, one, zero, one, x.size(1));
}

at::Tensor hull_masks(const std::vector<std::vector<Point2f>>& polygons, int size,
                      const c10::Device& device) {
    const int64_t n = static_cast<int64_t>(polygons.size());
    // Scanlines on the CPU: for a convex polygon every edge bounds x on each row from one side,
    // so a row's inside run is one interval; the cost is rows x edges per mask, not pixels x
    // edges (a 256 px training set's 6,700 masks took two minutes as per-pixel tests). The
    // inside test is the same: pixel centre (x + 0.5, y + 0.5) on the inner side of each edge.
    at::Tensor masks = at::zeros({n, 1, size, size}, at::kFloat);
    float* data = masks.data_ptr<float>();
    for (int64_t i = 0; i < n; ++i) {
        const std::vector<Point2f> hull = convex_hull(polygons[i]);
        if (hull.size() < 3) continue;
        float* mask = data + i * size * size;
        for (int row = 0; row < size; ++row) {
            const double yc = row + 0.5;
            double lo = -1e30, hi = 1e30;
            for (size_t e = 0; e < hull.size() && lo <= hi; ++e) {
                const Point2f a = hull[e], b = hull[(e + 1) % hull.size()];
                const double dx = double(b.x) - a.x, dy = double(b.y) - a.y;
                // inside: (xc - a.x) * dy - (yc - a.y) * dx <= 0
                if (dy == 0) {
                    if (-(yc - a.y) * dx > 0) lo = 1, hi = 0;
                    continue;
                }
                const double bound = a.x + (yc - a.y) * dx / dy;
                if (dy > 0)
                    hi = std::min(hi, bound);
                else
                    lo = std::max(lo, bound);
            }
            if (lo > hi) continue;
            const int first = std::max(0, static_cast<int>(std::ceil(lo - 0.5)));
            const int last = std::min(size - 1, static_cast<int>(std::floor(hi - 0.5)));
            for (int x = first; x <= last; ++x) mask[row * size + x] = 1.f;
        }
    }
    return masks.to(device);
}

at::Tensor face_hull_masks(const std::vector<Landmarks68>& crop_landmarks, int size,
                           const c10::Device& device) {
    std::vector<std::vector<Point2f>> polygons;
    for (const auto& l : crop_landmarks) polygons.emplace_back(l.begin(), l.end());
    return hull_masks(polygons, size, device);
}

at::Tensor eyes_mouth_masks(const std::vector<Landmarks68>& crop_landmarks, int size,
                            const c10::Device& device) {
    std::vector<std::vector<Point2f>> eyes_left, eyes_right, mouths;
    for (const auto& l : crop_landmarks) {
        eyes_left.push_back(grown(landmark_range(l, 36, 41), 1.6f));
        eyes_right.push_back(grown(landmark_range(l, 42, 47), 1.6f));
        mouths.push_back(grown(landmark_range(l, 48, 59), 1.2f));
    }
    return at::maximum(
        at::maximum(hull_masks(eyes_left, size, device), hull_masks(eyes_right, size, device)),
        hull_masks(mouths, size, device));
}

at::Tensor erode_and_feather(const at::Tensor& mask, int erosion_px, int feather_px) {
    at::Tensor m = mask;
    if (erosion_px != 0) {
        const int r = std::abs(erosion_px);
        // Max-pooling grows; erosion is max-pooling of the inverse.
        m = erosion_px > 0 ? 1 - at::max_pool2d(1 - m, {2 * r + 1, 2 * r + 1}, {1, 1}, {r, r})
                           : at::max_pool2d(m, {2 * r + 1, 2 * r + 1}, {1, 1}, {r, r});
    }
    if (feather_px > 0) m = gaussian_blur(m, feather_px, feather_px / 2.0);
    return m.clamp(0, 1);
}

at::Tensor rgb_to_lab(const at::Tensor& rgb) {
    const at::Tensor c = rgb.clamp(0, 1);
    const at::Tensor linear = at::where(c <= 0.04045, c / 12.92, at::pow((c + 0.055) / 1.055, 2.4));
    const at::Tensor r = linear.select(1, 0), g = linear.select(1, 1), b = linear.select(1, 2);
    // D65 white point normalisation folded into the matrix rows.
    const at::Tensor x = (0.412453 * r + 0.357580 * g + 0.180423 * b) / 0.950456;
    const at::Tensor y = 0.212671 * r + 0.715160 * g + 0.072169 * b;
    const at::Tensor z = (0.019334 * r + 0.119193 * g + 0.950227 * b) / 1.088754;
    auto f = [](const at::Tensor& t) {
        return at::where(t > 0.008856, at::pow(t.clamp_min(1e-12), 1.0 / 3.0),
                         7.787 * t + 16.0 / 116.0);
    };
    const at::Tensor fx = f(x), fy = f(y), fz = f(z);
    return at::stack({116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)}, 1);
}

at::Tensor lab_to_rgb(const at::Tensor& lab) {
    const at::Tensor fy = (lab.select(1, 0) + 16) / 116;
    const at::Tensor fx = fy + lab.select(1, 1) / 500;
    const at::Tensor fz = fy - lab.select(1, 2) / 200;
    auto finv = [](const at::Tensor& t) {
        return at::where(t > 0.206893, t * t * t, (t - 16.0 / 116.0) / 7.787);
    };
    const at::Tensor x = finv(fx) * 0.950456, y = finv(fy), z = finv(fz) * 1.088754;
    const at::Tensor r = 3.240479 * x - 1.537150 * y - 0.498535 * z;
    const at::Tensor g = -0.969256 * x + 1.875992 * y + 0.041556 * z;
    const at::Tensor b = 0.055648 * x - 0.204043 * y + 1.057311 * z;
    const at::Tensor linear = at::stack({r, g, b}, 1).clamp(0, 1);
    return at::where(linear <= 0.0031308, linear * 12.92,
                     1.055 * at::pow(linear.clamp_min(1e-12), 1 / 2.4) - 0.055);
}

at::Tensor reinhard_color_transfer(const at::Tensor& source, const at::Tensor& target,
                                   const at::Tensor& mask) {
    const at::Tensor src = rgb_to_lab(source), tgt = rgb_to_lab(target);
    const at::Tensor weight = mask.expand_as(src);
    const at::Tensor count = weight.sum({2, 3}, true).clamp_min(1.0);
    auto stats = [&](const at::Tensor& lab) {
        const at::Tensor mean = (lab * weight).sum({2, 3}, true) / count;
        const at::Tensor var = ((lab - mean).pow(2) * weight).sum({2, 3}, true) / count;
        return std::make_pair(mean, var.sqrt().clamp_min(1e-3));
    };
    const auto [src_mean, src_std] = stats(src);
    const auto [tgt_mean, tgt_std] = stats(tgt);
    // A generated face is smoother than a real one; an unbounded deviation ratio would blow its
    // small variations up into colour casts (blue eyes, red cheeks), so the ratio is bounded.
    const at::Tensor ratio = (tgt_std / src_std).clamp(0.5, 1.5);
    return lab_to_rgb((src - src_mean) * ratio + tgt_mean);
}

at::Tensor poisson_blend(const at::Tensor& face, const at::Tensor& frame, const at::Tensor& mask,
                         int iterations) {
    // Solve lap(x) = lap(face) inside the mask, x = frame outside, by Jacobi iterations
    // started from the pasted face (close to the solution, so few iterations suffice).
    const int64_t c = face.size(1);
    const at::Tensor kernel =
        at::tensor({0.f, 1.f, 0.f, 1.f, 0.f, 1.f, 0.f, 1.f, 0.f}, face.options())
            .view({1, 1, 3, 3})
            .expand({c, 1, 3, 3})
            .contiguous();
    auto neighbour_sum = [&](const at::Tensor& x) {
        return depthwise_conv2d(at::replication_pad2d(x, {1, 1, 1, 1}), kernel);
    };
    const at::Tensor inside = (mask > 0.5).to(face.scalar_type()).expand_as(face);
    const at::Tensor guidance = 4 * face - neighbour_sum(face);  // -laplacian of the face
    at::Tensor x = frame * (1 - inside) + face * inside;
    for (int i = 0; i < iterations; ++i)
        x = at::where(inside > 0, (neighbour_sum(x) + guidance) / 4, frame);
    return x;
}

PixelRect crop_footprint(const Affine2x3& m, int crop_size, int frame_width, int frame_height) {
    return crop_footprint(m, CropBox{0, 0, double(crop_size), double(crop_size)}, frame_width,
                          frame_height);
}

CropBox support_box(const at::Tensor& mask, float threshold, int margin) {
    const at::Tensor above = mask > threshold;
    const at::Tensor rows = at::nonzero(above.any(1)), cols = at::nonzero(above.any(0));
    if (rows.numel() == 0) return {};
    const double size_y = static_cast<double>(mask.size(0)), size_x = double(mask.size(1));
    return {std::max(0.0, cols.min().item<double>() - margin),
            std::max(0.0, rows.min().item<double>() - margin),
            std::min(size_x, cols.max().item<double>() + 1 + margin),
            std::min(size_y, rows.max().item<double>() + 1 + margin)};
}

PixelRect crop_footprint(const Affine2x3& m, const CropBox& box, int frame_width,
                         int frame_height) {
    double x0 = 1e9, y0 = 1e9, x1 = -1e9, y1 = -1e9;
    for (double u : {box.x0, box.x1})
        for (double v : {box.y0, box.y1}) {
            const double x = m[0] * u + m[1] * v + m[2], y = m[3] * u + m[4] * v + m[5];
            x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x), y1 = std::max(y1, y);
        }
    PixelRect r;
    r.x = std::clamp(static_cast<int>(std::floor(x0)), 0, frame_width);
    r.y = std::clamp(static_cast<int>(std::floor(y0)), 0, frame_height);
    r.width = std::clamp(static_cast<int>(std::ceil(x1)), 0, frame_width) - r.x;
    r.height = std::clamp(static_cast<int>(std::ceil(y1)), 0, frame_height) - r.y;
    return r;
}

at::Tensor crop_to_frame(const at::Tensor& crop, const Affine2x3& image_to_aligned,
                         const PixelRect& rect) {
    const double size = static_cast<double>(crop.size(3));
    // ROI normalised (align_corners) -> frame pixels -> crop pixels -> crop normalised.
    const double half_w = (rect.width - 1) / 2.0, half_h = (rect.height - 1) / 2.0;
    const Affine roi_to_frame{{half_w, 0, rect.x + half_w, 0, half_h, rect.y + half_h}};
    const Affine frame_to_crop{{image_to_aligned[0], image_to_aligned[1], image_to_aligned[2],
                                image_to_aligned[3], image_to_aligned[4], image_to_aligned[5]}};
    const double s = 2.0 / (size - 1);
    const Affine crop_to_normalised{{s, 0, -1, 0, s, -1}};
    const Affine theta = roi_to_frame.then(frame_to_crop).then(crop_to_normalised);
    const at::Tensor theta_tensor =
        at::tensor({theta.m[0], theta.m[1], theta.m[2], theta.m[3], theta.m[4], theta.m[5]},
                   at::kDouble)
            .to(at::kFloat)
            .view({1, 2, 3})
            .to(crop.device());
    const at::Tensor grid =
        at::affine_grid_generator(theta_tensor, {1, crop.size(1), rect.height, rect.width}, true);
    return at::grid_sampler(crop, grid, /*bicubic*/ 2, /*zeros*/ 0, true);
}

}  // namespace faceswap::detail
