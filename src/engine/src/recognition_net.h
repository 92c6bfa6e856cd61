// face-api's face recognition net as a LibTorch module: a ResNet-34-like port of dlib's face
// recogniser (dlib_face_recognition_resnet_model_v1) that maps a 150x150 face to a 128-d
// descriptor; two faces of one person lie within about 0.6 of each other (Euclidean).
// Weights are stored as trained (conv + per-channel scale layer); the scale layers are folded
// into the convolutions at prepare time, as the SSD's batch norms are.
#pragma once

#include <torch/nn/module.h>

#include <string>
#include <vector>

#include "faceswap/identity.h"

namespace faceswap::detail {

inline constexpr int kRecognitionInputSize = 150;

class FaceRecognitionNet : public torch::nn::Module {
  public:
    static constexpr const char* kKind = "face_recognition";
    FaceRecognitionNet();

    // Fold each scale layer into its convolution; call after loading and moving to the device.
    void prepare_for_inference();

    // input: [B, 3, 150, 150] float RGB in 0..255. Returns descriptors [B, 128].
    at::Tensor forward(const at::Tensor& input) const;

    // The stage names of the net in order ("conv32_down", "conv32_1", ..., "conv256_down_out");
    // buffers are named STAGE_convK_{filters,bias,scale_weights,scale_biases} (K = 1, 2) and,
    // for the stem, conv32_down_{filters,...}; plus "fc" [128, 256].
    static const std::vector<std::string>& stage_names();

  private:
    struct ConvLayer {
        at::Tensor filters, bias, scale_weights, scale_biases;  // raw, as trained
        at::Tensor folded_weight, folded_bias;                  // derived at prepare time
    };
    struct Residual {
        ConvLayer conv1, conv2;
        bool down = false;  // stride-2 'valid' first conv; average-pooled, zero-padded shortcut
    };
    ConvLayer stem_;  // conv32_down: 7x7 stride 2, 'valid'
    std::vector<Residual> stages_;
    at::Tensor fc_;  // [128, 256]
};

}  // namespace faceswap::detail
