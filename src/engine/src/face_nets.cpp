#include "face_nets.h"
#include "image_ops.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <torch/nn/module.h>

#include <array>

namespace faceswap::detail {
namespace {

constexpr double kBatchNormEpsilon = 0.0010000000474974513;  // as in the TF graph

// TensorFlow 'same' padding for one spatial axis: total = max((ceil(n/s)-1)*s + k - n, 0),
// with the odd pixel going after (bottom/right), unlike PyTorch's symmetric padding.
std::array<int64_t, 2> same_padding(int64_t size, int64_t kernel, int64_t stride) {
    const int64_t out = (size + stride - 1) / stride;
    const int64_t total = std::max<int64_t>((out - 1) * stride + kernel - size, 0);
    return {total / 2, total - total / 2};
}

at::Tensor convolution(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                       int64_t stride, std::array<int64_t, 2> padding, int64_t groups) {
    return detail::convolution(x, weight, bias, {stride, stride}, padding, groups);
}

// Convolution with TF 'same' semantics; symmetric cases use the conv's own padding (no copy).
at::Tensor conv_same(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                     int64_t stride, int64_t groups = 1) {
    const int64_t kernel = weight.size(2);
    const auto pad_h = same_padding(x.size(2), kernel, stride);
    const auto pad_w = same_padding(x.size(3), kernel, stride);
    if (pad_h[0] == pad_h[1] && pad_w[0] == pad_w[1])
        return convolution(x, weight, bias, stride, {pad_h[0], pad_w[0]}, groups);
    const at::Tensor padded = at::constant_pad_nd(x, {pad_w[0], pad_w[1], pad_h[0], pad_h[1]}, 0);
    return convolution(padded, weight, bias, stride, {0, 0}, groups);
}

at::Tensor relu6_(at::Tensor x) {
    return x.clamp_(0, 6);
}

at::Tensor separable_same(const at::Tensor& x, const at::Tensor& depthwise,
                          const at::Tensor& pointwise, const at::Tensor& bias, int64_t stride) {
    const at::Tensor spatial = conv_same(x, depthwise, {}, stride, x.size(1));
    return convolution(spatial, pointwise, bias, 1, {0, 0}, 1);
}

// oneDNN's fast layout: on a CPU the detector runs 1.4x as fast on channels-last activations
// (the landmark net gains little and would move its points by float rounding: it stays NCHW).
at::Tensor on_cpu_channels_last(const at::Tensor& x) {
    return x.is_cpu() ? x.contiguous(at::MemoryFormat::ChannelsLast) : x;
}

// Flatten a predictor's NCHW output to [B, H*W*anchors, values] in TF's (h, w, anchor) order.
at::Tensor flatten_predictions(const at::Tensor& nchw, int64_t values) {
    return nchw.permute({0, 2, 3, 1}).reshape({nchw.size(0), -1, values});
}

}  // namespace

SsdMobileNetV1::SsdMobileNetV1() {
    auto conv = [this](const std::string& name, int64_t out, int64_t in, int64_t k) {
        return Conv{register_buffer(name + "_weight", at::zeros({out, in, k, k})),
                    register_buffer(name + "_bias", at::zeros({out}))};
    };
    conv0_ = conv("conv0", 32, 3, 3);
    const std::array<int64_t, 14> channels = {32,  64,  128, 128, 256, 256,  512,
                                              512, 512, 512, 512, 512, 1024, 1024};
    for (int i = 1; i <= kDepthwiseLayers; ++i) {
        const int64_t in = channels[i - 1];
        const std::string dw = "dw" + std::to_string(i);
        depthwise_.push_back({register_buffer(dw + "_weight", at::zeros({in, 1, 3, 3})),
                              register_buffer(dw + "_gamma", at::zeros({in})),
                              register_buffer(dw + "_beta", at::zeros({in})),
                              register_buffer(dw + "_mean", at::zeros({in})),
                              register_buffer(dw + "_variance", at::zeros({in})),
                              {},
                              {}});
        pointwise_.push_back(conv("pw" + std::to_string(i), channels[i], in, 1));
    }
    // Extra feature layers: alternating 1x1 reductions and 3x3 stride-2 convolutions.
    const std::array<std::array<int64_t, 3>, 8> extra = {{{256, 1024, 1},
                                                          {512, 256, 3},
                                                          {128, 512, 1},
                                                          {256, 128, 3},
                                                          {128, 256, 1},
                                                          {256, 128, 3},
                                                          {64, 256, 1},
                                                          {128, 64, 3}}};
    for (size_t i = 0; i < extra.size(); ++i)
        extra_.push_back(conv("extra" + std::to_string(i), extra[i][0], extra[i][1], extra[i][2]));
    // Box predictors read conv11 (512 ch, 3 anchors), the backbone output (1024) and extras.
    const std::array<int64_t, 6> predictor_in = {512, 1024, 512, 256, 256, 128};
    for (int i = 0; i < 6; ++i) {
        const int64_t anchors = i == 0 ? 3 : 6;
        box_encoding_.push_back(conv("box" + std::to_string(i), anchors * 4, predictor_in[i], 1));
        class_predictor_.push_back(
            conv("cls" + std::to_string(i), anchors * 3, predictor_in[i], 1));
    }
    priors_ = register_buffer("priors", at::zeros({kDetectorPriorCount, 4}));
}

void SsdMobileNetV1::prepare_for_inference(at::ScalarType dtype) {
    at::NoGradGuard no_grad;
    for (auto& layer : depthwise_) {
        const at::Tensor scale = layer.gamma / at::sqrt(layer.variance + kBatchNormEpsilon);
        layer.folded_weight = (layer.weight * scale.view({-1, 1, 1, 1})).contiguous().to(dtype);
        layer.folded_bias = (layer.beta - layer.mean * scale).to(dtype);
    }
    // The structs' handles get the converted copies; the registered (float32) buffers stay
    // what the file holds.
    auto convert = [dtype](Conv& conv) { conv = {conv.weight.to(dtype), conv.bias.to(dtype)}; };
    convert(conv0_);
    for (auto* group : {&pointwise_, &extra_, &box_encoding_, &class_predictor_})
        for (Conv& conv : *group) convert(conv);
    dtype_ = dtype;
}

SsdOutput SsdMobileNetV1::forward(const at::Tensor& input) const {
    static constexpr std::array<int, 4> kStride2Layers = {2, 4, 6, 12};
    at::Tensor x =
        relu6_(conv_same(on_cpu_channels_last(input.to(dtype_)), conv0_.weight, conv0_.bias, 2));
    at::Tensor conv11;
    for (int i = 1; i <= kDepthwiseLayers; ++i) {
        const auto& dw = depthwise_[i - 1];
        const bool downsample =
            std::find(kStride2Layers.begin(), kStride2Layers.end(), i) != kStride2Layers.end();
        x = relu6_(conv_same(x, dw.folded_weight, dw.folded_bias, downsample ? 2 : 1, x.size(1)));
        x = relu6_(convolution(x, pointwise_[i - 1].weight, pointwise_[i - 1].bias, 1, {0, 0}, 1));
        if (i == 11) conv11 = x;
    }
    std::array<at::Tensor, 6> feature_maps;
    feature_maps[0] = conv11;
    feature_maps[1] = x;
    at::Tensor extra = x;
    for (size_t i = 0; i < extra_.size(); ++i) {
        const int64_t stride = i % 2 == 1 ? 2 : 1;
        extra = relu6_(conv_same(extra, extra_[i].weight, extra_[i].bias, stride));
        if (i % 2 == 1) feature_maps[2 + i / 2] = extra;
    }
    std::vector<at::Tensor> encodings, classes;
    for (size_t i = 0; i < feature_maps.size(); ++i) {
        encodings.push_back(
            flatten_predictions(convolution(feature_maps[i], box_encoding_[i].weight,
                                            box_encoding_[i].bias, 1, {0, 0}, 1),
                                4));
        classes.push_back(
            flatten_predictions(convolution(feature_maps[i], class_predictor_[i].weight,
                                            class_predictor_[i].bias, 1, {0, 0}, 1),
                                3));
    }
    // [B, 5118, 4]: (ty, tx, th, tw), decoded in float32 (box sizes need its precision)
    const at::Tensor encoding = at::cat(encodings, 1).to(at::kFloat);

    // Standard SSD box decoding against the prior boxes, with TF's scale factors 10 and 5.
    const at::Tensor prior_size = priors_.slice(1, 2, 4) - priors_.slice(1, 0, 2);  // (h, w)
    const at::Tensor prior_centre = priors_.slice(1, 0, 2) + prior_size * 0.5;
    const at::Tensor centre = encoding.slice(2, 0, 2) / 10.0 * prior_size + prior_centre;
    const at::Tensor half_size = at::exp(encoding.slice(2, 2, 4) / 5.0) * prior_size * 0.5;
    SsdOutput output;
    output.boxes = at::cat({centre - half_size, centre + half_size}, 2);
    output.scores = at::sigmoid(at::cat(classes, 1).select(2, 1).to(at::kFloat));
    return output;
}

LandmarkNet68::LandmarkNet68() {
    const std::array<int64_t, 5> channels = {3, 32, 64, 128, 256};
    auto separable = [this](const std::string& name, int64_t in, int64_t out) {
        return Separable{register_buffer(name + "_depthwise", at::zeros({in, 1, 3, 3})),
                         register_buffer(name + "_pointwise", at::zeros({out, in, 1, 1})),
                         register_buffer(name + "_bias", at::zeros({out}))};
    };
    for (int b = 0; b < 4; ++b) {
        const std::string prefix = "dense" + std::to_string(b) + "_conv";
        const int64_t in = channels[b], out = channels[b + 1];
        DenseBlock block;
        if (b == 0) {
            block.first_weight = register_buffer(prefix + "0_weight", at::zeros({out, in, 3, 3}));
            block.first_bias = register_buffer(prefix + "0_bias", at::zeros({out}));
        } else {
            block.first_separable = separable(prefix + "0", in, out);
        }
        block.conv1 = separable(prefix + "1", out, out);
        block.conv2 = separable(prefix + "2", out, out);
        block.conv3 = separable(prefix + "3", out, out);
        blocks_.push_back(block);
    }
    fc_weight_ = register_buffer("fc_weight", at::zeros({136, 256}));
    fc_bias_ = register_buffer("fc_bias", at::zeros({136}));
}

at::Tensor LandmarkNet68::forward(const at::Tensor& input) const {
    // Mean-RGB subtraction and /255, as the net was trained.
    const at::Tensor mean_rgb =
        at::tensor({122.782f, 117.001f, 104.298f}, input.options()).view({1, 3, 1, 1});
    at::Tensor x = ((input - mean_rgb) / 255.0).to(dtype_);
    for (size_t b = 0; b < blocks_.size(); ++b) {
        const DenseBlock& block = blocks_[b];
        // Dense block: each separable conv sees the sum of all earlier outputs.
        const at::Tensor out1 =
            at::relu(b == 0 ? conv_same(x, block.first_weight, block.first_bias, 2)
                            : separable_same(x, block.first_separable.depthwise,
                                             block.first_separable.pointwise,
                                             block.first_separable.bias, 2));
        const at::Tensor out2 =
            separable_same(out1, block.conv1.depthwise, block.conv1.pointwise, block.conv1.bias, 1);
        const at::Tensor sum12 = out1 + out2;
        const at::Tensor out3 = separable_same(at::relu(sum12), block.conv2.depthwise,
                                               block.conv2.pointwise, block.conv2.bias, 1);
        const at::Tensor sum123 = sum12 + out3;
        const at::Tensor out4 = separable_same(at::relu(sum123), block.conv3.depthwise,
                                               block.conv3.pointwise, block.conv3.bias, 1);
        x = at::relu(sum123 + out4);
    }
    // 7x7 average pool over the 7x7 map = the spatial mean; then the fully connected layer.
    const at::Tensor pooled = x.mean({2, 3});
    return at::linear(pooled, fc_weight_, fc_bias_).view({-1, 68, 2}).to(at::kFloat);
}

void LandmarkNet68::prepare_for_inference(at::ScalarType dtype) {
    auto convert = [dtype](Separable& layer) {
        layer = {layer.depthwise.to(dtype), layer.pointwise.to(dtype), layer.bias.to(dtype)};
    };
    for (DenseBlock& block : blocks_) {
        if (block.first_weight.defined()) {
            block.first_weight = block.first_weight.to(dtype);
            block.first_bias = block.first_bias.to(dtype);
        } else {
            convert(block.first_separable);
        }
        for (Separable* layer : {&block.conv1, &block.conv2, &block.conv3}) convert(*layer);
    }
    fc_weight_ = fc_weight_.to(dtype);
    fc_bias_ = fc_bias_.to(dtype);
    dtype_ = dtype;
}

}  // namespace faceswap::detail
