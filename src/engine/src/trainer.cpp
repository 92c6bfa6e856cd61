// The swap autoencoder's training loop: augmentation, losses, Adam, checkpoints, preview.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <ATen/core/grad_mode.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/optim/adam.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <optional>
#include <sstream>

#include "device.h"
#include "faceswap/train.h"
#include "model_file.h"
#include "swap_merge.h"
#include "swap_net.h"

namespace faceswap {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kCheckpointSuffix = ".train";

// "2026-12-04T03:55:43Z": when a model is first made.
std::string utc_now_iso8601() {
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return text;
}
constexpr const char* kCheckpointMagic = "faceswap-train-checkpoint";

// One identity's faces and masks, resident on the training device.
struct DeviceFaceSet {
    std::string name;
    std::string sources;      // FaceSet::sources
    at::Tensor images;        // [N, 3, S, S] uint8
    at::Tensor masks;         // [N, 3, S, S] uint8 0..255: face hull, eyes and mouth, loss region
    at::Tensor landmarks;     // [N, 68, 2] float, crop pixels (CPU): where detail patches centre
    at::Tensor draw_weights;  // [N] float (CPU), sums to 1: expression-balanced sampling
    int64_t count() const { return images.size(0); }
};

struct Batch {
    at::Tensor input;     // augmented and warped, 0..1
    at::Tensor target;    // augmented, not warped
    at::Tensor hull;      // [B, 1, S, S]
    at::Tensor emphasis;  // eyes and mouth
    at::Tensor region;    // where the reconstruction counts: the hull grown and feathered
};

// How often each face is drawn (TrainConfig::expression_balance): the uniform 1/N mixed with
// half the draws spread evenly over bands of eye opening and half over bands of mouth opening.
at::Tensor expression_draw_weights(const FaceSet& set, float balance) {
    const int64_t n = set.count();
    std::vector<double> weights(n, (1.0 - balance) / n);
    if (balance <= 0) return at::tensor(std::vector<float>(weights.begin(), weights.end()));
    constexpr std::array<double, 4> kBandEdges = {0.05, 0.25, 0.75, 0.95};  // percentiles
    for (auto measure : {&eye_opening, &mouth_opening}) {
        std::vector<std::pair<double, int64_t>> ranked;
        for (int64_t i = 0; i < n; ++i) {
            const double v = measure(set.landmarks[i]);
            ranked.emplace_back(std::isnan(v) ? 0.0 : v, i);
        }
        std::sort(ranked.begin(), ranked.end());
        std::vector<int> band(n);
        std::array<int64_t, kBandEdges.size() + 1> members{};
        for (int64_t r = 0; r < n; ++r) {
            const double percentile = (r + 0.5) / n;
            const int b = static_cast<int>(
                std::upper_bound(kBandEdges.begin(), kBandEdges.end(), percentile) -
                kBandEdges.begin());
            band[ranked[r].second] = b;
            ++members[b];
        }
        const double bands =
            std::count_if(members.begin(), members.end(), [](int64_t m) { return m > 0; });
        for (int64_t i = 0; i < n; ++i)
            weights[i] += balance * 0.5 / (bands * static_cast<double>(members[band[i]]));
    }
    return at::tensor(std::vector<float>(weights.begin(), weights.end()));
}

DeviceFaceSet upload_set(const FaceSet& set, const c10::Device& device, float expression_balance) {
    const int64_t n = set.count(), s = set.size;
    at::Tensor images =
        at::from_blob(const_cast<std::uint8_t*>(set.rgb.data()), {n, s, s, 3}, at::kByte)
            .permute({0, 3, 1, 2})
            .contiguous();
    // Masks are made in chunks so a large set never needs a float copy of all of them. The
    // loss region (the hull grown by S/32 and feathered) is made here once rather than per
    // step: warping the feathered mask is, to a pixel, feathering the warped one.
    std::vector<at::Tensor> chunks;
    for (int64_t first = 0; first < n; first += 256) {
        const std::vector<Landmarks68> part(set.landmarks.begin() + first,
                                            set.landmarks.begin() + std::min(n, first + 256));
        const at::Tensor hull = detail::face_hull_masks(part, s, at::kCPU);
        const at::Tensor region =
            detail::erode_and_feather(hull, -static_cast<int>(s) / 32, static_cast<int>(s) / 32);
        chunks.push_back(at::cat({hull, detail::eyes_mouth_masks(part, s, at::kCPU), region}, 1)
                             .mul(255)
                             .round()
                             .to(at::kByte));
    }
    at::Tensor landmarks = at::empty({n, 68, 2}, at::kFloat);
    auto points = landmarks.accessor<float, 3>();
    for (int64_t i = 0; i < n; ++i)
        for (int k = 0; k < 68; ++k) {
            points[i][k][0] = set.landmarks[i][k].x;
            points[i][k][1] = set.landmarks[i][k].y;
        }
    return {set.name,          set.sources,
            images.to(device), at::cat(chunks, 0).to(device),
            landmarks,         expression_draw_weights(set, expression_balance)};
}

void check_sets(const FaceSet& a, const FaceSet& b, int resolution, float coverage) {
    for (const FaceSet* set : {&a, &b}) {
        const std::string label = "face set '" + set->name + "'";
        if (set->count() < kMinFacesPerSet)
            throw Error(ErrorCode::kInvalidArgument,
                        label + " has " + std::to_string(set->count()) + " faces; at least " +
                            std::to_string(kMinFacesPerSet) +
                            " are needed (a few hundred from varied frames train far better)");
        if (set->size != resolution)
            throw Error(ErrorCode::kInvalidArgument, label + " holds " + std::to_string(set->size) +
                                                         " px faces but the model "
                                                         "works at " +
                                                         std::to_string(resolution) +
                                                         " px; extract with --size " +
                                                         std::to_string(resolution));
        if (std::abs(set->coverage - coverage) > 1e-3f)
            throw Error(ErrorCode::kInvalidArgument,
                        label + " was extracted with coverage " + std::to_string(set->coverage) +
                            " but the model uses " + std::to_string(coverage) +
                            "; extract both sets with the same --coverage");
        if (set->rgb.size() != static_cast<size_t>(set->count()) * set->size * set->size * 3)
            throw Error(ErrorCode::kInvalidArgument, label + " pixel data has the wrong size");
    }
}

// Mean structural dissimilarity (1 - SSIM) / 2 with an 11-tap Gaussian window (sigma 1.5).
// The five local moments are blurred in one call, as two 1-D passes on a channels-last tensor:
// the same window at a tenth of the cost of five 11x11 depthwise convolutions.
at::Tensor dssim(const at::Tensor& x, const at::Tensor& y) {
    const int64_t c = x.size(1);
    at::Tensor g = at::exp(-at::pow(at::arange(-5, 6, x.options()), 2) / (2 * 1.5 * 1.5));
    g = g / g.sum();
    const at::Tensor gx = g.view({1, 1, 1, 11}).expand({5 * c, 1, 1, 11}).contiguous();
    const at::Tensor gy = g.view({1, 1, 11, 1}).expand({5 * c, 1, 11, 1}).contiguous();
    const at::Tensor moments =
        at::cat({x, y, x * x, y * y, x * y}, 1).contiguous(at::MemoryFormat::ChannelsLast);
    const at::Tensor blurred = detail::depthwise_conv2d(detail::depthwise_conv2d(moments, gx), gy);
    const at::Tensor mx = blurred.narrow(1, 0, c), my = blurred.narrow(1, c, c);
    const at::Tensor sxx = blurred.narrow(1, 2 * c, c) - mx * mx;
    const at::Tensor syy = blurred.narrow(1, 3 * c, c) - my * my;
    const at::Tensor sxy = blurred.narrow(1, 4 * c, c) - mx * my;
    constexpr double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
    const at::Tensor ssim =
        ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2));
    return (1 - ssim.mean()) / 2;
}

// L1 between the Laplacians of x and y at full, half and quarter size: edges of every width.
// Coarser levels are scaled by their size step so each level's edges weigh alike.
at::Tensor laplacian_pyramid_l1(const at::Tensor& x, const at::Tensor& y, int levels) {
    // The Laplacian is linear: the Laplacian of the difference is the difference of Laplacians.
    at::Tensor difference = x - y;
    at::Tensor sum = detail::laplacian(difference).abs().mean();
    for (int level = 1; level < levels; ++level) {
        difference = at::avg_pool2d(difference, {2, 2});
        sum = sum + detail::laplacian(difference).abs().mean() / (1 << level);
    }
    return sum / levels;
}

// A patch discriminator (pix2pix's PatchGAN, at DeepFaceLab's default width of 16): three
// stride-2 convolutions and two 3x3 ones give one logit per 8x8 block, each judging a window
// of 54 px (an eye, a mouth corner at 256 px) as real or rendered. It reads the face and its
// Laplacian: a formed model's faces differ from real ones in fine detail only, which a small
// net fed RGB alone did not find (on the 256 px demo model its loss stayed at 1.386 for 60
// steps; with the Laplacian beside it, 1.24 after the same 60). Training-only: it lives in the
// .train checkpoint, never in the model file.
class PatchDiscriminatorImpl : public torch::nn::Module {
  public:
    static constexpr int kDims = 16;
    PatchDiscriminatorImpl() {
        namespace nn = torch::nn;
        auto conv = [](int in, int out, int kernel, int stride) {
            return nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(1));
        };
        auto leaky = [] { return nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2)); };
        layers_ = register_module(
            "layers",
            nn::Sequential(conv(6, kDims, 4, 2), leaky(), conv(kDims, 2 * kDims, 4, 2), leaky(),
                           conv(2 * kDims, 4 * kDims, 4, 2), leaky(),
                           conv(4 * kDims, 4 * kDims, 3, 1), leaky(), conv(4 * kDims, 1, 3, 1)));
    }
    at::Tensor forward(const at::Tensor& faces) {
        // x4: the Laplacian of a 0..1 face is mostly within +-0.25.
        const at::Tensor detail = 4 * detail::laplacian(at::reflection_pad2d(faces, {1, 1, 1, 1}));
        return layers_->forward(at::cat({faces, detail}, 1).contiguous());
    }

  private:
    torch::nn::Sequential layers_{nullptr};
};
TORCH_MODULE(PatchDiscriminator);

// Binary cross-entropy of logits against an all-real (1) or all-rendered (0) label.
at::Tensor patch_bce(const at::Tensor& logits, bool real) {
    return at::binary_cross_entropy_with_logits(
        logits, real ? at::ones_like(logits) : at::zeros_like(logits));
}

// The generator's adversarial term: the non-saturating BCE(D(rendered), real), flowing through
// the discriminator without training it.
at::Tensor fooling_loss(PatchDiscriminator& discriminator, const at::Tensor& rendered) {
    for (auto& p : discriminator->parameters()) p.set_requires_grad(false);
    const at::Tensor fooled = patch_bce(discriminator->forward(rendered), true);
    for (auto& p : discriminator->parameters()) p.set_requires_grad(true);
    return fooled;
}

// One discriminator step on this step's rendered faces (detached) and real ones, in one batch;
// returns its loss.
double train_discriminator(PatchDiscriminator& discriminator, torch::optim::Adam& optimizer,
                           const at::Tensor& rendered, const at::Tensor& real) {
    const at::Tensor logits = discriminator->forward(at::cat({rendered.detach(), real}, 0));
    const int64_t half = rendered.size(0);
    const at::Tensor loss = patch_bce(logits.narrow(0, 0, half), false) +
                            patch_bce(logits.narrow(0, half, logits.size(0) - half), true);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    return loss.item<double>();
}

// A step whose loss is not finite stops the run before it writes NaN into the weights.
void refuse_divergence(double total, std::int64_t step, const std::string& what) {
    if (!std::isfinite(total))
        throw Error(ErrorCode::kInternal,
                    what + " diverged (loss is not finite) at step " + std::to_string(step) +
                        "; resume from the last checkpoint with a lower --lr");
}

// Where a step's time goes: each lap() charges the time since the last one to a TrainLosses field.
struct StepClock {
    Clock::time_point mark = Clock::now();
    void lap(double& into) {
        const auto now = Clock::now();
        into = std::chrono::duration<double, std::milli>(now - mark).count();
        mark = now;
    }
};

double uniform(at::Generator& gen, double lo, double hi) {
    return at::empty({1}, at::kDouble).uniform_(lo, hi, gen).item<double>();
}

}  // namespace

void TrainConfig::validate() const {
    auto check = [](bool ok, const std::string& message) {
        if (!ok) throw Error(ErrorCode::kInvalidArgument, "invalid training setting: " + message);
    };
    check(batch_size >= 1 && batch_size <= 512, "batch size must be 1 to 512");
    check(learning_rate > 0 && learning_rate < 1, "learning rate must be in (0, 1)");
    check(warp_amount >= 0 && warp_amount <= 4, "warp amount must be 0 to 4");
    check(color_jitter >= 0 && color_jitter <= 0.5f, "colour jitter must be 0 to 0.5");
    check(eyes_mouth_weight >= 0 && eyes_mouth_weight <= 1000,
          "the eyes-and-mouth weight must be 0 to 1000");
    check(expression_balance >= 0 && expression_balance <= 1,
          "the expression balance must be 0 to 1");
    check(cpu_threads >= 0, "cpu threads must be >= 0");
    check(output_upscale == 1 || output_upscale == 2, "output upscale must be 1 or 2");
    check(refine.dims >= 4 && refine.dims <= 128, "detail stage dims must be 4 to 128");
    check(refine.patch == 0 || (refine.patch >= 16 && refine.patch <= 512 && refine.patch % 2 == 0),
          "detail stage patch must be an even 16 to 512 px (0: automatic)");
    check(refine.patches >= 1 && refine.patches <= 256, "detail stage patches must be 1 to 256");
    check(refine.gan_weight >= 0 && refine.gan_weight <= 10,
          "detail stage GAN weight must be 0 to 10");
    check(refine.max_blur >= 0 && refine.max_blur <= 4, "detail stage blur must be 0 to 4 px");
}

double parse_duration_seconds(const std::string& text) {
    double total = 0;
    size_t i = 0;
    bool any = false;
    while (i < text.size()) {
        size_t used = 0;
        double value = 0;
        try {
            value = std::stod(text.substr(i), &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || value < 0) break;
        i += used;
        double unit = 1;
        if (i < text.size()) {
            const char c = text[i];
            if (c == 'h')
                unit = 3600, ++i;
            else if (c == 'm')
                unit = 60, ++i;
            else if (c == 's')
                unit = 1, ++i;
            else
                break;
        }
        total += value * unit;
        any = true;
    }
    if (!any || i != text.size() || total <= 0)
        throw Error(ErrorCode::kInvalidArgument,
                    "'" + text + "' is not a duration such as 45m, 2h30m, 1.5h or 3600");
    return total;
}

TrainSchedule TrainSchedule::sharpening(double warp_until, float warp_amount, float lr_dropout,
                                        double gan_from, float gan_weight, double refine_from) {
    TrainSchedule schedule;
    TrainPhase warp;
    warp.name = "warp";
    warp.warp_amount = warp_amount;
    schedule.phases.push_back(warp);
    schedule.starts.push_back(0.0);
    if (warp_until < 1.0) {
        // Without warp the net sees the true input and learns its fine detail; dropping most
        // weight updates at random keeps it from overfitting the last few batches meanwhile.
        TrainPhase sharpen;
        sharpen.name = "sharpen";
        sharpen.warp_amount = 0.0f;
        sharpen.lr_dropout = lr_dropout;
        schedule.phases.push_back(sharpen);
        schedule.starts.push_back(std::max(0.0, warp_until));
    }
    if (gan_from < 1.0) {
        if (gan_from < warp_until)
            throw Error(ErrorCode::kInvalidArgument,
                        "invalid training schedule: the GAN phase cannot start while the "
                        "input is still warped (--gan-from below --warp-until)");
        if (!(gan_weight > 0))
            throw Error(ErrorCode::kInvalidArgument,
                        "invalid training schedule: a GAN phase needs a positive weight");
        TrainPhase gan;
        gan.name = "gan";
        gan.warp_amount = 0.0f;
        gan.lr_dropout = lr_dropout;
        gan.gan_weight = gan_weight;
        schedule.phases.push_back(gan);
        schedule.starts.push_back(gan_from);
    }
    if (refine_from < 1.0) {
        // The detail stage trains last, on the autoencoder as it stands: phases that would
        // start at or after it are cut (refine_from 0: a finished model's refine run).
        while (!schedule.starts.empty() && schedule.starts.back() >= refine_from) {
            schedule.starts.pop_back();
            schedule.phases.pop_back();
        }
        TrainPhase refine;
        refine.name = "refine";
        refine.warp_amount = 0.0f;
        refine.refine = true;
        schedule.phases.push_back(refine);
        schedule.starts.push_back(std::max(0.0, refine_from));
    }
    schedule.validate();
    return schedule;
}

TrainSchedule TrainSchedule::constant(float warp_amount) {
    return sharpening(1.0, warp_amount);
}

const TrainPhase& TrainSchedule::at(double progress) const {
    size_t i = 0;
    while (i + 1 < phases.size() && progress >= starts[i + 1]) ++i;
    return phases[i];
}

void TrainSchedule::validate() const {
    auto check = [](bool ok, const std::string& message) {
        if (!ok) throw Error(ErrorCode::kInvalidArgument, "invalid training schedule: " + message);
    };
    check(!phases.empty() && phases.size() == starts.size(), "one start per phase");
    check(starts[0] == 0.0, "the first phase starts at 0");
    for (size_t i = 0; i < phases.size(); ++i) {
        check(i == 0 || starts[i] >= starts[i - 1], "phases start in order");
        check(phases[i].warp_amount >= 0 && phases[i].warp_amount <= 4, "warp must be 0 to 4");
        check(phases[i].lr_dropout > 0 && phases[i].lr_dropout <= 1,
              "learning-rate dropout must be in (0, 1]");
        check(phases[i].learning_rate_scale > 0, "learning-rate scale must be positive");
        check(phases[i].gan_weight >= 0 && phases[i].gan_weight <= 10,
              "GAN weight must be 0 to 10");
    }
}

TrainPrecision parse_train_precision(const std::string& text) {
    if (text == "auto") return TrainPrecision::kAuto;
    if (text == "fp32" || text == "float32") return TrainPrecision::kFloat32;
    if (text == "fp32-cl") return TrainPrecision::kFloat32ChannelsLast;
    if (text == "bf16" || text == "bfloat16") return TrainPrecision::kBFloat16;
    if (text == "bf16-nchw") return TrainPrecision::kBFloat16Nchw;
    throw Error(ErrorCode::kInvalidArgument,
                "'" + text +
                    "' is not a training precision; use auto, fp32, bf16 (or, to measure them "
                    "apart, fp32-cl and bf16-nchw)");
}

struct Trainer::Impl {
    TrainConfig config;
    std::string precision_note;
    c10::Device device{c10::kCPU};
    std::shared_ptr<detail::SwapAutoencoder> net;
    std::unique_ptr<torch::optim::Adam> optimizer;
    // Made when the first GAN phase begins (or restored from the checkpoint).
    PatchDiscriminator discriminator{nullptr};
    std::unique_ptr<torch::optim::Adam> discriminator_optimizer;
    // The detail stage's training: its optimiser, its own discriminator (a refined patch is a
    // different thing to judge than a rendered face) and each identity's renderings of its own
    // faces, made when the refine phase begins (the autoencoder is frozen meanwhile).
    std::unique_ptr<torch::optim::Adam> refiner_optimizer;
    PatchDiscriminator refine_discriminator{nullptr};
    std::unique_ptr<torch::optim::Adam> refine_discriminator_optimizer;
    at::Tensor rendered_a, rendered_b;  // [N, 3, S, S] uint8; undefined: to be made
    std::string refiner_note;
    DeviceFaceSet a, b;
    float coverage = 0;
    int64_t step = 0;
    double last_loss = 0;
    std::string created;  // when the model was first made (UTC, ISO 8601), kept on resume
    TrainPhase phase;
    std::string initialisation_note;

    // Adam as DCGAN and DeepFaceLab set it up (beta1 0.5), for the net and the discriminator.
    static std::unique_ptr<torch::optim::Adam> adam(const std::vector<at::Tensor>& parameters,
                                                    double learning_rate) {
        return std::make_unique<torch::optim::Adam>(
            parameters, torch::optim::AdamOptions(learning_rate).betas({0.5, 0.999}));
    }
    void make_optimizer() { optimizer = adam(net->autoencoder_parameters(), config.learning_rate); }
    // The refine phase's set-up: a detail stage for a model without one, its optimiser and
    // discriminator (unless restored from the checkpoint).
    void prepare_refiners() {
        const int64_t size = a.images.size(2);
        if (config.refine.patch == 0)
            config.refine.patch = static_cast<int>(std::min<int64_t>(96, size));
        if (config.refine.patch > size || config.refine.patch < 16)
            throw Error(ErrorCode::kInvalidArgument,
                        "detail stage patches of " + std::to_string(config.refine.patch) +
                            " px do not fit faces of " + std::to_string(size) +
                            " px; give --refine-patch 16 to " + std::to_string(size) + " (" +
                            std::to_string(size) + " px or less)");
        if (!net->has_refiners()) {
            net->add_refiners(config.refine.dims);
            refiner_note =
                "a new detail stage of " + std::to_string(config.refine.dims) + " channels";
        } else if (refiner_note.empty()) {
            refiner_note = "the model's detail stage of " +
                           std::to_string(net->shape().refiner_dims) + " channels";
        }
        if (!refiner_optimizer)
            refiner_optimizer = adam(net->refiner_parameters(), config.learning_rate);
        if (config.refine.gan_weight > 0 && !refine_discriminator)
            make_discriminator(refine_discriminator, refine_discriminator_optimizer);
    }
    at::Tensor render_set(const DeviceFaceSet& set, bool identity_a);
    TrainLosses refine_step(at::Generator& gen);
    TrainLosses autoencoder_step(at::Generator& gen);
    // The net's arithmetic from config.precision (after it is on its device).
    void choose_compute_mode() {
        std::string why;
        detail::ComputeMode mode = detail::preferred_training_mode(device, &why);
        const TrainPrecision asked = config.precision;
        if (asked != TrainPrecision::kAuto) {
            const bool bf16 =
                asked == TrainPrecision::kBFloat16 || asked == TrainPrecision::kBFloat16Nchw;
            const bool native = mode.reduced();
            mode.dtype = bf16 ? at::kBFloat16 : at::kFloat;
            mode.channels_last =
                device.is_cpu() && (asked == TrainPrecision::kFloat32ChannelsLast ||
                                    asked == TrainPrecision::kBFloat16);
            why = mode.describe() + " (asked for" +
                  (bf16 && !native
                       ? "; this CPU has no native bfloat16, so it may be slower than float32)"
                       : ")");
        }
        net->set_compute_mode(mode);
        precision_note = why;
    }
    // The discriminator learns at a multiple of the generator's rate (the two time-scale
    // rule of Heusel et al.): at the same rate it trails a formed generator for hundreds of
    // steps, judging every patch a coin toss, and the GAN phase does nothing meanwhile.
    // On 64 px faces of a formed tiny model, 300 GAN steps took the discriminator's loss from
    // 1.386 to 1.10 at 1x and to 0.77 at 4x.
    double discriminator_learning_rate() const { return 4 * config.learning_rate; }
    // A fresh discriminator (the GAN phase's or the detail stage's) and its optimiser.
    void make_discriminator(PatchDiscriminator& made, std::unique_ptr<torch::optim::Adam>& its) {
        made = PatchDiscriminator();
        made->to(device);
        its = adam(made->parameters(), discriminator_learning_rate());
    }
    // The same, restored from a checkpoint's `name` and `name`_optimizer when both are there.
    void restore_discriminator(torch::serialize::InputArchive& archive, const std::string& name,
                               PatchDiscriminator& made, std::unique_ptr<torch::optim::Adam>& its) {
        torch::serialize::InputArchive weights, state;
        if (!archive.try_read(name, weights) || !archive.try_read(name + "_optimizer", state))
            return;
        make_discriminator(made, its);
        made->load(weights);
        made->to(device);
        its->load(state);
    }
    Batch sample(const DeviceFaceSet& set, at::Generator& gen) const;
    at::Tensor face_loss(const detail::DecodedFace& out, const Batch& batch, double* face,
                         double* mask) const;
    detail::ModelMetadata metadata() const;
};

Batch Trainer::Impl::sample(const DeviceFaceSet& set, at::Generator& gen) const {
    const int64_t n = config.batch_size, size = set.images.size(2);
    const at::Tensor index =
        (config.expression_balance > 0 ? at::multinomial(set.draw_weights, n, true, gen)
                                       : at::randint(set.count(), {n}, gen, at::kLong))
            .to(device);
    const at::Tensor images = set.images.index_select(0, index).to(at::kFloat).div_(255);
    const at::Tensor masks = set.masks.index_select(0, index).to(at::kFloat).div_(255);

    // The same random similarity (and flip) for input, target and masks: pose variety.
    at::Tensor theta = at::empty({n, 2, 3}, at::kFloat);
    auto t = theta.accessor<float, 3>();
    for (int64_t i = 0; i < n; ++i) {
        const double angle = uniform(gen, -10, 10) * M_PI / 180, scale = uniform(gen, 0.95, 1.05);
        const double flip = config.random_flip && uniform(gen, 0, 1) < 0.5 ? -1 : 1;
        t[i][0][0] = scale * std::cos(angle) * flip;
        t[i][0][1] = -scale * std::sin(angle);
        t[i][0][2] = uniform(gen, -0.05, 0.05);
        t[i][1][0] = scale * std::sin(angle) * flip;
        t[i][1][1] = scale * std::cos(angle);
        t[i][1][2] = uniform(gen, -0.05, 0.05);
    }
    const at::Tensor grid = at::affine_grid_generator(theta.to(device), {n, 3, size, size}, false);
    Batch batch;
    batch.target = at::grid_sampler(images, grid, 0, /*border*/ 1, false);
    const at::Tensor warped_masks = at::grid_sampler(masks, grid, 0, /*zeros*/ 0, false);
    batch.hull = warped_masks.narrow(1, 0, 1);
    batch.emphasis = warped_masks.narrow(1, 1, 1);
    batch.region = warped_masks.narrow(1, 2, 1);

    // A smooth random displacement of the input only: the net must rebuild a face from a
    // distorted one, so it learns faces rather than copying pixels (DeepFaceLab's random warp).
    if (phase.warp_amount > 0) {
        const at::Tensor coarse =
            (at::randn({n, 2, 5, 5}, gen, at::kFloat) * (0.03 * phase.warp_amount)).to(device);
        const at::Tensor offsets =
            at::upsample_bicubic2d(coarse, {size, size}, false).permute({0, 2, 3, 1});
        batch.input = at::grid_sampler(images, grid + offsets, 0, 1, false);
    } else {
        batch.input = batch.target.clone();
    }

    // Colour jitter applied identically to input and target: colours come from the input.
    if (config.color_jitter > 0) {
        const double j = config.color_jitter;
        const at::Tensor brightness = at::empty({n, 1, 1, 1}).uniform_(-j, j, gen).to(device);
        const at::Tensor contrast =
            at::empty({n, 1, 1, 1}).uniform_(1 - 2 * j, 1 + 2 * j, gen).to(device);
        const at::Tensor saturation =
            at::empty({n, 1, 1, 1}).uniform_(1 - 3 * j, 1 + 3 * j, gen).to(device);
        auto jitter = [&](const at::Tensor& x) {
            const at::Tensor grey = x.mean(1, true);
            const at::Tensor mean = grey.mean({2, 3}, true);
            at::Tensor y = grey + (x - grey) * saturation;
            return ((y - mean) * contrast + mean + brightness).clamp(0, 1);
        };
        batch.input = jitter(batch.input);
        batch.target = jitter(batch.target);
    }
    return batch;
}

at::Tensor Trainer::Impl::face_loss(const detail::DecodedFace& out, const Batch& batch,
                                    double* face, double* mask) const {
    // The loss region: the landmark hull grown and softened, so the jaw line and a little
    // background around it are learned too.
    const at::Tensor& region = batch.region;
    const at::Tensor predicted = out.rgb * region, target = batch.target * region;
    // Eyes and mouth carry expression and identity: weigh them more.
    const at::Tensor emphasis =
        config.eyes_mouth_weight * ((out.rgb - batch.target).abs() * batch.emphasis).mean();
    at::Tensor reconstruction;
    if (config.loss == TrainLoss::kClassic) {
        reconstruction = 10 * dssim(predicted, target) + 10 * (predicted - target).abs().mean() +
                         // The difference of Laplacians keeps fine detail, where L1 and SSIM
                         // alone settle for a blur.
                         5 * detail::laplacian(predicted - target).abs().mean() + emphasis;
    } else {
        // Structure at two window sizes (11 px and, on the half-size face, 22 px), edges at
        // three scales: fine detail and the larger shapes (lip lines, eyelids) both count.
        const at::Tensor half_p = at::avg_pool2d(predicted, {2, 2});
        const at::Tensor half_t = at::avg_pool2d(target, {2, 2});
        reconstruction = 5 * dssim(predicted, target) + 5 * dssim(half_p, half_t) +
                         10 * (predicted - target).abs().mean() +
                         10 * laplacian_pyramid_l1(predicted, target, 3) + emphasis;
    }
    const at::Tensor mask_loss = 10 * (out.mask - batch.hull).pow(2).mean();
    *face = reconstruction.item<double>();
    *mask = mask_loss.item<double>();
    return reconstruction + mask_loss;
}

at::Tensor Trainer::Impl::render_set(const DeviceFaceSet& set, bool identity_a) {
    at::NoGradGuard no_grad;
    std::vector<at::Tensor> parts;
    for (int64_t first = 0; first < set.count(); first += 16) {
        const at::Tensor faces =
            set.images.narrow(0, first, std::min<int64_t>(16, set.count() - first))
                .to(at::kFloat)
                .div(255);
        const at::Tensor code = net->encode(faces);
        const at::Tensor rgb = identity_a ? net->decode_a(code).rgb : net->decode_b(code).rgb;
        parts.push_back(rgb.mul(255).round().clamp(0, 255).to(at::kByte));
    }
    return at::cat(parts, 0);
}

namespace {

// Patches for the detail stage: the rendering (input) and the real face (target) cut at the
// same place, centred on a random landmark (eyes and mouth are 32 of the 68, so about half of
// the patches hold one) with some jitter, each flipped at random, and each rendering blurred
// by its own random sigma (renderings of a swap are softer than of the decoder's own faces).
struct PatchBatch {
    at::Tensor input, target, region;
};

PatchBatch sample_patches(const DeviceFaceSet& set, const at::Tensor& rendered,
                          const RefineSettings& settings, at::Generator& gen) {
    const int64_t n = settings.patches, size = set.images.size(2);
    const int64_t p = settings.patch;  // prepare_refiners checked that it fits
    const at::Tensor index = at::randint(set.count(), {n}, gen, at::kLong);
    const at::Tensor landmark = at::randint(68, {n}, gen, at::kLong);
    const at::Tensor jitter = at::empty({n, 2}, at::kFloat).uniform_(-0.25, 0.25, gen) * p;
    const at::Tensor flips = at::empty({n}, at::kFloat).uniform_(0, 1, gen);
    std::vector<at::Tensor> inputs, targets, regions;
    for (int64_t i = 0; i < n; ++i) {
        const int64_t face = index[i].item<int64_t>();
        const at::Tensor centre = set.landmarks[face][landmark[i].item<int64_t>()] + jitter[i];
        const int64_t x =
            std::clamp<int64_t>(static_cast<int64_t>(centre[0].item<float>()) - p / 2, 0, size - p);
        const int64_t y =
            std::clamp<int64_t>(static_cast<int64_t>(centre[1].item<float>()) - p / 2, 0, size - p);
        auto cut = [&](const at::Tensor& images, int64_t channel, int64_t channels) {
            at::Tensor patch =
                images[face].narrow(0, channel, channels).narrow(1, y, p).narrow(2, x, p);
            return flips[i].item<float>() < 0.5f ? patch.flip(2) : patch;
        };
        inputs.push_back(cut(rendered, 0, 3));
        targets.push_back(cut(set.images, 0, 3));
        regions.push_back(cut(set.masks, 2, 1));
    }
    const auto device = set.images.device();
    PatchBatch batch;
    batch.input = at::stack(inputs).to(at::kFloat).div_(255);
    batch.target = at::stack(targets).to(at::kFloat).div_(255);
    batch.region = at::stack(regions).to(at::kFloat).div_(255);
    if (settings.max_blur > 0) {
        // A 5-tap Gaussian per patch (sigma 0: the identity), as one grouped convolution.
        const at::Tensor sigma =
            at::empty({n, 1}, at::kFloat).uniform_(0, settings.max_blur, gen).clamp_min(1e-3);
        const at::Tensor taps = at::arange(-2, 3, at::kFloat).view({1, 5});
        at::Tensor kernel = at::exp(-taps * taps / (2 * sigma * sigma));
        kernel = (kernel / kernel.sum(1, true)).repeat_interleave(3, 0).to(device);  // [3n, 5]
        at::Tensor x =
            at::reflection_pad2d(batch.input, {2, 2, 2, 2}).reshape({1, 3 * n, p + 4, p + 4});
        x = detail::depthwise_conv2d(x, kernel.view({3 * n, 1, 1, 5}).contiguous());
        x = detail::depthwise_conv2d(x, kernel.view({3 * n, 1, 5, 1}).contiguous());
        batch.input = x.view({n, 3, p, p});
    }
    return batch;
}

}  // namespace

TrainLosses Trainer::Impl::refine_step(at::Generator& gen) {
    TrainLosses losses;
    StepClock clock;
    if (!rendered_a.defined()) rendered_a = render_set(a, true);
    if (!rendered_b.defined()) rendered_b = render_set(b, false);
    const PatchBatch pa = sample_patches(a, rendered_a, config.refine, gen);
    const PatchBatch pb = sample_patches(b, rendered_b, config.refine, gen);
    clock.lap(losses.sample_ms);
    const at::Tensor out_a = net->refine_a(pa.input), out_b = net->refine_b(pb.input);
    clock.lap(losses.forward_ms);
    // The reconstruction terms of the autoencoder's multiscale loss, on the patch's face region.
    auto reconstruction = [](const at::Tensor& out, const PatchBatch& batch) {
        const at::Tensor predicted = out * batch.region, target = batch.target * batch.region;
        return 5 * dssim(predicted, target) + 10 * (predicted - target).abs().mean() +
               10 * laplacian_pyramid_l1(predicted, target, 3);
    };
    const at::Tensor loss_a = reconstruction(out_a, pa), loss_b = reconstruction(out_b, pb);
    at::Tensor total = loss_a + loss_b;
    losses.refine_a = loss_a.item<double>();
    losses.refine_b = loss_b.item<double>();
    at::Tensor refined, real;
    const float gan_weight = config.refine.gan_weight;
    if (gan_weight > 0) {
        refined = at::cat({out_a * pa.region, out_b * pb.region}, 0);
        real = at::cat({pa.target * pa.region, pb.target * pb.region}, 0);
        const at::Tensor fooled = fooling_loss(refine_discriminator, refined);
        losses.adversarial = fooled.item<double>();
        total = total + gan_weight * fooled;
    }
    clock.lap(losses.loss_ms);
    losses.total = losses.refine_a + losses.refine_b + gan_weight * losses.adversarial;
    refuse_divergence(losses.total, step, "detail stage training");
    refiner_optimizer->zero_grad();
    total.backward();
    clock.lap(losses.backward_ms);
    refiner_optimizer->step();
    clock.lap(losses.update_ms);
    if (gan_weight > 0) {
        losses.discriminator = train_discriminator(refine_discriminator,
                                                   *refine_discriminator_optimizer, refined, real);
        clock.lap(losses.discriminator_ms);
    }
    return losses;
}

detail::ModelMetadata Trainer::Impl::metadata() const {
    detail::ModelMetadata m;
    m.kind = detail::SwapAutoencoder::kKind;
    m.source = "faceswap train";
    m.attributes = net->shape().to_attributes();
    std::ostringstream loss;
    loss.precision(6);
    loss << last_loss;
    m.attributes["coverage"] = std::to_string(coverage);
    m.attributes["identity_a"] = a.name;
    m.attributes["identity_b"] = b.name;
    m.attributes["sources_a"] = a.sources;
    m.attributes["sources_b"] = b.sources;
    m.attributes["created"] = created;
    m.attributes["training_steps"] = std::to_string(step);
    m.attributes["last_loss"] = loss.str();
    m.attributes["batch_size"] = std::to_string(config.batch_size);
    m.attributes["learning_rate"] = std::to_string(config.learning_rate);
    return m;
}

Trainer::Trainer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Trainer::~Trainer() = default;

std::unique_ptr<Trainer> Trainer::create(const TrainConfig& config, FaceSet a, FaceSet b) {
    config.validate();
    detail::SwapNetShape shape;
    shape.resolution = config.resolution;
    shape.output_upscale = config.output_upscale;
    shape.encoder_dims = config.encoder_dims;
    shape.bottleneck_dims = config.bottleneck_dims;
    shape.inter_dims = config.inter_dims;
    shape.decoder_dims = config.decoder_dims;
    shape.mask_dims = config.mask_dims;
    shape.validate();
    check_sets(a, b, shape.resolution, a.coverage);
    auto impl = std::make_unique<Impl>();
    impl->config = config;
    impl->device = detail::select_device(config.device);
    at::manual_seed(config.seed);  // initial weights
    impl->net = std::make_shared<detail::SwapAutoencoder>(shape);
    if (!config.init_from.empty()) {
        const detail::ModelMetadata source =
            detail::read_metadata(detail::SwapAutoencoder::kKind, config.init_from);
        const SwapModelInfo info = detail::swap_model_info(
            source, detail::SwapNetShape::from_attributes(source.attributes, config.init_from),
            config.init_from);
        if (std::abs(info.coverage - a.coverage) > 1e-3f)
            throw Error(ErrorCode::kInvalidArgument,
                        config.init_from + " was trained at coverage " +
                            std::to_string(info.coverage) + " but the face sets have " +
                            std::to_string(a.coverage) +
                            "; extract them with the same --coverage to warm-start from it");
        impl->initialisation_note = detail::initialise_from(*impl->net, config.init_from);
    }
    impl->net->to(impl->device);
    impl->choose_compute_mode();
    impl->make_optimizer();
    impl->phase.warp_amount = config.warp_amount;
    impl->coverage = a.coverage;
    impl->a = upload_set(a, impl->device, config.expression_balance);
    impl->b = upload_set(b, impl->device, config.expression_balance);
    impl->created = utc_now_iso8601();
    return std::unique_ptr<Trainer>(new Trainer(std::move(impl)));
}

std::unique_ptr<Trainer> Trainer::resume(const std::string& model_path, const TrainConfig& config,
                                         FaceSet a, FaceSet b) {
    config.validate();
    const detail::ModelMetadata metadata =
        detail::read_metadata(detail::SwapAutoencoder::kKind, model_path);
    const detail::SwapNetShape shape =
        detail::SwapNetShape::from_attributes(metadata.attributes, model_path);
    const SwapModelInfo info = detail::swap_model_info(metadata, shape, model_path);
    check_sets(a, b, shape.resolution, info.coverage);

    auto impl = std::make_unique<Impl>();
    impl->config = config;
    impl->device = detail::select_device(config.device);
    impl->net = std::make_shared<detail::SwapAutoencoder>(shape);
    impl->coverage = info.coverage;
    impl->phase.warp_amount = config.warp_amount;
    const std::string checkpoint = model_path + kCheckpointSuffix;
    if (std::filesystem::is_regular_file(checkpoint)) {
        // The checkpoint holds weights, optimiser state and step together, so they always agree.
        torch::serialize::InputArchive archive;
        try {
            archive.load_from(checkpoint, at::kCPU);
            c10::IValue magic, step;
            if (!archive.try_read("magic", magic) || !magic.isString() ||
                magic.toStringRef() != kCheckpointMagic || !archive.try_read("step", step))
                throw std::runtime_error("not a faceswap training checkpoint");
            torch::serialize::InputArchive weights, optimizer_state;
            archive.read("model", weights);
            archive.read("optimizer", optimizer_state);
            impl->net->load(weights);
            impl->net->to(impl->device);
            impl->make_optimizer();
            impl->optimizer->load(optimizer_state);
            impl->step = step.toInt();
            impl->restore_discriminator(archive, "patch_discriminator", impl->discriminator,
                                        impl->discriminator_optimizer);
            torch::serialize::InputArchive refiner_state;
            if (impl->net->has_refiners() && archive.try_read("refiner_optimizer", refiner_state)) {
                impl->refiner_optimizer =
                    Impl::adam(impl->net->refiner_parameters(), config.learning_rate);
                impl->refiner_optimizer->load(refiner_state);
            }
            impl->restore_discriminator(archive, "refine_discriminator", impl->refine_discriminator,
                                        impl->refine_discriminator_optimizer);
        } catch (const std::exception& e) {
            std::string what = e.what();
            throw Error(ErrorCode::kModelCorrupt,
                        checkpoint + " cannot be resumed (" + what.substr(0, what.find('\n')) +
                            "); move it away to resume from the model weights alone");
        }
    } else {
        detail::load_module(*impl->net, detail::SwapAutoencoder::kKind, model_path);
        impl->net->to(impl->device);
        impl->make_optimizer();
        impl->step = info.training_steps;
    }
    // Learning rate and batch size may change between runs (the loaded optimiser states carry
    // the old rates).
    for (auto& group : impl->optimizer->param_groups())
        static_cast<torch::optim::AdamOptions&>(group.options()).lr(config.learning_rate);
    for (torch::optim::Adam* optimizer :
         {impl->discriminator_optimizer.get(), impl->refine_discriminator_optimizer.get()})
        if (optimizer)
            for (auto& group : optimizer->param_groups())
                static_cast<torch::optim::AdamOptions&>(group.options())
                    .lr(impl->discriminator_learning_rate());
    if (impl->refiner_optimizer)
        for (auto& group : impl->refiner_optimizer->param_groups())
            static_cast<torch::optim::AdamOptions&>(group.options()).lr(config.learning_rate);
    impl->choose_compute_mode();
    // Sets given without their sources (face packs, older folders) keep the model's.
    if (a.sources.empty()) a.sources = info.sources_a;
    if (b.sources.empty()) b.sources = info.sources_b;
    impl->a = upload_set(a, impl->device, config.expression_balance);
    impl->b = upload_set(b, impl->device, config.expression_balance);
    impl->created = info.created;
    return std::unique_ptr<Trainer>(new Trainer(std::move(impl)));
}

TrainLosses Trainer::Impl::autoencoder_step(at::Generator& gen) {
    TrainLosses losses;
    StepClock clock;
    const Batch batch_a = sample(a, gen);
    const Batch batch_b = sample(b, gen);
    clock.lap(losses.sample_ms);
    // Both identities pass through the shared encoder in one batch.
    const at::Tensor code = net->encode(at::cat({batch_a.input, batch_b.input}, 0));
    const int64_t n = config.batch_size;
    const detail::DecodedFace out_a = net->decode_a(code.narrow(0, 0, n));
    const detail::DecodedFace out_b = net->decode_b(code.narrow(0, n, n));
    clock.lap(losses.forward_ms);
    at::Tensor total = face_loss(out_a, batch_a, &losses.face_a, &losses.mask_a) +
                       face_loss(out_b, batch_b, &losses.face_b, &losses.mask_b);
    // The discriminator judges faces inside the loss region only: the background is the
    // merge's business, not the decoder's.
    at::Tensor rendered, real;
    const bool adversarial = phase.gan_weight > 0;
    if (adversarial) {
        if (!discriminator) make_discriminator(discriminator, discriminator_optimizer);
        rendered = at::cat({out_a.rgb * batch_a.region, out_b.rgb * batch_b.region}, 0);
        real = at::cat({batch_a.target * batch_a.region, batch_b.target * batch_b.region}, 0);
        const at::Tensor fooled = fooling_loss(discriminator, rendered);
        losses.adversarial = fooled.item<double>();
        total = total + phase.gan_weight * fooled;
    }
    clock.lap(losses.loss_ms);
    losses.total = losses.face_a + losses.face_b + losses.mask_a + losses.mask_b +
                   phase.gan_weight * losses.adversarial;
    refuse_divergence(losses.total, step, "training");
    optimizer->zero_grad();
    total.backward();
    clock.lap(losses.backward_ms);
    std::vector<at::Tensor> before;
    if (phase.lr_dropout < 1.0f) {
        at::NoGradGuard no_grad;
        for (const auto& p : net->autoencoder_parameters()) before.push_back(p.detach().clone());
    }
    optimizer->step();
    if (!before.empty()) {
        // Learning-rate dropout (DeepFaceLab): each weight keeps its update with
        // probability lr_dropout; Adam's moments still see every gradient.
        // The mask is drawn as one random byte per weight against the probability in
        // 1/256ths (0.3 -> 77/256): this LibTorch draws Bernoulli samples one at a time (no
        // MKL), which took 120 ms a step on 10.5 M weights; bytes and a select take 85.
        // On a GPU the bytes are drawn there, by the device's generator seeded from this step's
        // CPU generator (still reproducible on resume): drawn on the CPU and copied over, they
        // took 55-90 ms of a 35 ms step on an H200 and more than halved the sharpen phase's speed.
        at::NoGradGuard no_grad;
        const int64_t threshold = std::clamp<int64_t>(
            static_cast<int64_t>(std::lround(phase.lr_dropout * 256.0)), 1, 255);
        std::optional<at::Generator> device_gen;
        if (!before.front().is_cpu()) {
            device_gen = at::globalContext().defaultGenerator(before.front().device());
            const auto seed = at::randint(0, int64_t{1} << 62, {1}, gen, at::kLong).item<int64_t>();
            std::lock_guard<std::mutex> lock(device_gen->mutex());
            device_gen->set_current_seed(static_cast<uint64_t>(seed));
        }
        size_t i = 0;
        for (auto& p : net->autoencoder_parameters()) {
            const at::Tensor draw =
                device_gen ? at::randint(0, 256, p.sizes(), *device_gen,
                                         at::TensorOptions(p.device()).dtype(at::kByte))
                           : at::randint(0, 256, p.sizes(), gen, at::kByte);
            at::where_out(p, draw.lt(threshold), p, before[i]);
            ++i;
        }
    }
    clock.lap(losses.update_ms);
    if (adversarial) {
        losses.discriminator =
            train_discriminator(discriminator, *discriminator_optimizer, rendered, real);
        clock.lap(losses.discriminator_ms);
    }
    return losses;
}

TrainLosses Trainer::step() {
    detail::use_cpu_threads(impl_->config.cpu_threads);
    Impl& s = *impl_;
    // One generator per step, seeded by the step number: a resumed run draws the same batches
    // and augmentations it would have drawn without the interruption.
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(
        s.config.seed * 1000003ULL + static_cast<std::uint64_t>(s.step));
    TrainLosses losses;
    try {
        if (s.phase.refine) {
            losses = s.refine_step(gen);
        } else {
            // The autoencoder changes: renderings made for the detail stage are stale.
            s.rendered_a = at::Tensor();
            s.rendered_b = at::Tensor();
            losses = s.autoencoder_step(gen);
        }
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        std::string what = e.what();
        throw Error(ErrorCode::kInternal,
                    std::string(s.phase.refine ? "detail stage training" : "training") +
                        " step failed: " + what.substr(0, what.find('\n')));
    }
    ++s.step;
    s.last_loss = losses.total;
    return losses;
}

std::int64_t Trainer::steps() const {
    return impl_->step;
}

void Trainer::set_phase(const TrainPhase& phase) {
    TrainSchedule{{phase}, {0.0}}.validate();
    if (phase.refine) {
        detail::use_cpu_threads(impl_->config.cpu_threads);
        impl_->prepare_refiners();
    }
    impl_->phase = phase;
    for (auto& group : impl_->optimizer->param_groups())
        static_cast<torch::optim::AdamOptions&>(group.options())
            .lr(impl_->config.learning_rate * phase.learning_rate_scale);
}
const TrainPhase& Trainer::phase() const {
    return impl_->phase;
}
std::string Trainer::initialisation_note() const {
    return impl_->initialisation_note;
}
std::string Trainer::architecture() const {
    return impl_->net->shape().describe();
}
std::string Trainer::precision_note() const {
    return impl_->precision_note;
}
std::string Trainer::refiner_note() const {
    return impl_->refiner_note;
}
std::string Trainer::device_name() const {
    return detail::device_description(impl_->device,
                                      detail::resolve_cpu_threads(impl_->config.cpu_threads),
                                      impl_->net->compute_mode().dtype);
}

void Trainer::save(const std::string& path, bool half_precision) const {
    const Impl& s = *impl_;
    // Checkpoint first: if the process dies between the two renames, the checkpoint (which
    // resume prefers) is the newer, self-consistent one.
    torch::serialize::OutputArchive archive, weights, optimizer_state;
    archive.write("magic", c10::IValue(std::string(kCheckpointMagic)));
    archive.write("step", c10::IValue(s.step));
    s.net->save(weights);
    s.optimizer->save(optimizer_state);
    archive.write("model", weights);
    archive.write("optimizer", optimizer_state);
    // A discriminator and its optimiser, under name and name + "_optimizer".
    auto write_discriminator = [&archive](const std::string& name,
                                          const PatchDiscriminator& discriminator,
                                          const torch::optim::Adam& optimizer) {
        torch::serialize::OutputArchive weights, state;
        discriminator->save(weights);
        optimizer.save(state);
        archive.write(name, weights);
        archive.write(name + "_optimizer", state);
    };
    if (s.discriminator)
        write_discriminator("patch_discriminator", s.discriminator, *s.discriminator_optimizer);
    if (s.refiner_optimizer) {
        torch::serialize::OutputArchive refiner_state;
        s.refiner_optimizer->save(refiner_state);
        archive.write("refiner_optimizer", refiner_state);
    }
    if (s.refine_discriminator)
        write_discriminator("refine_discriminator", s.refine_discriminator,
                            *s.refine_discriminator_optimizer);
    const std::string checkpoint = path + kCheckpointSuffix;
    detail::write_archive_atomically(archive, checkpoint, "checkpoint");
    detail::ModelMetadata metadata = s.metadata();
    metadata.half_precision = half_precision;
    detail::save_module(*s.net, metadata, path);
}

RgbImage Trainer::preview(int rows) const {
    detail::use_cpu_threads(impl_->config.cpu_threads);
    const Impl& s = *impl_;
    at::NoGradGuard no_grad;
    const int64_t size = s.a.images.size(2);
    rows = static_cast<int>(std::min<int64_t>({rows, s.a.count(), s.b.count()}));
    auto pick = [&](const DeviceFaceSet& set) {
        // Evenly spaced faces, the same every time, so previews are comparable over time.
        const at::Tensor index =
            at::linspace(0, set.count() - 1, rows).round().to(at::kLong).to(s.device);
        return set.images.index_select(0, index).to(at::kFloat).div(255);
    };
    const at::Tensor faces_a = pick(s.a), faces_b = pick(s.b);
    const at::Tensor code_a = s.net->encode(faces_a), code_b = s.net->encode(faces_b);
    // With a detail stage, the faces as the swap shows them: refined.
    auto as_a = [&](const at::Tensor& code) {
        const at::Tensor rgb = s.net->decode_a(code).rgb;
        return s.net->has_refiners() ? s.net->refine_a(rgb) : rgb;
    };
    auto as_b = [&](const at::Tensor& code) {
        const at::Tensor rgb = s.net->decode_b(code).rgb;
        return s.net->has_refiners() ? s.net->refine_b(rgb) : rgb;
    };
    const at::Tensor columns =
        at::cat({faces_a, as_a(code_a), as_b(code_a), faces_b, as_b(code_b), as_a(code_b)},
                3);  // [rows, 3, S, 6S]
    const at::Tensor grid = columns
                                .permute({0, 2, 3, 1})  // [rows, S, 6S, 3]
                                .reshape({rows * size, 6 * size, 3})
                                .mul(255)
                                .round()
                                .clamp(0, 255)
                                .to(at::kByte)
                                .contiguous()
                                .cpu();
    RgbImage image{static_cast<int>(6 * size), static_cast<int>(rows * size), {}};
    image.rgb.assign(grid.data_ptr<std::uint8_t>(), grid.data_ptr<std::uint8_t>() + grid.numel());
    return image;
}

}  // namespace faceswap
