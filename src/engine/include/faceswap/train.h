// Training the swap autoencoder on two aligned face sets (made by `faceswap extract`).
//
//   faceswap::Trainer trainer = ...create(config, std::move(set_a), std::move(set_b));
//   while (...) { faceswap::TrainLosses l = trainer->step(); }
//   trainer->save("model.fsmodel");   // model.fsmodel + model.fsmodel.train, each atomic
//
// The engine sees only pixels and landmarks; reading images from disk is the caller's job.
// No Torch type appears here.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "faceswap/engine.h"
#include "faceswap/swap.h"

namespace faceswap {

// Fewer faces than this cannot teach a decoder an identity; extract more (every frame of a
// minute of video gives well over a thousand).
inline constexpr int kMinFacesPerSet = 32;

// Threading contract:
// - A Trainer is used by one thread at a time: step(), save(), set_phase() and the rest are
//   not safe to call concurrently (it owns the weights and the optimiser it updates).
// - Its LibTorch work runs on the calling thread with TrainConfig::cpu_threads (intra-op
//   threads of that call); it starts no threads of its own that outlive a call.
// - A model it saved is an ordinary file: SwapModel::load() of it from another thread (the
//   trainer's quality checks do this) shares nothing with the Trainer.
// - FaceSets are plain values; the Trainer keeps its own copy.

// One identity's aligned faces, all the same size and alignment coverage.
struct FaceSet {
    std::string name;  // the identity, e.g. "franck"
    int size = 0;      // crops are size x size
    float coverage = 0.f;
    std::vector<std::uint8_t> rgb;       // count * size * size * 3, RGB24, row-major
    std::vector<Landmarks68> landmarks;  // per face, in crop pixels
    // Where the faces came from, as the front end writes it (faceswap extract: JSON with each
    // source's file name and sha256, or the camera and the date); the model keeps it.
    std::string sources;
    int count() const { return static_cast<int>(landmarks.size()); }
};

// How the reconstruction is scored (docs/swap-model.md has the terms and weights).
enum class TrainLoss {
    kClassic,     // DSSIM (11 px window) + L1 + Laplacian L1 + eyes/mouth L1: the format-1 recipe
    kMultiScale,  // DSSIM at two scales, L1, a 3-level Laplacian pyramid, eyes/mouth L1
};

// The arithmetic of the network passes of a training step (weights, gradients and Adam stay
// float32 either way). kAuto: bfloat16 on a GPU and on CPUs that multiply it natively
// (AVX-512 BF16), channels-last on every CPU, float32 elsewhere (docs/training-speed.md).
// kFloat32 is the plain layout (NCHW), the others' comparison point; the -cl and -nchw
// variants exist to measure the layout and the arithmetic apart.
enum class TrainPrecision { kAuto, kFloat32, kFloat32ChannelsLast, kBFloat16, kBFloat16Nchw };

// "auto", "fp32", "fp32-cl", "bf16" (channels-last on CPU) or "bf16-nchw"; throws
// Error(kInvalidArgument) otherwise.
TrainPrecision parse_train_precision(const std::string& text);

// The part of a recipe that changes while it trains (Trainer::set_phase).
struct TrainPhase {
    std::string name = "warp";
    float warp_amount = 1.0f;  // random elastic warp of the input; 0 = off
    float lr_dropout = 1.0f;   // probability each weight's update is applied (1 = off);
                               // DeepFaceLab uses 0.3 once the face has formed
    double learning_rate_scale = 1.0;
    // Weight of the adversarial term from a patch discriminator (0 = off). Faces an
    // autoencoder reconstructs by L1 and SSIM alone settle for the mean of what could be
    // there: a soft mask. A discriminator that tells real skin, eyelids and teeth from
    // rendered ones, patch by patch, penalises exactly that softness (DeepFaceLab's
    // "GAN power", about 0.1 once the face has formed).
    float gan_weight = 0.0f;
    // The detail stage's phase: the autoencoder is frozen and only the refiners train, on
    // pairs (the decoder's rendering of an identity's faces, the real faces).
    bool refine = false;
};

// A recipe's phases over one run: phase i holds from starts[i] (a fraction of the run, by
// wall-clock budget or by steps) until the next one starts. The default is the sharpening
// recipe: random warp until warp_until, then warp off with learning-rate dropout, and from
// gan_from on (1 = never) the same with a patch discriminator of weight gan_weight.
struct TrainSchedule {
    std::vector<TrainPhase> phases;
    std::vector<double> starts;  // ascending, starts[0] == 0
    static TrainSchedule sharpening(double warp_until = 0.6, float warp_amount = 1.0f,
                                    float lr_dropout = 0.3f, double gan_from = 1.0,
                                    float gan_weight = 0.1f, double refine_from = 1.0);
    static TrainSchedule constant(float warp_amount);  // one phase, as before recipes
    const TrainPhase& at(double progress) const;       // progress 0..1
    void validate() const;
};

// "90m", "2h30m", "1.5h", "45s" or plain seconds (a --time-budget); throws
// Error(kInvalidArgument) for anything else or a duration that is not positive.
double parse_duration_seconds(const std::string& text);

// The part of a recipe that trains the detail stage (TrainPhase::refine).
struct RefineSettings {
    int dims = 24;            // a model without a detail stage gets one of this width
    int patch = 0;            // training patches are patch x patch pixels of the face;
                              // 0: 96, or the whole face where faces are smaller
    int patches = 16;         // per identity per step
    float gan_weight = 0.1f;  // the patch discriminator's term (0: L1, SSIM and edges only)
    // Each patch's rendering is blurred by a random sigma in [0, max_blur] px first: renderings
    // of new faces (a swap) are softer than of the faces the decoder trained on.
    float max_blur = 1.0f;
};

struct TrainConfig {
    // Architecture (see docs/swap-model.md); fixed once a model exists.
    int resolution = 128;
    int output_upscale = 1;  // 2: depth-to-space output stage (decoders at resolution / 2)
    int encoder_dims = 32;
    int bottleneck_dims = 256;
    int inter_dims = 128;
    int decoder_dims = 24;
    int mask_dims = 8;
    // Optimisation; may change on resume.
    int batch_size = 8;  // faces per identity per step
    double learning_rate = 1e-4;
    std::uint64_t seed = 1;
    // Augmentation
    float warp_amount = 1.0f;  // 0 disables the random elastic warp of the input
                               // (the starting phase; set_phase changes it)
    TrainLoss loss = TrainLoss::kClassic;
    // A new model copies every matching weight from this model file (warm start; see
    // detail::initialise_from). Empty: random initialisation.
    std::string init_from;
    float color_jitter = 0.1f;  // brightness/contrast/saturation jitter, 0 disables
    bool random_flip = true;
    // Weight of the L1 term on the eyes and mouth (0 to 1000; DeepFaceLab uses 300 at 256 px:
    // "makes the detail of the teeth higher"). 300 against the earlier 100 raised the eye-opening
    // correlation in both directions (docs/detail-stage.md).
    float eyes_mouth_weight = 300.f;
    // Expression-balanced sampling, 0 to 1. 0 draws faces uniformly. 1 draws half the faces
    // evenly over five bands of eye opening (percentiles 0-5, 5-25, 25-75, 75-95, 95-100 of
    // the set) and half evenly over the same bands of mouth opening, so blinks, wide eyes and
    // wide mouths, rare in a video, are seen about four times as often. Between: a mixture.
    // 0.7 against 0 raised the eye-opening correlation in both directions (docs/detail-stage.md).
    float expression_balance = 0.7f;
    DeviceKind device = DeviceKind::kAuto;
    int cpu_threads = 0;
    TrainPrecision precision = TrainPrecision::kAuto;
    RefineSettings refine;
    void validate() const;
};

struct TrainLosses {
    double total = 0;
    double face_a = 0, face_b = 0;  // reconstruction (L1 + DSSIM + detail) of each identity
    double mask_a = 0, mask_b = 0;  // mask vs landmark hull
    // With a GAN phase: the generator's adversarial loss (unweighted, both identities) and the
    // discriminator's own loss (about 1.39 when it cannot tell real from rendered at all).
    double adversarial = 0, discriminator = 0;
    // The refine phase (the detail stage): each identity's refiner reconstruction loss.
    double refine_a = 0, refine_b = 0;
    // Where the step's time went (ms): batches and augmentation, forward pass, losses,
    // backward pass, optimiser update (with learning-rate dropout), discriminator step.
    double sample_ms = 0, forward_ms = 0, loss_ms = 0, backward_ms = 0, update_ms = 0,
           discriminator_ms = 0;
};

// An RGB24 image (the preview grid).
struct RgbImage {
    int width = 0, height = 0;
    std::vector<std::uint8_t> rgb;
};

class Trainer {
  public:
    // A new model. Throws Error(kInvalidArgument) for too few faces, sets of different sizes
    // or coverages, or a face size that is not the model resolution.
    static std::unique_ptr<Trainer> create(const TrainConfig& config, FaceSet a, FaceSet b);
    // Continues from model_path (and its ".train" checkpoint: weights, optimiser state and
    // step, so training continues exactly). Architecture comes from the file; optimisation and
    // device settings from config. Refuses face sets that do not match the model.
    static std::unique_ptr<Trainer> resume(const std::string& model_path, const TrainConfig& config,
                                           FaceSet a, FaceSet b);
    ~Trainer();

    TrainLosses step();                       // one optimiser step on a batch of each identity
    void set_phase(const TrainPhase& phase);  // takes effect on the next step
    const TrainPhase& phase() const;
    // What create() said about the warm start (empty without init_from).
    std::string initialisation_note() const;
    std::int64_t steps() const;

    // Writes the model (weights + metadata, what convert and the app load) and path + ".train"
    // (the full training state), each through a temporary file and a rename, so a crash or a
    // full disk never destroys the previous good pair.
    void save(const std::string& path, bool half_precision = false) const;

    // Rows of faces: A, A->A, A->B, B, B->B, B->A (fixed faces, no augmentation).
    RgbImage preview(int rows) const;

    std::string device_name() const;
    std::string architecture() const;
    // The arithmetic the steps run in and why ("bfloat16 channels-last (the CPU has ...)").
    std::string precision_note() const;
    // What the refine phase trains ("a new detail stage of 24 channels"); empty before one.
    std::string refiner_note() const;

    struct Impl;

  private:
    explicit Trainer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace faceswap

namespace faceswap {

// ---------------------------------------------------------------------------------------------
// One training run, the same for every driver (`faceswap train`, `faceswap-train-packs`): the
// recipe's phases over a step count or a wall-clock budget, checkpoints every save_every steps,
// the loss log (OUT.log.csv), a clean stop, and the final save. What a driver adds (progress
// display, previews, quality checks) it adds through the hooks.
//
//   TrainRunOptions run{.out = "m.fsmodel", .budget_s = 3600, .schedule =
//   TrainSchedule::sharpening()}; TrainRunSummary done = run_training(*trainer, run, {});

struct TrainRunOptions {
    std::string out;               // the model file (OUT.train and OUT.log.csv beside it)
    double budget_s = 0;           // > 0: train this many seconds (hooks' time not counted)
    std::int64_t total_steps = 0;  // else: until the model reaches this step
    TrainSchedule schedule = TrainSchedule::sharpening();
    std::int64_t save_every = 500;  // steps between checkpoints (0: only at the end)
    bool half_precision = false;    // model file weights as float16
};

// Where a run stands, for the hooks.
struct TrainRunStatus {
    std::int64_t step = 0;       // the model's step count after this step
    std::int64_t run_steps = 0;  // steps taken by this run
    double training_s = 0;       // this run's training time (hooks' time excluded)
    double progress = 0;         // 0..1 of the budget or the steps
    const TrainPhase* phase = nullptr;
};

struct TrainRunHooks {
    std::function<void(const TrainPhase&, std::int64_t step)> on_phase;
    std::function<void(const TrainLosses&, const TrainRunStatus&)> on_step;
    // After a save; why is "checkpoint", "done" or "interrupted".
    std::function<void(const std::string& why, std::int64_t step)> on_save;
    // After each step; returns the seconds it spent (e.g. a quality check), which are not
    // charged to the training time.
    std::function<double(const TrainRunStatus&)> between_steps;
    std::function<bool()> stop_requested;  // polled before each step
};

struct TrainRunSummary {
    std::int64_t first_step = 0, last_step = 0;
    double training_s = 0;
    bool stopped = false;  // stop_requested ended it
    // Mean ms per step of each part (after the first three steps, which warm caches up).
    TrainLosses mean_ms;
    std::int64_t timed_steps = 0;
    std::string timing_line() const;  // "ms per step (mean of N): batches ..., total ..."
};

// Refuses a run with nothing to do (no budget and the model at total_steps already).
TrainRunSummary run_training(Trainer& trainer, const TrainRunOptions& options,
                             const TrainRunHooks& hooks);

}  // namespace faceswap
