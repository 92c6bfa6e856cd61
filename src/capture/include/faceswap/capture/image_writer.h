// Writing a processed photo in its own format, with the provenance text in the file's own
// metadata where the format has a place for it (JPEG: a COM segment; PNG: tEXt chunks), and
// through a temporary file and a rename, so a full disk never leaves half a photo.
#pragma once

#include <opencv2/core.hpp>

#include <string>

#include "faceswap/capture/content_credentials.h"

namespace faceswap::capture {

// Whether the format of `path` carries the provenance text (JPEG and PNG do).
bool image_format_keeps_provenance(const std::string& path);

// Encodes `bgr` by the extension of `path` (JPEG at quality 95), adds `provenance` to its
// metadata where the format allows, and writes it atomically. Throws MediaError naming the file
// and the cause (unknown format, folder missing, disk full, no permission).
void write_image_file(const std::string& path, const cv::Mat& bgr, const std::string& provenance,
                      const ContentSigning* signing = nullptr);

// The provenance text stored in a JPEG or PNG written by write_image_file ("" when none).
std::string read_image_provenance(const std::string& path);

}  // namespace faceswap::capture
