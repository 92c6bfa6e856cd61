// Our own, strict reader of the model files LibTorch's OutputArchive writes (a zip of a pickle
// and raw tensor records). LibTorch's writer stays; its reader is not used for model files.
//
// Why: model files come from downloads and uploads, and LibTorch's reader trusts what a file
// declares. Fuzzing found a 3 KB damaged .fsmodel that made it allocate 2.5 GB (a string
// length), a one-byte change that made it take 23 GB and 141 s (a pickle memo index), and a
// two-byte change that crashed it (SIGSEGV in the TorchScript parser, which compiles the
// archive's code/__torch__.py; its zip reader checks no CRC). This reader never runs that code:
//   - the zip's directory, local headers and record ranges must lie inside the file, in one
//     archive folder, without duplicates, encryption or compressed tensor records;
//   - data.pkl may use only the opcodes and globals LibTorch's module writer emits, memo indices
//     in the order a writer assigns them, strings inside the record;
//   - each tensor's storage must name a record of exactly its element count times its element
//     size (CRC-checked when read), and its sizes, strides and offset must stay inside it.
// No Torch here: plain C++, cheap to compile and to fuzz; model_file.cpp makes the tensors.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace faceswap::detail {

// Why a file was refused: one line, without the path (the caller adds it).
struct ArchiveProblem : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct ArchiveTensor {
    std::string type;               // LibTorch's storage type without "Storage": "Float", "Half"
    std::int64_t element_size = 0;  // bytes
    std::int64_t storage_elements = 0;
    std::int64_t offset = 0;  // in elements
    std::vector<std::int64_t> sizes, strides;
    std::string record;  // the zip record holding the storage
};

// One attribute of the stored module: a string, an integer or a tensor (anything else a writer
// may store is kept as kOther and not read).
struct ArchiveValue {
    enum class Kind { kString, kInteger, kTensor, kOther };
    Kind kind = Kind::kOther;
    std::string text;
    std::int64_t integer = 0;
    ArchiveTensor tensor;
};

class ModuleArchive {
  public:
    // Reads and checks the zip directory and data.pkl (a few KB for a 22 MB model); throws
    // ArchiveProblem when the file is not a well-formed module archive.
    static ModuleArchive open(const std::string& path);

    // The module's attributes by name (buffers, parameters and the metadata strings).
    const std::map<std::string, ArchiveValue>& values() const { return values_; }

    // Reads the storage of `tensor` (storage_elements x element_size bytes, checked against its
    // CRC-32) into `destination`. Throws ArchiveProblem when the file changed or is damaged.
    void read_storage(const ArchiveTensor& tensor, void* destination) const;

  private:
    struct Record {
        std::uint64_t data_offset = 0, size = 0;
        std::uint32_t crc = 0;
    };
    std::string path_;
    std::map<std::string, Record> tensor_records_;  // by full name
    std::map<std::string, ArchiveValue> values_;
    friend class ModuleArchiveReader;
};

}  // namespace faceswap::detail
