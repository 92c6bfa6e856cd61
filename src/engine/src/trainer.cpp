// The swap autoencoder's training loop: augmentation, losses, Adam, checkpoints, preview.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/optim/adam.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
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
constexpr const char* kCheckpointMagic = "faceswap-train-checkpoint";

// One identity's faces and masks, resident on the training device.
struct DeviceFaceSet {
    std::string name;
    at::Tensor images;  // [N, 3, S, S] uint8
    at::Tensor masks;   // [N, 3, S, S] uint8 0..255: face hull, eyes and mouth, loss region
    int64_t count() const { return images.size(0); }
};

struct Batch {
    at::Tensor input;     // augmented and warped, 0..1
    at::Tensor target;    // augmented, not warped
    at::Tensor hull;      // [B, 1, S, S]
    at::Tensor emphasis;  // eyes and mouth
    at::Tensor region;    // where the reconstruction counts: the hull grown and feathered
};

DeviceFaceSet upload_set(const FaceSet& set, const c10::Device& device) {
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
    return {set.name, images.to(device), at::cat(chunks, 0).to(device)};
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

at::Tensor laplacian(const at::Tensor& x) {
    const int64_t c = x.size(1);
    const at::Tensor k = at::tensor({0.f, 1.f, 0.f, 1.f, -4.f, 1.f, 0.f, 1.f, 0.f}, x.options())
                             .view({1, 1, 3, 3})
                             .expand({c, 1, 3, 3})
                             .contiguous();
    return detail::depthwise_conv2d(x.contiguous(at::MemoryFormat::ChannelsLast), k);
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
    at::Tensor sum = laplacian(difference).abs().mean();
    for (int level = 1; level < levels; ++level) {
        difference = at::avg_pool2d(difference, {2, 2});
        sum = sum + laplacian(difference).abs().mean() / (1 << level);
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
        const at::Tensor detail = 4 * laplacian(at::reflection_pad2d(faces, {1, 1, 1, 1}));
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
    check(cpu_threads >= 0, "cpu threads must be >= 0");
    check(output_upscale == 1 || output_upscale == 2, "output upscale must be 1 or 2");
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
                                        double gan_from, float gan_weight) {
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

struct Trainer::Impl {
    TrainConfig config;
    c10::Device device{c10::kCPU};
    std::shared_ptr<detail::SwapAutoencoder> net;
    std::unique_ptr<torch::optim::Adam> optimizer;
    // Made when the first GAN phase begins (or restored from the checkpoint).
    PatchDiscriminator discriminator{nullptr};
    std::unique_ptr<torch::optim::Adam> discriminator_optimizer;
    DeviceFaceSet a, b;
    float coverage = 0;
    int64_t step = 0;
    double last_loss = 0;
    TrainPhase phase;
    std::string initialisation_note;

    // Adam as DCGAN and DeepFaceLab set it up (beta1 0.5), for the net and the discriminator.
    static std::unique_ptr<torch::optim::Adam> adam(const std::vector<at::Tensor>& parameters,
                                                    double learning_rate) {
        return std::make_unique<torch::optim::Adam>(
            parameters, torch::optim::AdamOptions(learning_rate).betas({0.5, 0.999}));
    }
    void make_optimizer() { optimizer = adam(net->parameters(), config.learning_rate); }
    // The discriminator learns at a multiple of the generator's rate (the two time-scale
    // rule of Heusel et al.): at the same rate it trails a formed generator for hundreds of
    // steps, judging every patch a coin toss, and the GAN phase does nothing meanwhile.
    // On 64 px faces of a formed tiny model, 300 GAN steps took the discriminator's loss from
    // 1.386 to 1.10 at 1x and to 0.77 at 4x.
    double discriminator_learning_rate() const { return 4 * config.learning_rate; }
    void make_discriminator() {
        discriminator = PatchDiscriminator();
        discriminator->to(device);
        discriminator_optimizer = adam(discriminator->parameters(), discriminator_learning_rate());
    }
    Batch sample(const DeviceFaceSet& set, at::Generator& gen) const;
    at::Tensor face_loss(const detail::DecodedFace& out, const Batch& batch, double* face,
                         double* mask) const;
    detail::ModelMetadata metadata() const;
};

Batch Trainer::Impl::sample(const DeviceFaceSet& set, at::Generator& gen) const {
    const int64_t n = config.batch_size, size = set.images.size(2);
    const at::Tensor index = at::randint(set.count(), {n}, gen, at::kLong).to(device);
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
    const at::Tensor emphasis = 100 * ((out.rgb - batch.target).abs() * batch.emphasis).mean();
    at::Tensor reconstruction;
    if (config.loss == TrainLoss::kClassic) {
        reconstruction = 10 * dssim(predicted, target) + 10 * (predicted - target).abs().mean() +
                         // The difference of Laplacians keeps fine detail, where L1 and SSIM
                         // alone settle for a blur.
                         5 * laplacian(predicted - target).abs().mean() + emphasis;
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
    impl->make_optimizer();
    impl->phase.warp_amount = config.warp_amount;
    impl->coverage = a.coverage;
    impl->a = upload_set(a, impl->device);
    impl->b = upload_set(b, impl->device);
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
            torch::serialize::InputArchive discriminator, discriminator_state;
            if (archive.try_read("patch_discriminator", discriminator) &&
                archive.try_read("patch_discriminator_optimizer", discriminator_state)) {
                impl->make_discriminator();
                impl->discriminator->load(discriminator);
                impl->discriminator->to(impl->device);
                impl->discriminator_optimizer->load(discriminator_state);
            }
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
    if (impl->discriminator_optimizer)
        for (auto& group : impl->discriminator_optimizer->param_groups())
            static_cast<torch::optim::AdamOptions&>(group.options())
                .lr(impl->discriminator_learning_rate());
    impl->a = upload_set(a, impl->device);
    impl->b = upload_set(b, impl->device);
    return std::unique_ptr<Trainer>(new Trainer(std::move(impl)));
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
        auto mark = Clock::now();
        auto lap = [&mark](double& into) {
            const auto now = Clock::now();
            into = std::chrono::duration<double, std::milli>(now - mark).count();
            mark = now;
        };
        const Batch batch_a = s.sample(s.a, gen);
        const Batch batch_b = s.sample(s.b, gen);
        lap(losses.sample_ms);
        // Both identities pass through the shared encoder in one batch.
        const at::Tensor code = s.net->encode(at::cat({batch_a.input, batch_b.input}, 0));
        const int64_t n = s.config.batch_size;
        const detail::DecodedFace out_a = s.net->decode_a(code.narrow(0, 0, n));
        const detail::DecodedFace out_b = s.net->decode_b(code.narrow(0, n, n));
        lap(losses.forward_ms);
        at::Tensor total = s.face_loss(out_a, batch_a, &losses.face_a, &losses.mask_a) +
                           s.face_loss(out_b, batch_b, &losses.face_b, &losses.mask_b);
        // The discriminator judges faces inside the loss region only: the background is the
        // merge's business, not the decoder's.
        at::Tensor rendered, real;
        const bool adversarial = s.phase.gan_weight > 0;
        if (adversarial) {
            if (!s.discriminator) s.make_discriminator();
            rendered = at::cat({out_a.rgb * batch_a.region, out_b.rgb * batch_b.region}, 0);
            real = at::cat({batch_a.target * batch_a.region, batch_b.target * batch_b.region}, 0);
            // The generator's term flows through the discriminator without training it.
            for (auto& p : s.discriminator->parameters()) p.set_requires_grad(false);
            const at::Tensor fooled = patch_bce(s.discriminator->forward(rendered), true);
            for (auto& p : s.discriminator->parameters()) p.set_requires_grad(true);
            losses.adversarial = fooled.item<double>();
            total = total + s.phase.gan_weight * fooled;
        }
        lap(losses.loss_ms);
        losses.total = losses.face_a + losses.face_b + losses.mask_a + losses.mask_b +
                       s.phase.gan_weight * losses.adversarial;
        if (!std::isfinite(losses.total))
            throw Error(ErrorCode::kInternal,
                        "training diverged (loss is not finite) at step " + std::to_string(s.step) +
                            "; resume from the last checkpoint with a lower --lr");
        s.optimizer->zero_grad();
        total.backward();
        lap(losses.backward_ms);
        std::vector<at::Tensor> before;
        if (s.phase.lr_dropout < 1.0f) {
            at::NoGradGuard no_grad;
            for (const auto& p : s.net->parameters()) before.push_back(p.detach().clone());
        }
        s.optimizer->step();
        if (!before.empty()) {
            // Learning-rate dropout (DeepFaceLab): each weight keeps its update with
            // probability lr_dropout; Adam's moments still see every gradient.
            at::NoGradGuard no_grad;
            size_t i = 0;
            for (auto& p : s.net->parameters()) {
                const at::Tensor keep =
                    at::empty(p.sizes(), at::kFloat).bernoulli_(s.phase.lr_dropout, gen);
                p.copy_(before[i] + (p - before[i]) * keep.to(p.device()));
                ++i;
            }
        }
        lap(losses.update_ms);
        if (adversarial) {
            // One discriminator step on this step's rendered faces (detached) and real ones,
            // in one batch.
            const at::Tensor logits =
                s.discriminator->forward(at::cat({rendered.detach(), real}, 0));
            const int64_t half = rendered.size(0);
            const at::Tensor d_loss =
                patch_bce(logits.narrow(0, 0, half), false) +
                patch_bce(logits.narrow(0, half, logits.size(0) - half), true);
            losses.discriminator = d_loss.item<double>();
            s.discriminator_optimizer->zero_grad();
            d_loss.backward();
            s.discriminator_optimizer->step();
            lap(losses.discriminator_ms);
        }
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        std::string what = e.what();
        throw Error(ErrorCode::kInternal,
                    "training step failed: " + what.substr(0, what.find('\n')));
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
std::string Trainer::device_name() const {
    return detail::device_description(impl_->device,
                                      detail::resolve_cpu_threads(impl_->config.cpu_threads));
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
    if (s.discriminator) {
        torch::serialize::OutputArchive discriminator, discriminator_state;
        s.discriminator->save(discriminator);
        s.discriminator_optimizer->save(discriminator_state);
        archive.write("patch_discriminator", discriminator);
        archive.write("patch_discriminator_optimizer", discriminator_state);
    }
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
    const at::Tensor columns =
        at::cat({faces_a, s.net->decode_a(code_a).rgb, s.net->decode_b(code_a).rgb, faces_b,
                 s.net->decode_b(code_b).rgb, s.net->decode_a(code_b).rgb},
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
