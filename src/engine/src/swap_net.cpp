#include "swap_net.h"

#include <ATen/Context.h>
#include <ATen/core/grad_mode.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/functional.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pixelshuffle.h>

#include <cstdlib>
#include <sstream>
#include <string>

#include "faceswap/engine.h"
#include "image_ops.h"

namespace faceswap::detail {
namespace {

namespace nn = torch::nn;

// A layer whose arithmetic follows the net's ComputeMode (SwapAutoencoder::set_compute_mode).
struct ComputeModeAware {
    virtual ~ComputeModeAware() = default;
    ComputeMode mode;
};

// nn::Conv2d (same parameters, so model files are unchanged) whose forward goes through
// detail::convolution: oneDNN on CPU at inference, LibTorch's own path when training. In a
// reduced-precision mode the float32 weights are cast per call (the cast is differentiable:
// gradients reach the float32 weights).
class FastConv2dImpl : public nn::Conv2dImpl, public ComputeModeAware {
  public:
    FastConv2dImpl(int in, int out, int kernel, int stride, int padding)
        : nn::Conv2dImpl(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding)),
          stride_(stride),
          padding_(padding) {}
    at::Tensor forward(const at::Tensor& x) {
        if (!mode.reduced() && !mode.channels_last)
            return convolution(x, weight, bias, {stride_, stride_}, {padding_, padding_});
        const auto format =
            mode.channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
        return at::conv2d(x.to(mode.dtype).contiguous(format),
                          weight.to(mode.dtype).contiguous(format), bias.to(mode.dtype),
                          {stride_, stride_}, {padding_, padding_});
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

// The encoder's last layer: the feature map flattened (in N, C, H, W order whatever the
// memory format) to the dense code. Its output is float32 in every compute mode: the code is
// small, and the inter layer's dense weights read it as they are.
class FlattenDenseImpl : public nn::Module, public ComputeModeAware {
  public:
    FlattenDenseImpl(int in_features, int out_features)
        : linear_(register_module("linear", nn::Linear(in_features, out_features))) {}
    at::Tensor forward(const at::Tensor& x) {
        if (mode.reduced())
            return at::linear(x.flatten(1).to(mode.dtype), linear_->weight.to(mode.dtype),
                              linear_->bias.to(mode.dtype))
                .to(at::kFloat);
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

// nn::Linear (same parameters and names) whose arithmetic follows the compute mode: in
// bfloat16 the product runs in oneDNN rather than the system BLAS; output float32.
class ModeLinearImpl : public nn::LinearImpl, public ComputeModeAware {
  public:
    ModeLinearImpl(int in, int out) : nn::LinearImpl(in, out) {}
    at::Tensor forward(const at::Tensor& x) {
        if (!mode.reduced()) return nn::LinearImpl::forward(x);
        return at::linear(x.to(mode.dtype), weight.to(mode.dtype), bias.to(mode.dtype))
            .to(at::kFloat);
    }
};
TORCH_MODULE(ModeLinear);

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
    check(refiner_dims == 0 || (refiner_dims >= 4 && refiner_dims <= 128),
          "refiner dims must be 0 (no detail stage) or 4 to 128");
}

std::string SwapNetShape::describe() const {
    std::ostringstream out;
    out << "df-ae r" << resolution << " e" << encoder_dims << " b" << bottleneck_dims << " i"
        << inter_dims << " d" << decoder_dims << " m" << mask_dims;
    if (output_upscale != 1) out << " u" << output_upscale;
    if (refiner_dims > 0) out << " +detail" << refiner_dims;
    return out.str();
}

std::map<std::string, std::string> SwapNetShape::to_attributes() const {
    return {{"resolution", std::to_string(resolution)},
            {"encoder_dims", std::to_string(encoder_dims)},
            {"bottleneck_dims", std::to_string(bottleneck_dims)},
            {"inter_dims", std::to_string(inter_dims)},
            {"decoder_dims", std::to_string(decoder_dims)},
            {"mask_dims", std::to_string(mask_dims)},
            {"output_upscale", std::to_string(output_upscale)},
            {"refiner_dims", std::to_string(refiner_dims)}};
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
    // Formats 1 and 2 had no detail stage.
    if (attributes.count("refiner_dims"))
        shape.refiner_dims = parse_int(attributes, "refiner_dims", path);
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
    // Float32 contiguous out, whatever the compute mode: losses and merging expect it.
    at::Tensor mask = mask_->forward(code).to(at::kFloat).contiguous();
    // The mask is smooth: rendered at the working resolution and scaled up.
    if (output_upscale_ > 1)
        mask = at::upsample_bilinear2d(
            mask, {mask.size(2) * output_upscale_, mask.size(3) * output_upscale_}, false);
    return {face_->forward(code).to(at::kFloat).contiguous(), mask};
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
    inter->push_back(ModeLinear(shape.bottleneck_dims, shape.inter_dims * lowest * lowest));
    inter->push_back(nn::Functional([c = shape.inter_dims, lowest](const at::Tensor& x) {
        return x.view({x.size(0), c, lowest, lowest});
    }));
    add_upscale(inter, shape.inter_dims, shape.inter_dims);
    inter_ = register_module("inter", inter);

    decoder_a_ = register_module("decoder_a", SwapDecoder(shape));
    decoder_b_ = register_module("decoder_b", SwapDecoder(shape));
    if (shape.refiner_dims > 0) {
        shape_.refiner_dims = 0;
        add_refiners(shape.refiner_dims);
    }
}

void SwapAutoencoder::add_refiners(int dims) {
    if (has_refiners())
        throw Error(ErrorCode::kInvalidArgument, "the model has a detail stage already");
    SwapNetShape shape = shape_;
    shape.refiner_dims = dims;
    shape.validate();
    refiner_a_ = register_module("refiner_a", DetailRefiner(dims));
    refiner_b_ = register_module("refiner_b", DetailRefiner(dims));
    const std::vector<at::Tensor> existing = decoder_a_->parameters();
    if (!existing.empty()) {  // on the device the rest of the net is on
        refiner_a_->to(existing.front().device());
        refiner_b_->to(existing.front().device());
    }
    shape_ = shape;
    set_compute_mode(mode_);
}

std::vector<at::Tensor> SwapAutoencoder::autoencoder_parameters() const {
    std::vector<at::Tensor> out;
    for (const auto& item : named_parameters())
        if (item.key().rfind("refiner_", 0) != 0) out.push_back(item.value());
    return out;
}

std::vector<at::Tensor> SwapAutoencoder::refiner_parameters() const {
    std::vector<at::Tensor> out;
    for (const auto& item : named_parameters())
        if (item.key().rfind("refiner_", 0) == 0) out.push_back(item.value());
    return out;
}

DetailRefinerImpl::DetailRefinerImpl(int dims) {
    nn::Sequential layers;
    layers->push_back(FastConv2d(12, dims, 3, 1, 1));
    layers->push_back(nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2)));
    layers->push_back(ResidualBlock(dims));
    layers->push_back(ResidualBlock(dims));
    FastConv2d out(dims, 12, 3, 1, 1);
    {
        at::NoGradGuard no_grad;
        out->weight.zero_();
        out->bias.zero_();
    }
    layers->push_back(out);
    layers_ = register_module("layers", layers);
}

at::Tensor DetailRefinerImpl::forward(const at::Tensor& faces) {
    at::Tensor folded = at::pixel_unshuffle(faces, 2);
    // On CPU its weights are channels-last at inference (SwapModel::load), as the decoders'.
    if (folded.is_cpu() && !at::GradMode::is_enabled())
        folded = folded.contiguous(at::MemoryFormat::ChannelsLast);
    const at::Tensor residual =
        at::pixel_shuffle(layers_->forward(folded).to(at::kFloat).contiguous(), 2);
    return (faces + residual).clamp(0, 1);
}

at::Tensor SwapAutoencoder::encode(const at::Tensor& faces) {
    const int k = shape_.output_upscale;
    at::Tensor input = k > 1 ? at::avg_pool2d(faces, {k, k}) : faces;
    if (mode_.channels_last) input = input.contiguous(at::MemoryFormat::ChannelsLast);
    return inter_->forward(encoder_->forward(input));
}

void SwapAutoencoder::set_compute_mode(const ComputeMode& mode) {
    mode_ = mode;
    // Not modules() with itself: that needs a shared_ptr to this net, which a net on the stack
    // or one still in its constructor (add_refiners) does not have.
    for (const auto& module : modules(/*include_self=*/false))
        if (auto* layer = dynamic_cast<ComputeModeAware*>(module.get())) layer->mode = mode;
}

std::string ComputeMode::describe() const {
    std::string text = dtype == at::kBFloat16 ? "bfloat16"
                       : dtype == at::kHalf   ? "float16"
                                              : "float32";
    return channels_last ? text + " channels-last" : text;
}

bool cpu_capability_limited() {
    // PyTorch's own switch for the instruction sets its CPU kernels may use: "default",
    // "avx2" (or anything but "avx512") keeps AVX-512, and so its bfloat16, out.
    const char* capability = std::getenv("ATEN_CPU_CAPABILITY");
    return capability && *capability && std::string(capability) != "avx512";
}

bool cpu_has_native_bf16() {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") && !cpu_capability_limited();
#else
    return false;
#endif
}

ComputeMode preferred_training_mode(const c10::Device& device, std::string* why) {
    ComputeMode mode;
    if (device.is_cuda()) {
        mode.dtype = at::kBFloat16;
        if (why) *why = "bfloat16 on the GPU";
        return mode;
    }
    // Channels-last halves a 3x3 convolution's time in oneDNN on this project's CPUs, and
    // bfloat16 halves it again where the CPU multiplies bfloat16 natively (docs/training-speed.md).
    mode.channels_last = true;
    if (cpu_has_native_bf16() && at::hasMKLDNN()) {
        mode.dtype = at::kBFloat16;
        if (why) *why = "bfloat16 channels-last (the CPU has AVX-512 BF16)";
    } else if (why) {
        *why = at::hasMKLDNN() ? "float32 channels-last (this CPU has no native bfloat16)"
                               : "float32 channels-last (this LibTorch has no oneDNN)";
    }
    return mode;
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
