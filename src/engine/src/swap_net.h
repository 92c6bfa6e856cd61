// The swap autoencoder (DeepFaceLab's "DF" layout): one encoder shared by both identities and
// one decoder per identity, each decoding a face (RGB) and a mask. Trained to reconstruct A
// through decoder A and B through decoder B, the shared code learns pose, expression and
// lighting; feeding A's code to decoder B renders B with A's expression. See docs/swap-model.md.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>

#include <map>
#include <string>

#include "faceswap/swap.h"
#include "model_file.h"

namespace faceswap::detail {

// Every size that shapes the tensors; stored in the model file so it is rebuilt exactly.
struct SwapNetShape {
    int resolution = 128;  // face size the model renders (and its training crops' size)
    // 1: the decoders work at `resolution` (format 1's only layout). 2: the encoder reads the
    // crop downscaled by 2 and the decoders work at resolution / 2; the face's last convolution
    // emits 4x the channels, rearranged by depth-to-space into the full-resolution face
    // (DeepFaceLab's "-d"), so the face is rendered at twice the size for a small extra cost.
    int output_upscale = 1;
    int encoder_dims = 32;      // channels of the first of four stride-2 convolutions (then x2)
    int bottleneck_dims = 256;  // width of the dense code every face passes through
    int inter_dims = 128;       // channels of the shared code's spatial map at resolution / 8
    int decoder_dims = 24;      // channels at full resolution (x2 at 1/2, x4 at 1/4)
    int mask_dims = 8;          // the same for the (cheaper) mask branch
    // The detail stage (DetailRefiner, one per identity): channels of its convolutions, 0 for
    // a model without one (every file before format 3).
    int refiner_dims = 0;

    int working_resolution() const { return resolution / output_upscale; }  // encoder input
    void validate() const;         // throws Error(kInvalidArgument) naming the field
    std::string describe() const;  // "df-ae r128 e32 b256 i128 d24 m8", "... u2" when upscaled
    std::map<std::string, std::string> to_attributes() const;
    // Throws Error(kModelCorrupt) naming path when an attribute is missing or malformed.
    static SwapNetShape from_attributes(const std::map<std::string, std::string>& attributes,
                                        const std::string& path);
};

// What a swap model file's metadata says (resolution, coverage, identities, steps, loss).
// Throws Error(kModelCorrupt) naming path when the metadata is damaged.
SwapModelInfo swap_model_info(const ModelMetadata& metadata, const SwapNetShape& shape,
                              const std::string& path);

// The arithmetic a net's convolutions and dense layers run in. Weights stay float32 (the
// optimiser's master copy and what model files hold); a reduced precision casts them per call,
// and the cast is differentiable, so gradients arrive in float32 (mixed precision, as autocast
// does, without LibTorch's autocast API, which differs between 1.13 and 2.x).
struct ComputeMode {
    at::ScalarType dtype = at::kFloat;  // kFloat, or kBFloat16 (CPUs with AVX-512 BF16, GPUs)
    bool channels_last = false;         // NHWC activations: oneDNN's fast layout on CPU
    bool reduced() const { return dtype != at::kFloat; }
    std::string describe() const;  // "float32", "bfloat16 channels-last", ...
};

// bfloat16 where the CPU computes it natively (AVX-512 BF16 or AMX), else float32; on CUDA
// bfloat16. Channels-last on CPU. `why` (may be null) gets a line saying what was chosen and
// why, for the log.
ComputeMode preferred_training_mode(const c10::Device& device, std::string* why = nullptr);
// AVX-512 BF16, unless ATEN_CPU_CAPABILITY limits the CPU kernels below AVX-512.
bool cpu_has_native_bf16();
bool cpu_capability_limited();  // ATEN_CPU_CAPABILITY is set to something other than avx512

struct DecodedFace {
    at::Tensor rgb;   // [N, 3, R, R] in 0..1
    at::Tensor mask;  // [N, 1, R, R] in 0..1
};

class SwapDecoderImpl : public torch::nn::Module {
  public:
    explicit SwapDecoderImpl(const SwapNetShape& shape);
    DecodedFace forward(const at::Tensor& code);

  private:
    int output_upscale_ = 1;
    torch::nn::Sequential face_{nullptr};
    torch::nn::Sequential mask_{nullptr};
};
TORCH_MODULE(SwapDecoder);

// The detail stage: a small fully-convolutional net per identity, trained on pairs (that
// identity's decoder rendering of its own faces, the real faces), that turns the decoder's soft
// painting into the person's own eyelids, teeth, lip lines and skin. It sees the face folded
// 2x2 into channels (space-to-depth), so its six 3x3 convolutions run at half the resolution
// (a 26 px window at full size for a fifth of a decoder's cost at 24 channels), and it adds a
// residual: its last convolution starts at zero, so a fresh refiner changes nothing.
class DetailRefinerImpl : public torch::nn::Module {
  public:
    explicit DetailRefinerImpl(int dims);
    // [N, 3, R, R] in 0..1 -> the refined faces, same shape, float32.
    at::Tensor forward(const at::Tensor& faces);

  private:
    torch::nn::Sequential layers_{nullptr};
};
TORCH_MODULE(DetailRefiner);

class SwapAutoencoder : public torch::nn::Module {
  public:
    static constexpr const char* kKind = "swap_autoencoder";
    explicit SwapAutoencoder(const SwapNetShape& shape);

    // faces: [N, 3, R, R] in 0..1 -> the shared code [N, inter_dims, W/8, W/8], W the
    // working resolution (R, or R/2 with output_upscale 2: the faces are averaged down first).
    at::Tensor encode(const at::Tensor& faces);
    DecodedFace decode_a(const at::Tensor& code) { return decoder_a_->forward(code); }
    DecodedFace decode_b(const at::Tensor& code) { return decoder_b_->forward(code); }

    // The detail stage of identity A or B (requires has_refiners()).
    bool has_refiners() const { return shape_.refiner_dims > 0; }
    at::Tensor refine_a(const at::Tensor& faces) { return refiner_a_->forward(faces); }
    at::Tensor refine_b(const at::Tensor& faces) { return refiner_b_->forward(faces); }
    // Gives a model without a detail stage a fresh one (changing nothing until trained); the
    // shape then records refiner_dims.
    void add_refiners(int dims);
    // The autoencoder's own parameters (encoder, inter, decoders) and the refiners', trained by
    // separate optimisers: a refiner added to a trained model leaves the autoencoder's
    // optimiser state valid.
    std::vector<at::Tensor> autoencoder_parameters() const;
    std::vector<at::Tensor> refiner_parameters() const;

    const SwapNetShape& shape() const { return shape_; }

    // Every convolution and dense layer of the net computes in `mode` from the next call on;
    // decode's outputs and encode's code are float32 whatever the mode.
    void set_compute_mode(const ComputeMode& mode);
    const ComputeMode& compute_mode() const { return mode_; }

  private:
    SwapNetShape shape_;
    ComputeMode mode_;
    torch::nn::Sequential encoder_{nullptr};
    torch::nn::Sequential inter_{nullptr};
    SwapDecoder decoder_a_{nullptr};
    SwapDecoder decoder_b_{nullptr};
    DetailRefiner refiner_a_{nullptr};
    DetailRefiner refiner_b_{nullptr};
};

// Warm start: copies every tensor of the model file at `path` whose name and shape match into
// `net`; the face decoders' last convolution of a format-1 model (3 output channels) is
// replicated into an upscaling model's 12 (each sub-pixel starts as its pixel: the old face,
// upsampled by nearest neighbour). Returns a line saying what was copied and what was left
// at its fresh initialisation. Throws Error when the file is not a swap model.
std::string initialise_from(SwapAutoencoder& net, const std::string& path);

}  // namespace faceswap::detail
