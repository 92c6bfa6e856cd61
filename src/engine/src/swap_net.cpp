#include "swap_net.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/functional.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pixelshuffle.h>

#include <sstream>

#include "faceswap/engine.h"
#include "image_ops.h"

namespace faceswap::detail {
namespace {

namespace nn = torch::nn;

// nn::Conv2d (same parameters, so model files are unchanged) whose forward goes through
// detail::convolution: oneDNN on CPU at inference, LibTorch's own path when training.
class FastConv2dImpl : public nn::Conv2dImpl {
  public:
    FastConv2dImpl(int in, int out, int kernel, int stride, int padding)
        : nn::Conv2dImpl(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding)),
          stride_(stride),
          padding_(padding) {}
    at::Tensor forward(const at::Tensor& x) {
        return convolution(x, weight, bias, {stride_, stride_}, {padding_, padding_});
    }

  private:
    int64_t stride_, padding_;
};
TORCH_MODULE(FastConv2d);

nn::LeakyReLU leaky() {
    return nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.1));
}

// Stride-2 5x5 convolution: halves the size (DeepFaceLab's Downscale).
void add_downscale(nn::Sequential& seq, int in, int out) {
    seq->push_back(FastConv2d(in, out, 5, 2, 2));
    seq->push_back(leaky());
}

// 3x3 convolution to 4x the channels, then pixel shuffle: doubles the size without the
// checkerboard artefacts of transposed convolutions.
void add_upscale(nn::Sequential& seq, int in, int out) {
    seq->push_back(FastConv2d(in, out * 4, 3, 1, 1));
    seq->push_back(leaky());
    seq->push_back(nn::PixelShuffle(2));
}

// Two 3x3 convolutions with a skip: detail the upscales alone render poorly.
class ResidualBlockImpl : public nn::Module {
  public:
    explicit ResidualBlockImpl(int channels)
        : conv1_(register_module("conv1", FastConv2d(channels, channels, 3, 1, 1))),
          conv2_(register_module("conv2", FastConv2d(channels, channels, 3, 1, 1))) {}
    at::Tensor forward(const at::Tensor& x) {
        at::Tensor y = at::leaky_relu(conv1_->forward(x), 0.2);
        return at::leaky_relu(x + conv2_->forward(y), 0.2);
    }

  private:
    FastConv2d conv1_;
    FastConv2d conv2_;
};
TORCH_MODULE(ResidualBlock);

class FlattenDenseImpl : public nn::Module {
  public:
    FlattenDenseImpl(int in_features, int out_features)
        : linear_(register_module("linear", nn::Linear(in_features, out_features))) {}
    at::Tensor forward(const at::Tensor& x) {
        if (at::GradMode::is_enabled() || !x.is_cpu()) return linear_->forward(x.flatten(1));
        // Inference on CPU: the same product as a convolution whose kernel covers the whole
        // input, which oneDNN runs ~2x faster than this build's BLAS does the matrix-vector one.
        const at::Tensor input = x.dim() == 4 ? x : x.view({x.size(0), x.size(1), 1, 1});
        const at::Tensor kernel = linear_->weight.view(
            {linear_->weight.size(0), input.size(1), input.size(2), input.size(3)});
        return convolution(input, kernel, linear_->bias, {1, 1}, {0, 0}).flatten(1);
    }

  private:
    nn::Linear linear_;
};
TORCH_MODULE(FlattenDense);

int parse_int(const std::map<std::string, std::string>& attributes, const std::string& key,
              const std::string& path) {
    auto it = attributes.find(key);
    if (it == attributes.end())
        throw Error(ErrorCode::kModelCorrupt,
                    path + ": swap model metadata lacks '" + key + "'; the file is damaged");
    try {
        size_t used = 0;
        const int value = std::stoi(it->second, &used);
        if (used == it->second.size()) return value;
    } catch (const std::exception&) {
    }
    throw Error(ErrorCode::kModelCorrupt,
                path + ": swap model metadata '" + key + "' is not a number: " + it->second);
}

}  // namespace

void SwapNetShape::validate() const {
    auto check = [](bool ok, const std::string& message) {
        if (!ok) throw Error(ErrorCode::kInvalidArgument, "invalid swap model shape: " + message);
    };
    check(output_upscale == 1 || output_upscale == 2, "output upscale must be 1 or 2");
    check(resolution >= 64 && resolution <= 512 && resolution % (16 * output_upscale) == 0 &&
              resolution / output_upscale >= 64,
          "resolution must be a multiple of 16 from 64 to 512 (of 32 from 128 with output "
          "upscale 2)");
    check(encoder_dims >= 4 && encoder_dims <= 256, "encoder dims must be 4 to 256");
    check(bottleneck_dims >= 16 && bottleneck_dims <= 2048, "bottleneck dims must be 16 to 2048");
    check(inter_dims >= 8 && inter_dims <= 1024, "inter dims must be 8 to 1024");
    check(decoder_dims >= 4 && decoder_dims <= 256, "decoder dims must be 4 to 256");
    check(mask_dims >= 2 && mask_dims <= 128, "mask dims must be 2 to 128");
}

std::string SwapNetShape::describe() const {
    std::ostringstream out;
    out << "df-ae r" << resolution << " e" << encoder_dims << " b" << bottleneck_dims << " i"
        << inter_dims << " d" << decoder_dims << " m" << mask_dims;
    if (output_upscale != 1) out << " u" << output_upscale;
    return out.str();
}

std::map<std::string, std::string> SwapNetShape::to_attributes() const {
    return {{"resolution", std::to_string(resolution)},
            {"encoder_dims", std::to_string(encoder_dims)},
            {"bottleneck_dims", std::to_string(bottleneck_dims)},
            {"inter_dims", std::to_string(inter_dims)},
            {"decoder_dims", std::to_string(decoder_dims)},
            {"mask_dims", std::to_string(mask_dims)},
            {"output_upscale", std::to_string(output_upscale)}};
}

SwapNetShape SwapNetShape::from_attributes(const std::map<std::string, std::string>& attributes,
                                           const std::string& path) {
    SwapNetShape shape;
    shape.resolution = parse_int(attributes, "resolution", path);
    shape.encoder_dims = parse_int(attributes, "encoder_dims", path);
    shape.bottleneck_dims = parse_int(attributes, "bottleneck_dims", path);
    shape.inter_dims = parse_int(attributes, "inter_dims", path);
    shape.decoder_dims = parse_int(attributes, "decoder_dims", path);
    shape.mask_dims = parse_int(attributes, "mask_dims", path);
    // Format 1 had no depth-to-space stage.
    if (attributes.count("output_upscale"))
        shape.output_upscale = parse_int(attributes, "output_upscale", path);
    try {
        shape.validate();
    } catch (const Error& e) {
        throw Error(ErrorCode::kModelCorrupt, path + ": " + e.what());
    }
    return shape;
}

SwapDecoderImpl::SwapDecoderImpl(const SwapNetShape& s) : output_upscale_(s.output_upscale) {
    const int d = s.decoder_dims, m = s.mask_dims, k = s.output_upscale;
    // Face: W/8 -> W/4 (4d) -> W/2 (2d) -> W (d), a residual block after the first two; W is
    // the working resolution. With upscale k the last convolution emits 3 k^2 channels and
    // depth-to-space turns them into the k-times larger face.
    nn::Sequential face;
    add_upscale(face, s.inter_dims, d * 4);
    face->push_back(ResidualBlock(d * 4));
    add_upscale(face, d * 4, d * 2);
    face->push_back(ResidualBlock(d * 2));
    add_upscale(face, d * 2, d);
    face->push_back(FastConv2d(d, 3 * k * k, 3, 1, 1));
    face->push_back(nn::Functional(at::sigmoid));
    if (k > 1) face->push_back(nn::PixelShuffle(k));
    face_ = register_module("face", face);

    nn::Sequential mask;
    add_upscale(mask, s.inter_dims, m * 4);
    add_upscale(mask, m * 4, m * 2);
    add_upscale(mask, m * 2, m);
    mask->push_back(FastConv2d(m, 1, 3, 1, 1));
    mask->push_back(nn::Functional(at::sigmoid));
    mask_ = register_module("mask", mask);
}

DecodedFace SwapDecoderImpl::forward(const at::Tensor& code) {
    at::Tensor mask = mask_->forward(code);
    // The mask is smooth: rendered at the working resolution and scaled up.
    if (output_upscale_ > 1)
        mask = at::upsample_bilinear2d(
            mask, {mask.size(2) * output_upscale_, mask.size(3) * output_upscale_}, false);
    return {face_->forward(code), mask};
}

SwapAutoencoder::SwapAutoencoder(const SwapNetShape& shape) : shape_(shape) {
    shape.validate();
    const int e = shape.encoder_dims;
    const int lowest = shape.working_resolution() / 16;
    nn::Sequential encoder;
    add_downscale(encoder, 3, e);
    add_downscale(encoder, e, e * 2);
    add_downscale(encoder, e * 2, e * 4);
    add_downscale(encoder, e * 4, e * 8);
    encoder->push_back(FlattenDense(e * 8 * lowest * lowest, shape.bottleneck_dims));
    encoder_ = register_module("encoder", encoder);

    // The dense code is spread back to a spatial map and upscaled once: shared by both
    // decoders, so both read the same pose/expression layout.
    nn::Sequential inter;
    inter->push_back(nn::Linear(shape.bottleneck_dims, shape.inter_dims * lowest * lowest));
    inter->push_back(nn::Functional([c = shape.inter_dims, lowest](const at::Tensor& x) {
        return x.view({x.size(0), c, lowest, lowest});
    }));
    add_upscale(inter, shape.inter_dims, shape.inter_dims);
    inter_ = register_module("inter", inter);

    decoder_a_ = register_module("decoder_a", SwapDecoder(shape));
    decoder_b_ = register_module("decoder_b", SwapDecoder(shape));
}

at::Tensor SwapAutoencoder::encode(const at::Tensor& faces) {
    const int k = shape_.output_upscale;
    const at::Tensor input = k > 1 ? at::avg_pool2d(faces, {k, k}) : faces;
    return inter_->forward(encoder_->forward(input));
}

std::string initialise_from(SwapAutoencoder& net, const std::string& path) {
    const std::map<std::string, at::Tensor> stored = read_tensors(SwapAutoencoder::kKind, path);
    const int k2 = net.shape().output_upscale * net.shape().output_upscale;
    at::NoGradGuard no_grad;
    int copied = 0, expanded = 0;
    std::vector<std::string> fresh;
    for (auto& item : net.named_parameters()) {
        at::Tensor& target = item.value();
        const auto it = stored.find(item.key());
        if (it == stored.end()) {
            fresh.push_back(item.key());
            continue;
        }
        const at::Tensor& value = it->second;
        if (value.sizes() == target.sizes()) {
            target.copy_(value);
            ++copied;
        } else if (k2 > 1 && value.dim() >= 1 && value.size(0) == 3 && target.size(0) == 3 * k2 &&
                   value.sizes().slice(1) == target.sizes().slice(1)) {
            // Pixel shuffle reads channel c * k^2 + sub-pixel as colour c at that sub-pixel.
            target.copy_(value.repeat_interleave(k2, 0));
            ++expanded;
        } else {
            fresh.push_back(item.key() + " (stored " + shape_string(value.sizes()) + ")");
        }
    }
    // A warm start that leaves most of the net at random is not a warm start but a mistake
    // (another architecture): say so instead of training from a hybrid.
    if (2 * static_cast<size_t>(copied + expanded) < net.parameters().size())
        throw Error(ErrorCode::kInvalidArgument,
                    path + " shares no weights with " + net.shape().describe() + " (only " +
                        std::to_string(copied + expanded) + " of " +
                        std::to_string(net.parameters().size()) +
                        " tensors fit); warm-start from a model of the same widths, or start "
                        "a new model without --init-from");
    std::string line = "initialised from " + path + ": " + std::to_string(copied) +
                       " tensors copied, " + std::to_string(expanded) +
                       " expanded for depth-to-space, " + std::to_string(fresh.size()) + " fresh";
    for (size_t i = 0; i < fresh.size() && i < 4; ++i) line += (i ? ", " : ": ") + fresh[i];
    return line;
}

}  // namespace faceswap::detail
