// Face packs: one identity's aligned faces and landmarks in one compact file, for carrying a
// training set to a machine that has only LibTorch (a GPU box without OpenCV).
//
//   faceswap pack sets/franck franck.fspack           // JPEG faces, ~10x smaller than PNGs
//   scripts/fspack_to_raw.py franck.fspack raw.fspack  // on the GPU box: decoded by Python's cv2
//   faceswap::FaceSet set = faceswap::read_face_pack("raw.fspack");  // raw packs need no codec
//
// Layout (little-endian), docs/swap-model.md: magic "FSPACK\0\0", format version (u32),
// encoding (u32: 0 raw RGB24, 1 JPEG), crop size (u32), face count (u32), coverage (f32), name
// length (u32) and name, then per face 136 f32 landmarks (crop pixels), a byte count (u32) and
// the bytes. Every field is checked before it is used; a truncated or foreign file is an Error.
// No Torch type appears here; reading and writing are plain C++ (any thread).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "faceswap/train.h"

namespace faceswap {

inline constexpr std::uint32_t kFacePackVersion = 1;

enum class FacePackEncoding : std::uint32_t { kRaw = 0, kJpeg = 1 };

// Compressed face bytes -> size*size*3 RGB24; false when they do not decode to that size.
using FaceDecoder = std::function<bool(const std::uint8_t* bytes, std::size_t length, int size,
                                       std::vector<std::uint8_t>& rgb)>;
// RGB24 of size*size*3 -> compressed bytes; false on failure.
using FaceEncoder =
    std::function<bool(const std::uint8_t* rgb, int size, std::vector<std::uint8_t>& bytes)>;

// Reads a pack into a FaceSet (name, size, coverage, pixels, landmarks). A JPEG pack needs a
// decoder. Throws Error(kInvalidArgument) naming the file for: not a pack, a newer version, a
// truncated file (with the face it stopped at), implausible sizes, an undecodable face.
FaceSet read_face_pack(const std::string& path, const FaceDecoder& decoder = {});

// Writes set to path (temporary file + rename: complete or not at all). JPEG needs an encoder.
void write_face_pack(const FaceSet& set, const std::string& path, FacePackEncoding encoding,
                     const FaceEncoder& encoder = {});

// True when path starts with the pack magic (to tell a pack file from a face-set folder).
bool is_face_pack(const std::string& path);

}  // namespace faceswap
