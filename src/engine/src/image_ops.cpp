#include "image_ops.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/mkldnn_convolution.h>

#include <algorithm>
#include <cmath>

namespace faceswap::detail {
namespace {

// All sampling uses align_corners=true: pixel index i of an n-pixel axis is 2i/(n-1) - 1.
at::Tensor sample(const at::Tensor& input, const at::Tensor& grid) {
    return at::grid_sampler(input, grid, /*interpolation=bilinear*/ 0, /*padding=zeros*/ 0,
                            /*align_corners=*/true);
}

// A [1, rows, cols, 2] grid whose x depends only on the column and y only on the row.
at::Tensor separable_grid(const at::Tensor& xs, const at::Tensor& ys) {
    const int64_t rows = ys.size(0), cols = xs.size(0);
    return at::stack(
               {xs.view({1, cols}).expand({rows, cols}), ys.view({rows, 1}).expand({rows, cols})},
               2)
        .unsqueeze(0);
}

}  // namespace

bool to_crop_rect(const Box& box, int image_width, int image_height, CropRect* rect) {
    const double x = std::max<double>(box.x, 0.0), y = std::max<double>(box.y, 0.0);
    const double w = std::min<double>(box.x + box.width - x, image_width - x);
    const double h = std::min<double>(box.y + box.height - y, image_height - y);
    if (!(w >= 2.0 && h >= 2.0)) return false;  // also rejects NaN
    rect->x = static_cast<int>(std::floor(x));
    rect->y = static_cast<int>(std::floor(y));
    rect->width = std::min(static_cast<int>(std::floor(w)), image_width - rect->x);
    rect->height = std::min(static_cast<int>(std::floor(h)), image_height - rect->y);
    return rect->width >= 2 && rect->height >= 2;
}

const at::Tensor& FrameUploader::upload(const FrameView& frame, const at::Device& device,
                                        int max_side) {
    if (!frame.data || frame.width < 2 || frame.height < 2 || frame.stride_bytes < frame.width * 3)
        throw Error(ErrorCode::kInvalidArgument,
                    "frame of " + std::to_string(frame.width) + "x" + std::to_string(frame.height) +
                        " is empty, smaller than 2x2 pixels, or its stride is too small");
    if (frame.width > max_side || frame.height > max_side)
        throw Error(ErrorCode::kInvalidArgument, "frame of " + std::to_string(frame.width) + "x" +
                                                     std::to_string(frame.height) +
                                                     " is larger than " + std::to_string(max_side) +
                                                     " pixels a side; scale it down first");
    const at::Tensor pixels =
        at::from_blob(const_cast<std::uint8_t*>(frame.data), {frame.height, frame.width, 3},
                      {frame.stride_bytes, 3, 1}, at::kByte);
    if (!rgb_.defined() || rgb_.size(2) != frame.height || rgb_.size(3) != frame.width ||
        rgb_.device() != device) {
        rgb_ = at::empty({1, 3, frame.height, frame.width}, at::TensorOptions(device));
        staging_u8_ = device.is_cpu() ? at::Tensor()
                                      : at::empty({frame.height, frame.width, 3},
                                                  at::TensorOptions(device).dtype(at::kByte));
    }
    const at::Tensor source = device.is_cpu() ? pixels : staging_u8_.copy_(pixels);
    const bool bgr = frame.format == PixelFormat::BGR24;
    for (int c = 0; c < 3; ++c) rgb_[0][c].copy_(source.select(2, bgr ? 2 - c : c));
    return rgb_;
}

at::Tensor DetectorInput::make(const at::Tensor& rgb, int size) {
    const int height = static_cast<int>(rgb.size(2)), width = static_cast<int>(rgb.size(3));
    if (!grid_.defined() || width != grid_width_ || height != grid_height_ || size != grid_size_ ||
        grid_.device() != rgb.device()) {
        const double scale = static_cast<double>(std::max(width, height)) / size;
        const auto options = at::TensorOptions(rgb.device()).dtype(at::kDouble);
        const at::Tensor steps = at::arange(size, options) * scale;
        const at::Tensor xs = (steps * (2.0 / (width - 1)) - 1.0).to(at::kFloat);
        const at::Tensor ys = (steps * (2.0 / (height - 1)) - 1.0).to(at::kFloat);
        grid_ = separable_grid(xs, ys).contiguous();
        grid_width_ = width, grid_height_ = height, grid_size_ = size;
    }
    return sample(rgb, grid_).mul_(1.0 / 127.5).sub_(1.0);
}

at::Tensor landmark_inputs(const at::Tensor& rgb, const std::vector<CropRect>& crops, int size) {
    std::vector<at::Tensor> batch;
    batch.reserve(crops.size());
    const auto options = at::TensorOptions(rgb.device()).dtype(at::kDouble);
    const at::Tensor steps = at::arange(size, options);
    for (const CropRect& c : crops) {
        const at::Tensor region = rgb.narrow(2, c.y, c.height).narrow(3, c.x, c.width);
        const int side = std::max(c.width, c.height);
        // Padding is split around the crop; pixels outside it stay zero, as in face-api.
        const double pad_x = (side - c.width) / 2.0, pad_y = (side - c.height) / 2.0;
        const double scale = static_cast<double>(side) / size;
        const at::Tensor xs =
            ((steps * scale - pad_x) * (2.0 / (c.width - 1)) - 1.0).to(at::kFloat);
        const at::Tensor ys =
            ((steps * scale - pad_y) * (2.0 / (c.height - 1)) - 1.0).to(at::kFloat);
        batch.push_back(sample(region, separable_grid(xs, ys)));
    }
    return at::cat(batch, 0);
}

Landmarks68 landmarks_in_image(const CropRect& c, const float* xy) {
    const int side = std::max(c.width, c.height);
    const float pad_x = (side - c.width) / 2.f, pad_y = (side - c.height) / 2.f;
    Landmarks68 points;
    for (int k = 0; k < kLandmarkCount; ++k)
        points[k] = {c.x + xy[2 * k] * side - pad_x, c.y + xy[2 * k + 1] * side - pad_y};
    return points;
}

at::Tensor aligned_crops(const at::Tensor& rgb, const std::vector<Affine2x3>& aligned_to_image,
                         int size) {
    const int height = static_cast<int>(rgb.size(2)), width = static_cast<int>(rgb.size(3));
    const int64_t n = static_cast<int64_t>(aligned_to_image.size());
    // theta maps normalised output coordinates to normalised input coordinates:
    // out_norm -> out_px (u = (un + 1)(S - 1)/2) -> image px (M) -> image norm.
    at::Tensor theta = at::empty({n, 2, 3}, at::kFloat);
    auto t = theta.accessor<float, 3>();
    const double half_out = (size - 1) / 2.0;
    for (int64_t i = 0; i < n; ++i) {
        const Affine2x3& m = aligned_to_image[i];
        const double sx = 2.0 / (width - 1), sy = 2.0 / (height - 1);
        // image_px = M * [u, v, 1], u = half_out * (un + 1)
        const double ax = m[0] * half_out, bx = m[1] * half_out;
        const double cx = m[0] * half_out + m[1] * half_out + m[2];
        const double ay = m[3] * half_out, by = m[4] * half_out;
        const double cy = m[3] * half_out + m[4] * half_out + m[5];
        t[i][0][0] = static_cast<float>(sx * ax);
        t[i][0][1] = static_cast<float>(sx * bx);
        t[i][0][2] = static_cast<float>(sx * cx - 1.0);
        t[i][1][0] = static_cast<float>(sy * ay);
        t[i][1][1] = static_cast<float>(sy * by);
        t[i][1][2] = static_cast<float>(sy * cy - 1.0);
    }
    theta = theta.to(rgb.device());
    const at::Tensor grid = at::affine_grid_generator(theta, {n, 3, size, size}, true);
    return sample(rgb.expand({n, 3, height, width}), grid);
}

at::Tensor convolution(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                       std::array<int64_t, 2> stride, std::array<int64_t, 2> padding,
                       int64_t groups) {
    const bool needs_grad =
        at::GradMode::is_enabled() && (x.requires_grad() || weight.requires_grad());
    if (x.is_cpu() && at::hasMKLDNN() &&
        (x.scalar_type() == at::kFloat || x.scalar_type() == at::kBFloat16) && !needs_grad)
        return at::mkldnn_convolution(x.contiguous(x.suggest_memory_format()),
                                      weight.contiguous(weight.suggest_memory_format()), bias,
                                      padding, stride, {1, 1}, groups);
    return at::conv2d(x, weight, bias, stride, padding, at::IntArrayRef{1, 1}, groups);
}

}  // namespace faceswap::detail
