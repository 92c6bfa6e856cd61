#include "expression_warp.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>
#include <vector>

#include "face_nets.h"
#include "image_ops.h"

namespace faceswap::detail {

std::vector<Landmarks68> landmarks_in_crops(const LandmarkNet68& net, const at::Tensor& faces,
                                            const std::vector<Box>& boxes) {
    const int size = static_cast<int>(faces.size(3));
    std::vector<at::Tensor> inputs;
    std::vector<CropRect> rects(boxes.size());
    for (size_t i = 0; i < boxes.size(); ++i) {
        // A box that leaves nothing inside the crop falls back to the whole crop.
        if (!to_crop_rect(boxes[i], size, size, &rects[i])) rects[i] = {0, 0, size, size};
        inputs.push_back(landmark_inputs(faces.narrow(0, static_cast<int64_t>(i), 1).mul(255.f),
                                         {rects[i]}, kLandmarkInputSize));
    }
    std::vector<Landmarks68> out(boxes.size());
    if (inputs.empty()) return out;
    const at::Tensor points = net.forward(at::cat(inputs, 0)).to(at::kCPU).contiguous();
    for (size_t i = 0; i < rects.size(); ++i)
        out[i] = landmarks_in_image(rects[i], points.data_ptr<float>() + i * 2 * kLandmarkCount);
    return out;
}

namespace {

// A feature's own frame: origin midway between its two corners, x along the corners' line,
// unit = the corners' distance. Rotation- and scale-free, so a shape measured on one face can
// be rebuilt on another.
struct FeatureFrame {
    Point2f origin;
    float ux = 1, uy = 0, scale = 1;  // unit direction and length of corner-to-corner

    FeatureFrame(Point2f a, Point2f b) {
        origin = {(a.x + b.x) / 2, (a.y + b.y) / 2};
        const float dx = b.x - a.x, dy = b.y - a.y;
        scale = std::max(std::hypot(dx, dy), 1e-3f);
        ux = dx / scale, uy = dy / scale;
    }
    Point2f to_local(Point2f p) const {
        const float x = p.x - origin.x, y = p.y - origin.y;
        return {(x * ux + y * uy) / scale, (-x * uy + y * ux) / scale};
    }
    Point2f to_crop(Point2f q) const {
        return {origin.x + (q.x * ux - q.y * uy) * scale, origin.y + (q.x * uy + q.y * ux) * scale};
    }
};

// The lids and lips that open a feature, as (upper point, lower point) pairs facing each other.
// An eye: 1-5 and 2-4 of its six points (so its opening is the eye aspect ratio); the mouth:
// the inner lips (61-67, 62-66, 63-65, as mouth_opening) and the outer lips above and below
// them (50-58, 51-57, 52-56), which move with them.
struct Feature {
    int corner_a, corner_b;                     // the corners that define its frame
    std::vector<std::pair<int, int>> measured;  // the pairs whose gap is its opening
    std::vector<std::pair<int, int>> moved;     // the pairs that open and close with it
};
const std::array<Feature, 3>& expression_features() {
    static const std::array<Feature, 3> features = {{
        {36, 39, {{37, 41}, {38, 40}}, {{37, 41}, {38, 40}}},
        {42, 45, {{43, 47}, {44, 46}}, {{43, 47}, {44, 46}}},
        {48,
         54,
         {{61, 67}, {62, 66}, {63, 65}},
         {{61, 67}, {62, 66}, {63, 65}, {50, 58}, {51, 57}, {52, 56}}},
    }};
    return features;
}

// A feature's opening in its own frame: the mean gap of its measured pairs over its width.
double opening_in_frame(const Landmarks68& p, const Feature& f, const FeatureFrame& frame) {
    double gap = 0;
    for (const auto& [upper, lower] : f.measured)
        gap += frame.to_local(p[lower]).y - frame.to_local(p[upper]).y;
    return gap / f.measured.size();
}

// Solves the small dense system a x = b in place (Gaussian elimination, partial pivoting);
// a is n x n row-major, b is n x columns.
void solve_in_place(std::vector<double>& a, std::vector<double>& b, int n, int columns) {
    for (int col = 0; col < n; ++col) {
        int pivot = col;
        for (int r = col + 1; r < n; ++r)
            if (std::abs(a[r * n + col]) > std::abs(a[pivot * n + col])) pivot = r;
        if (pivot != col) {
            for (int c = 0; c < n; ++c) std::swap(a[col * n + c], a[pivot * n + c]);
            for (int c = 0; c < columns; ++c)
                std::swap(b[col * columns + c], b[pivot * columns + c]);
        }
        const double diagonal = a[col * n + col];
        for (int r = col + 1; r < n; ++r) {
            const double f = a[r * n + col] / diagonal;
            if (f == 0) continue;
            for (int c = col; c < n; ++c) a[r * n + c] -= f * a[col * n + c];
            for (int c = 0; c < columns; ++c) b[r * columns + c] -= f * b[col * columns + c];
        }
    }
    for (int r = n - 1; r >= 0; --r)
        for (int c = 0; c < columns; ++c) {
            double v = b[r * columns + c];
            for (int k = r + 1; k < n; ++k) v -= a[r * n + k] * b[k * columns + c];
            b[r * columns + c] = v / a[r * n + r];
        }
}

}  // namespace

Landmarks68 expression_target(const Landmarks68& generated, const Landmarks68& input, float eyes,
                              float mouth, double max_move_px) {
    Landmarks68 target = generated;
    for (const Feature& f : expression_features()) {
        const FeatureFrame in(input[f.corner_a], input[f.corner_b]);
        const FeatureFrame out(generated[f.corner_a], generated[f.corner_b]);
        // How much wider (or narrower) the input's opening is, in widths: the upper points go
        // up and the lower ones down by half of it each, in the generated feature's frame.
        const float share = f.corner_a < 48 ? eyes : mouth;
        const double more =
            share * (opening_in_frame(input, f, in) - opening_in_frame(generated, f, out));
        for (const auto& [upper, lower] : f.moved) {
            for (const auto& [k, sign] : {std::pair{upper, -1.0}, std::pair{lower, 1.0}}) {
                Point2f local = out.to_local(generated[k]);
                local.y += static_cast<float>(sign * more / 2);
                const Point2f moved = out.to_crop(local);
                float dx = moved.x - generated[k].x, dy = moved.y - generated[k].y;
                const double length = std::hypot(dx, dy);
                if (length > max_move_px) {
                    dx = static_cast<float>(dx * max_move_px / length);
                    dy = static_cast<float>(dy * max_move_px / length);
                }
                target[k] = {generated[k].x + dx, generated[k].y + dy};
            }
        }
    }
    return target;
}

std::array<double, 2> eye_closing(const Landmarks68& generated, const Landmarks68& input) {
    std::array<double, 2> closing{};
    for (int eye = 0; eye < 2; ++eye) {
        const Feature& f = expression_features()[eye];
        const FeatureFrame in(input[f.corner_a], input[f.corner_b]);
        const FeatureFrame out(generated[f.corner_a], generated[f.corner_b]);
        closing[eye] = opening_in_frame(generated, f, out) - opening_in_frame(input, f, in);
    }
    return closing;
}

float closed_eye_share(double closing) {
    return static_cast<float>(
        std::clamp((closing - kClosedEyeDeadZone) / kClosedEyeRamp, 0.0, 1.0));
}

namespace {
double inter_ocular(const Landmarks68& face) {
    auto centre = [&](int first) {
        Point2f c;
        for (int k = first; k < first + 6; ++k) c.x += face[k].x / 6, c.y += face[k].y / 6;
        return c;
    };
    const Point2f left = centre(36), right = centre(42);
    return std::hypot(right.x - left.x, right.y - left.y);
}
}  // namespace

double expression_warp_sigma(const Landmarks68& face) {
    return std::max(1.0, inter_ocular(face) / 12.0);
}

double shape_warp_sigma(const Landmarks68& face) {
    return std::max(1.0, inter_ocular(face) / 4.0);
}

UsualShapeOffset::Values shape_offset(const Landmarks68& generated, const Landmarks68& input) {
    UsualShapeOffset::Values offset{};
    for (int k = 0; k < kLandmarkCount; ++k) {
        offset[2 * k] = input[k].x - generated[k].x;
        offset[2 * k + 1] = input[k].y - generated[k].y;
    }
    return offset;
}

Landmarks68 shape_target(const Landmarks68& generated, const UsualShapeOffset::Values& usual,
                         float strength) {
    Landmarks68 target = generated;
    auto move = [&](int k) {
        target[k].x += static_cast<float>(strength * usual[2 * k]);
        target[k].y += static_cast<float>(strength * usual[2 * k + 1]);
    };
    for (int k = 0; k < 17; ++k) move(k);   // jaw line
    for (int k = 30; k < 36; ++k) move(k);  // nose tip and nostrils
    return target;
}

at::Tensor warp_face(const at::Tensor& face, const Landmarks68& from, const Landmarks68& to,
                     double sigma_px) {
    const int size = static_cast<int>(face.size(3));
    // The move is a smooth field defined where the pixels are now (`from`): an interpolant
    // through every landmark's displacement, zero at the points that stay (jaw, brows, nose,
    // the corners), so it fades out around the moving ones. Defined there, a closing eye is a
    // field that squeezes the well-separated lids together; defined at the targets it would
    // have to jump between two lids that nearly meet. Points closer than sigma (a closed
    // mouth's inner lips) are one centre with their mean move: a smooth warp cannot tear
    // them apart, and trying folds the face.
    struct Centre {
        double x, y, dx, dy;
        int count;
    };
    std::vector<Centre> centres;
    double moved = 0;
    float x0 = static_cast<float>(size), y0 = x0, x1 = 0, y1 = 0;
    for (int i = 0; i < kLandmarkCount; ++i) {
        const double dx = to[i].x - from[i].x, dy = to[i].y - from[i].y;
        if (std::hypot(dx, dy) > 0.01) {
            moved = std::max(moved, std::hypot(dx, dy));
            x0 = std::min({x0, to[i].x, from[i].x}), x1 = std::max({x1, to[i].x, from[i].x});
            y0 = std::min({y0, to[i].y, from[i].y}), y1 = std::max({y1, to[i].y, from[i].y});
        }
        auto near = std::find_if(centres.begin(), centres.end(), [&](const Centre& c) {
            return std::hypot(c.x - from[i].x, c.y - from[i].y) < sigma_px;
        });
        if (near == centres.end()) {
            centres.push_back({from[i].x, from[i].y, dx, dy, 1});
        } else {  // running means of place and move
            const int n = ++near->count;
            near->x += (from[i].x - near->x) / n, near->y += (from[i].y - near->y) / n;
            near->dx += (dx - near->dx) / n, near->dy += (dy - near->dy) / n;
        }
    }
    if (moved < 0.01) return face;
    const int n = static_cast<int>(centres.size());
    std::vector<double> kernel(n * n), weights(n * 2);
    for (int i = 0; i < n; ++i) {
        weights[i * 2] = centres[i].dx, weights[i * 2 + 1] = centres[i].dy;
        for (int j = 0; j < n; ++j) {
            const double dx = centres[i].x - centres[j].x, dy = centres[i].y - centres[j].y;
            kernel[i * n + j] = std::exp(-(dx * dx + dy * dy) / (2 * sigma_px * sigma_px));
        }
        kernel[i * n + i] += 1e-3;
    }
    solve_in_place(kernel, weights, n, 2);

    // Beyond 4 sigma of every moving point the field is below 1e-3 of a pixel: the face is
    // resampled only inside that rectangle and the rest is left exactly as it was.
    const double reach = 4 * sigma_px;
    const int rx0 = std::clamp(static_cast<int>(std::floor(x0 - reach)), 0, size - 1);
    const int ry0 = std::clamp(static_cast<int>(std::floor(y0 - reach)), 0, size - 1);
    const int rx1 = std::clamp(static_cast<int>(std::ceil(x1 + reach)), 0, size - 1);
    const int ry1 = std::clamp(static_cast<int>(std::ceil(y1 + reach)), 0, size - 1);
    const int width = rx1 - rx0 + 1, height = ry1 - ry0 + 1;

    const auto options = at::TensorOptions(at::kFloat);
    at::Tensor centre_x = at::empty({1, 1, n}, options), centre_y = at::empty({1, 1, n}, options);
    at::Tensor w = at::empty({n, 2}, options);
    for (int i = 0; i < n; ++i) {
        centre_x[0][0][i] = centres[i].x, centre_y[0][0][i] = centres[i].y;
        w[i][0] = weights[i * 2], w[i][1] = weights[i * 2 + 1];
    }
    // The forward move at points [H, W] -> [H, W, 2].
    auto field = [&](const at::Tensor& px, const at::Tensor& py) {
        const at::Tensor d2 =
            (px.unsqueeze(2) - centre_x).square() + (py.unsqueeze(2) - centre_y).square();
        return at::matmul(at::exp(d2 * (-0.5 / (sigma_px * sigma_px))), w);
    };
    // The inverse is found on a grid of every other pixel and interpolated to the rest: the
    // field is smooth over sigma (about 5 px), and this is 4x fewer points for the kernel.
    const int coarse_w = (width + 1) / 2 + 1, coarse_h = (height + 1) / 2 + 1;
    const at::Tensor cx = at::arange(coarse_w, options)
                              .mul(2)
                              .add(rx0)
                              .view({1, coarse_w})
                              .expand({coarse_h, coarse_w});
    const at::Tensor cy = at::arange(coarse_h, options)
                              .mul(2)
                              .add(ry0)
                              .view({coarse_h, 1})
                              .expand({coarse_h, coarse_w});
    // Each output pixel x samples the face at y with y + F(y) = x: y = x - F(y), by fixed-point
    // steps (they converge while the field's slope stays under 1, which the callers' limit
    // on each point's move keeps; at a slope of 0.4 four steps leave 3% of a move).
    at::Tensor bx = at::zeros({coarse_h, coarse_w}, options), by = at::zeros_like(bx);
    for (int step = 0; step < 4; ++step) {
        const at::Tensor f = field(cx - bx, cy - by);
        bx = f.select(2, 0), by = f.select(2, 1);
    }
    // Back to every pixel: the coarse grid's point i sits at pixel 2i of the rectangle.
    const at::Tensor back = at::upsample_bilinear2d(at::stack({bx, by}, 0).unsqueeze(0),
                                                    {2 * coarse_h - 1, 2 * coarse_w - 1}, true)
                                .narrow(2, 0, height)
                                .narrow(3, 0, width);
    const at::Tensor xs =
        at::arange(rx0, rx1 + 1, options).view({1, width}).expand({height, width});
    const at::Tensor ys =
        at::arange(ry0, ry1 + 1, options).view({height, 1}).expand({height, width});
    const at::Tensor sx = xs - back[0][0], sy = ys - back[0][1];
    const double s = 2.0 / (size - 1);
    const at::Tensor grid = at::stack({sx * s - 1, sy * s - 1}, 2).unsqueeze(0).to(face.device());
    const at::Tensor region =
        at::grid_sampler(face, grid.to(face.scalar_type()), /*bicubic*/ 2, /*border*/ 1, true);
    at::Tensor out = face.clone();
    out.narrow(2, ry0, height).narrow(3, rx0, width).copy_(region);
    return out;
}

}  // namespace faceswap::detail
