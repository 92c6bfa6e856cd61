// Reading a face set made by `faceswap extract` (faces.json + PNG crops) for training.
#pragma once

#include <string>

#include "faceswap/face_pack.h"
#include "faceswap/train.h"

namespace faceswap::cli {

// Loads every face listed in DIR/faces.json, with its landmarks mapped into crop pixels.
// Unreadable or missing crops are skipped and counted in *skipped; a missing or malformed
// faces.json, or crops of mixed sizes, throw std::runtime_error with a one-line reason.
FaceSet load_face_set(const std::string& dir, const std::string& name, int* skipped);

// Decodes the JPEG faces of a pack with OpenCV (for train's --a/--b given a pack).
FaceDecoder opencv_face_decoder();

// "franck" from ".../franck.mp4" or "faces/franck/": a readable identity name for a set.
std::string identity_name_of(const std::string& path);

}  // namespace faceswap::cli
