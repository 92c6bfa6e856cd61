// The pretrained face nets as LibTorch modules: SSD MobileNetV1 (detector) and the 68-point
// landmark net of face-api. Weights are stored in PyTorch layouts (OIHW) by the importer.
// TensorFlow 'same' padding is reproduced exactly (stride-2 layers pad bottom/right only).
#pragma once

#include <torch/nn/module.h>

#include <string>
#include <vector>

namespace faceswap::detail {

inline constexpr int kDetectorInputSize = 512;
inline constexpr int kDetectorPriorCount = 5118;
inline constexpr int kLandmarkInputSize = 112;

// Decoded SSD output for a batch: boxes [B, 5118, 4] as (ymin, xmin, ymax, xmax) relative to
// the padded square input, and face scores [B, 5118].
struct SsdOutput {
    at::Tensor boxes;
    at::Tensor scores;
};

class SsdMobileNetV1 : public torch::nn::Module {
  public:
    static constexpr const char* kKind = "ssd_mobilenetv1";
    SsdMobileNetV1();

    // input: [B, 3, 512, 512] float, already normalised to [-1, 1].
    SsdOutput forward(const at::Tensor& input) const;

    // Fold batch-norm statistics into the depthwise convolutions and keep the weights in
    // `dtype` (float32, or bfloat16 where the device computes it natively); call after loading
    // weights and after moving the module to its device. Box decoding stays float32.
    void prepare_for_inference(at::ScalarType dtype = at::kFloat);

    // Names and shapes the importer fills; used to validate imported tensors.
    static constexpr int kDepthwiseLayers = 13;

  private:
    struct Depthwise {
        at::Tensor weight, gamma, beta, mean, variance;  // raw, as trained
        at::Tensor folded_weight, folded_bias;           // derived at prepare time
    };
    struct Conv {
        at::Tensor weight, bias;
    };
    Conv conv0_;
    std::vector<Depthwise> depthwise_;  // layers 1..13
    std::vector<Conv> pointwise_;       // layers 1..13
    std::vector<Conv> extra_;           // prediction-layer convs 0..7
    std::vector<Conv> box_encoding_;    // box predictors 0..5
    std::vector<Conv> class_predictor_;
    at::Tensor priors_;  // [5118, 4] (ymin, xmin, ymax, xmax)
    at::ScalarType dtype_ = at::kFloat;
};

class LandmarkNet68 : public torch::nn::Module {
  public:
    static constexpr const char* kKind = "face_landmark_68";
    LandmarkNet68();

    // input: [B, 3, 112, 112] float RGB in 0..255. Returns [B, 68, 2] in 0..1 of the input,
    // float32 whatever the arithmetic.
    at::Tensor forward(const at::Tensor& input) const;

    // Convolutions in `dtype` from now on (float32, or bfloat16 where the device computes it
    // natively); call after loading weights and after moving the module to its device.
    void prepare_for_inference(at::ScalarType dtype = at::kFloat);

  private:
    struct Separable {
        at::Tensor depthwise, pointwise, bias;
    };
    struct DenseBlock {
        at::Tensor first_weight, first_bias;  // dense0 only: a full 3x3 convolution
        Separable first_separable;            // dense1..3
        Separable conv1, conv2, conv3;
    };
    std::vector<DenseBlock> blocks_;
    at::Tensor fc_weight_, fc_bias_;  // [136, 256], [136]
    at::Tensor mean_rgb_;             // [1, 3, 1, 1]
    at::ScalarType dtype_ = at::kFloat;
};

}  // namespace faceswap::detail
