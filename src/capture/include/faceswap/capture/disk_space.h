// Free space where files are written: a full disk is named as such in errors, and long writers
// (extraction, recording) stop before they leave a folder of truncated files.
#pragma once

#include <filesystem>

namespace faceswap::capture {

// Whether the file system holding `dir` has less than `min_bytes` free for this user (false
// when that cannot be told).
bool low_on_disk_space(const std::filesystem::path& dir, double min_bytes = 1024.0 * 1024.0);

}  // namespace faceswap::capture
