// Tensor operations of the swap stage: landmark-hull masks, mask erosion and feathering,
// colour transfer in Lab, and pasting generated faces back into the frame through the inverse
// alignment. All run on the tensors' device; nothing leaves it until the final download.
#pragma once

#include <ATen/Tensor.h>

#include <vector>

#include "faceswap/engine.h"

namespace faceswap::detail {

// Applies a [C, 1, kh, kw] kernel to each channel of [N, C, H, W] separately (no padding).
at::Tensor depthwise_conv2d(const at::Tensor& x, const at::Tensor& kernel);

// The 3x3 Laplacian (4-neighbour) of each channel of [N, C, H, W], no padding: [N, C, H-2, W-2].
at::Tensor laplacian(const at::Tensor& x);

// Separable Gaussian blur of [N, C, H, W] over 2 * radius + 1 taps, replicate-padded so edges
// keep their level; radius 0 returns x.
at::Tensor gaussian_blur(const at::Tensor& x, int radius, double sigma);

// Filled convex hulls of point sets as [N, 1, size, size] float masks (1 inside, 0 outside),
// on device. Each entry of `polygons` is one mask's points in crop pixels.
at::Tensor hull_masks(const std::vector<std::vector<Point2f>>& polygons, int size,
                      const c10::Device& device);

// The whole-face hull (jaw line and eyebrows) of each face's 68 landmarks, in crop pixels.
at::Tensor face_hull_masks(const std::vector<Landmarks68>& crop_landmarks, int size,
                           const c10::Device& device);

// Eyes and mouth, grown a little: the regions whose detail matters most to a viewer.
at::Tensor eyes_mouth_masks(const std::vector<Landmarks68>& crop_landmarks, int size,
                            const c10::Device& device);

// Shrinks (erosion_px > 0) or grows (< 0) a [N, 1, S, S] mask, then blurs its edge over
// feather_px pixels; both 0 leaves the mask unchanged.
at::Tensor erode_and_feather(const at::Tensor& mask, int erosion_px, int feather_px);

// sRGB (0..1) <-> CIE Lab (L 0..100), D65, [N, 3, H, W].
at::Tensor rgb_to_lab(const at::Tensor& rgb);
at::Tensor lab_to_rgb(const at::Tensor& lab);

// Reinhard colour transfer: moves the Lab mean and deviation of `source` inside `mask` to
// those of `target` inside the same mask. [N, 3, S, S] in 0..1, mask [N, 1, S, S].
at::Tensor reinhard_color_transfer(const at::Tensor& source, const at::Tensor& target,
                                   const at::Tensor& mask);

// Gradient-domain (Poisson) blend inside mask: keeps the generated face's gradients and the
// frame's values at the mask border, solved by Jacobi iterations on the device.
at::Tensor poisson_blend(const at::Tensor& face, const at::Tensor& frame, const at::Tensor& mask,
                         int iterations);

// A pixel rectangle of the frame.
struct PixelRect {
    int x = 0, y = 0, width = 0, height = 0;
};

// A box in an aligned crop's pixels: [x0, x1) x [y0, y1).
struct CropBox {
    double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
    bool empty() const { return x1 <= x0 || y1 <= y0; }
};

// The frame pixels a box of an aligned crop covers (its four corners projected and clipped).
PixelRect crop_footprint(const Affine2x3& aligned_to_image, const CropBox& box, int frame_width,
                         int frame_height);
// ... of the whole crop.
PixelRect crop_footprint(const Affine2x3& aligned_to_image, int crop_size, int frame_width,
                         int frame_height);

// Where a blend mask [S, S] changes the frame: the box of its values above `threshold`, grown
// by `margin` crop pixels (the resampling's reach) and clipped to the crop; empty when no
// value is above. Pasting only there writes the same bytes as pasting the whole crop when
// the threshold moves no pixel by half a grey level (kNoChangeAlpha).
CropBox support_box(const at::Tensor& mask, float threshold, int margin);
inline constexpr float kNoChangeAlpha = 1.0f / 1024;  // < 0.5 / 255

// Samples a crop-space tensor [1, C, S, S] into the frame rectangle `rect` through
// image_to_aligned: returns [1, C, rect.height, rect.width]; outside the crop is 0. Bicubic:
// bilinear resampling back into the frame alone costs a sharp face a third of its detail
// (docs/swap-model.md); bicubic keeps ~90%. It may overshoot by a little: callers clamp.
at::Tensor crop_to_frame(const at::Tensor& crop, const Affine2x3& image_to_aligned,
                         const PixelRect& rect);

}  // namespace faceswap::detail
