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
#include <memory>
#include <string>
#include <vector>

#include "faceswap/engine.h"
#include "faceswap/swap.h"

namespace faceswap {

// Fewer faces than this cannot teach a decoder an identity; extract more (every frame of a
// minute of video gives well over a thousand).
inline constexpr int kMinFacesPerSet = 32;

// One identity's aligned faces, all the same size and alignment coverage.
struct FaceSet {
    std::string name;  // the identity, e.g. "franck"
    int size = 0;      // crops are size x size
    float coverage = 0.f;
    std::vector<std::uint8_t> rgb;        // count * size * size * 3, RGB24, row-major
    std::vector<Landmarks68> landmarks;   // per face, in crop pixels
    int count() const { return static_cast<int>(landmarks.size()); }
};

struct TrainConfig {
    // Architecture (see docs/swap-model.md); fixed once a model exists.
    int resolution = 128;
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
    float warp_amount = 1.0f;   // 0 disables the random elastic warp of the input
    float color_jitter = 0.1f;  // brightness/contrast/saturation jitter, 0 disables
    bool random_flip = true;
    DeviceKind device = DeviceKind::kAuto;
    int cpu_threads = 0;
    void validate() const;
};

struct TrainLosses {
    double total = 0;
    double face_a = 0, face_b = 0;  // reconstruction (L1 + DSSIM + detail) of each identity
    double mask_a = 0, mask_b = 0;  // mask vs landmark hull
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

    TrainLosses step();  // one optimiser step on a batch of each identity
    std::int64_t steps() const;

    // Writes the model (weights + metadata, what convert and the app load) and path + ".train"
    // (the full training state), each through a temporary file and a rename, so a crash or a
    // full disk never destroys the previous good pair.
    void save(const std::string& path, bool half_precision = false) const;

    // Rows of faces: A, A->A, A->B, B, B->B, B->A (fixed faces, no augmentation).
    RgbImage preview(int rows) const;

    std::string device_name() const;
    std::string architecture() const;

    struct Impl;

  private:
    explicit Trainer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace faceswap
