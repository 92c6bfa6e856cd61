// The engine's own model file: a LibTorch archive of named tensors plus metadata
// (magic, format version, kind, source). Written atomically, read with every shape checked.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace torch::nn {
class Module;
}
namespace torch::serialize {
class OutputArchive;
}

namespace faceswap::detail {

// 2: swap models may carry output_upscale (depth-to-space output stage); 3: and refiner_dims
// with the detail stage's tensors (refiner_a.*, refiner_b.*). Older files load unchanged (every
// attribute a version adds has a default that reproduces the older layout).
inline constexpr std::int64_t kModelFormatVersion = 3;

// "[a,b,c]", for error messages about tensor shapes.
std::string shape_string(at::IntArrayRef sizes);

struct ModelMetadata {
    std::string kind;    // e.g. "ssd_mobilenetv1"
    std::string source;  // where the weights came from
    std::int64_t format_version = kModelFormatVersion;
    // Free-form named values (a swap model's resolution, identities, training steps...),
    // stored as strings under "__attr_<name>".
    std::map<std::string, std::string> attributes;
    bool half_precision = false;  // save_module: store float tensors as float16 (half the size)
};

// Serialises archive in memory, then writes it to path + ".partial-PID", flushes it to disk and
// renames it over path. LibTorch's own file writer aborts the process when a write fails (it
// throws from a destructor), so a full disk would otherwise kill training; here it becomes an
// Error naming the file, and path keeps its previous content. `what` names the file in errors.
void write_archive_atomically(torch::serialize::OutputArchive& archive, const std::string& path,
                              const std::string& what);

// Writes every buffer and parameter of `module` under its name, plus metadata, to path.
// The file appears complete or not at all (temporary file + rename).
void save_module(const torch::nn::Module& module, const ModelMetadata& metadata,
                 const std::string& path);

// Reads a file written by save_module into the buffers of `module`, whose shapes must match
// exactly. Refuses a missing file, another kind, a newer format, a missing, extra or misshaped
// tensor, with an Error naming the file and the tensor. Nothing is copied unless all checks pass.
ModelMetadata load_module(torch::nn::Module& module, const std::string& expected_kind,
                          const std::string& path);

// Reads and checks only the metadata (magic, format version, kind), so a caller can build a
// module of the right shape before load_module. Same errors as load_module.
ModelMetadata read_metadata(const std::string& expected_kind, const std::string& path);

// Every stored tensor by name (float16 widened to float32), for warm starts that map one
// model's weights onto another shape. Same errors as read_metadata.
std::map<std::string, at::Tensor> read_tensors(const std::string& expected_kind,
                                               const std::string& path);

}  // namespace faceswap::detail
