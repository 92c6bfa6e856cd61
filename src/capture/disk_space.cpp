#include "faceswap/capture/disk_space.h"

#include <sys/statvfs.h>

namespace faceswap::capture {

bool low_on_disk_space(const std::filesystem::path& dir, double min_bytes) {
    struct statvfs fs {};
    if (::statvfs(dir.c_str(), &fs) != 0) return false;
    return static_cast<double>(fs.f_bavail) * fs.f_frsize < min_bytes;
}

}  // namespace faceswap::capture
