// Reading a face set made by `faceswap extract` (faces.json + PNG crops) for training.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <filesystem>
#include <string>

#include "faceswap/face_pack.h"
#include "faceswap/train.h"

namespace faceswap::cli {

// Loads every face listed in DIR/faces.json, with its landmarks mapped into crop pixels.
// Unreadable or missing crops are skipped and counted in *skipped; a missing or malformed
// faces.json, or crops of mixed sizes, throw std::runtime_error with a one-line reason.
FaceSet load_face_set(const std::string& dir, const std::string& name, int* skipped);

// One faces.json entry's landmarks in its crop's pixels (its image landmarks through its
// image_to_aligned). Throws std::runtime_error (or nlohmann's exception) for a malformed entry.
Landmarks68 crop_landmarks_of(const nlohmann::json& face);

// Writes DIR/faces.json whole or not at all (a temporary file, then a rename): a crash never
// leaves half of it. Throws std::runtime_error when it cannot be written.
void write_face_set_json(const std::filesystem::path& dir, const nlohmann::json& doc);

// Decodes the JPEG faces of a pack with OpenCV (for train's --a/--b given a pack).
FaceDecoder opencv_face_decoder();

// "franck" from ".../franck.mp4" or "faces/franck/": a readable identity name for a set.
std::string identity_name_of(const std::string& path);

}  // namespace faceswap::cli
