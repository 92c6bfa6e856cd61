// Tensor image operations on the engine's device: frame upload, detector input, landmark
// crops and aligned crops, all by grid_sample (bilinear) so no pixels leave the device.
#pragma once

#include <ATen/Tensor.h>

#include <array>
#include <cstdint>
#include <vector>

#include "faceswap/engine.h"

namespace faceswap::detail {

// Every inference convolution goes through here. On CPU, LibTorch's dispatcher sends batch-1
// convolutions on small maps (<= 20480 values, e.g. 7x7x256 or 128x8x8) to a native fallback
// that runs on this build's slow BLAS, ~20-30x slower than oneDNN (the landmark net spent 3.3
// of its 5 ms in five such 1x1 convolutions; the swap net's 8x8 upscale took 17 ms of 45), so
// CPU float convolutions that need no gradient call oneDNN directly.
at::Tensor convolution(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                       std::array<int64_t, 2> stride, std::array<int64_t, 2> padding,
                       int64_t groups = 1);

// An integer crop rectangle inside the image, as face-api feeds its landmark net.
struct CropRect {
    int x = 0, y = 0, width = 0, height = 0;
};

// Clip a float box at the image borders and floor it (face-api's clipAtImageBorders + floor).
// Returns false when nothing usable (< 2 px a side) is left.
bool to_crop_rect(const Box& box, int image_width, int image_height, CropRect* rect);

// Uploads frames into a reused [1, 3, H, W] float RGB (0..255) tensor on the device.
class FrameUploader {
  public:
    const at::Tensor& upload(const FrameView& frame, const at::Device& device, int max_side);
    const at::Tensor& last() const { return rgb_; }  // the most recent upload

  private:
    at::Tensor staging_u8_;  // [H, W, 3] on the device (CUDA only)
    at::Tensor rgb_;         // [1, 3, H, W] float
};

// Resamples a frame to the detector's square input: the image is padded at the bottom/right
// to a square (zeros) and scaled to size x size without half-pixel offset (TF resizeBilinear
// with align_corners=false, half_pixel_centers=false), then normalised to [-1, 1].
class DetectorInput {
  public:
    at::Tensor make(const at::Tensor& rgb, int size);

  private:
    at::Tensor grid_;  // cached for the last frame size
    int grid_width_ = 0, grid_height_ = 0, grid_size_ = 0;
};

// Landmark-net inputs [N, 3, size, size]: each crop padded to a square with zeros, centred,
// and scaled like TF resizeBilinear (no half-pixel offset), as face-api does.
at::Tensor landmark_inputs(const at::Tensor& rgb, const std::vector<CropRect>& crops, int size);

// The landmark net's answer for one crop of landmark_inputs, 68 (x, y) pairs in 0..1 of the
// padded square, back in the pixels of the image the crop was taken from.
Landmarks68 landmarks_in_image(const CropRect& crop, const float* xy);

// Aligned crops [N, 3, size, size] float RGB, sampled through each aligned->image transform.
at::Tensor aligned_crops(const at::Tensor& rgb, const std::vector<Affine2x3>& aligned_to_image,
                         int size);

// The frame the analyzer uploaded in its latest analyze() call ([1, 3, H, W] float RGB on the
// device), so the swap stage reuses it instead of uploading the frame a second time.
const at::Tensor& uploaded_frame(const FaceAnalyzer& analyzer);

}  // namespace faceswap::detail
