#include "recognition_net.h"
#include "image_ops.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <torch/nn/module.h>

#include <array>

namespace faceswap::detail {
namespace {

at::Tensor convolution(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                       int64_t stride, int64_t padding) {
    return detail::convolution(x, weight, bias, {stride, stride}, {padding, padding});
}

struct StageSpec {
    const char* name;
    int64_t in, out;
    bool down;
};

// face-api's FaceRecognitionNet.forwardInput, stage by stage.
constexpr std::array<StageSpec, 14> kStages = {{{"conv32_1", 32, 32, false},
                                                {"conv32_2", 32, 32, false},
                                                {"conv32_3", 32, 32, false},
                                                {"conv64_down", 32, 64, true},
                                                {"conv64_1", 64, 64, false},
                                                {"conv64_2", 64, 64, false},
                                                {"conv64_3", 64, 64, false},
                                                {"conv128_down", 64, 128, true},
                                                {"conv128_1", 128, 128, false},
                                                {"conv128_2", 128, 128, false},
                                                {"conv256_down", 128, 256, true},
                                                {"conv256_1", 256, 256, false},
                                                {"conv256_2", 256, 256, false},
                                                {"conv256_down_out", 256, 256, true}}};

}  // namespace

const std::vector<std::string>& FaceRecognitionNet::stage_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> all = {"conv32_down"};
        for (const auto& stage : kStages) all.push_back(stage.name);
        return all;
    }();
    return names;
}

FaceRecognitionNet::FaceRecognitionNet() {
    auto layer = [this](const std::string& name, int64_t out, int64_t in, int64_t k) {
        return ConvLayer{register_buffer(name + "_filters", at::zeros({out, in, k, k})),
                         register_buffer(name + "_bias", at::zeros({out})),
                         register_buffer(name + "_scale_weights", at::zeros({out})),
                         register_buffer(name + "_scale_biases", at::zeros({out})),
                         {},
                         {}};
    };
    stem_ = layer("conv32_down", 32, 3, 7);
    for (const auto& spec : kStages) {
        const std::string name = spec.name;
        stages_.push_back({layer(name + "_conv1", spec.out, spec.in, 3),
                           layer(name + "_conv2", spec.out, spec.out, 3), spec.down});
    }
    fc_ = register_buffer("fc", at::zeros({kDescriptorSize, 256}));
}

void FaceRecognitionNet::prepare_for_inference() {
    at::NoGradGuard no_grad;
    // scale(conv(x) + b) = conv(x) * w + (b * w + s): fold w into the filters.
    auto fold = [](ConvLayer& layer) {
        layer.folded_weight =
            (layer.filters * layer.scale_weights.view({-1, 1, 1, 1})).contiguous();
        layer.folded_bias = layer.bias * layer.scale_weights + layer.scale_biases;
    };
    fold(stem_);
    for (auto& stage : stages_) {
        fold(stage.conv1);
        fold(stage.conv2);
    }
}

at::Tensor FaceRecognitionNet::forward(const at::Tensor& input) const {
    // Mean-RGB subtraction and /255, as in face-api (the same constants as the landmark net).
    const at::Tensor mean_rgb =
        at::tensor({122.782f, 117.001f, 104.298f}, input.options()).view({1, 3, 1, 1});
    at::Tensor x = (input - mean_rgb) / 255.0;
    // 7x7 stride-2 'valid' conv (150 -> 72), then a 3x3 stride-2 'valid' max pool (72 -> 35).
    x = at::relu(convolution(x, stem_.folded_weight, stem_.folded_bias, 2, 0));
    x = at::max_pool2d(x, {3, 3}, {2, 2});
    for (const Residual& stage : stages_) {
        // 3x3 'same' convs at stride 1 pad one pixel each side; stride-2 convs are 'valid'.
        at::Tensor out = at::relu(convolution(x, stage.conv1.folded_weight, stage.conv1.folded_bias,
                                              stage.down ? 2 : 1, stage.down ? 0 : 1));
        out = convolution(out, stage.conv2.folded_weight, stage.conv2.folded_bias, 1, 1);
        at::Tensor shortcut = x;
        if (stage.down) {
            shortcut = at::avg_pool2d(x, {2, 2}, {2, 2});
            // Odd maps (8 -> 3 vs 4, 4 -> 1 vs 2): face-api appends a zero row and column to
            // the conv branch to match the pooled shortcut.
            if (shortcut.size(2) != out.size(2) || shortcut.size(3) != out.size(3))
                out = at::constant_pad_nd(
                    out, {0, shortcut.size(3) - out.size(3), 0, shortcut.size(2) - out.size(2)}, 0);
            // Channel doubling: the shortcut's extra channels are zeros.
            if (shortcut.size(1) != out.size(1))
                shortcut = at::cat({shortcut, at::zeros_like(shortcut)}, 1);
        }
        x = at::relu(out + shortcut);
    }
    return at::linear(x.mean({2, 3}), fc_);
}

}  // namespace faceswap::detail
