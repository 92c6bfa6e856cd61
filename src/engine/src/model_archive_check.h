// A strict reader of a model file's container, run before LibTorch opens it.
//
// LibTorch's archive reader trusts what a file declares: fuzzing found a 3 KB damaged .fsmodel
// that made it allocate 2.5 GB, and a one-byte change (a pickle memo index) that made it take
// 23 GB and 141 s before it threw (docs/hardening.md). Model files come from downloads and
// uploads, so before LibTorch sees one, this check walks the zip directory and every pickle in
// it the way LibTorch would, with every size bounded by the file itself:
//   - the zip's directory, local headers and record ranges lie inside the file, one archive
//     folder, no duplicate names, no encryption, tensor records stored uncompressed;
//   - each pickle uses only the opcodes and globals LibTorch's module writer emits, memo indices
//     in the order a writer assigns them, strings inside the record;
//   - each tensor's storage names a record whose length is exactly its element count times its
//     element size, and the tensor's sizes, strides and offset stay inside that storage.
// No Torch here: plain C++, so the check is cheap to compile and to fuzz.
#pragma once

#include <stdexcept>
#include <string>

namespace faceswap::detail {

// Why a file was refused: one line, without the path (the caller adds it).
struct ArchiveProblem : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Throws ArchiveProblem when the file at path is not a well-formed LibTorch module archive.
// Reads the zip directory and the pickle records only (a few KB for a 22 MB model).
void check_model_archive(const std::string& path);

}  // namespace faceswap::detail
