#include "model_file.h"

#include <ATen/core/grad_mode.h>
#include <torch/nn/module.h>
#include <torch/serialize/output-archive.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "faceswap/engine.h"
#include "model_archive.h"

namespace faceswap::detail {
namespace {

constexpr const char* kMagicKey = "__faceswap_magic";
constexpr const char* kMagic = "faceswap-model";
constexpr const char* kVersionKey = "__format_version";
constexpr const char* kKindKey = "__kind";
constexpr const char* kSourceKey = "__source";
constexpr const char* kAttributePrefix = "__attr_";

std::map<std::string, at::Tensor> named_tensors(const torch::nn::Module& module) {
    std::map<std::string, at::Tensor> tensors;
    for (const auto& item : module.named_parameters()) tensors[item.key()] = item.value();
    for (const auto& item : module.named_buffers()) tensors[item.key()] = item.value();
    return tensors;
}

std::string read_string(const ModuleArchive& archive, const char* key, const std::string& path) {
    const auto found = archive.values().find(key);
    if (found == archive.values().end() || found->second.kind != ArchiveValue::Kind::kString)
        throw Error(ErrorCode::kModelCorrupt,
                    path + ": not a faceswap model file (no '" + key +
                        "'); run 'faceswap import-weights' or 'make setup' to recreate it");
    return found->second.text;
}

}  // namespace

std::string shape_string(at::IntArrayRef sizes) {
    std::ostringstream out;
    out << '[';
    for (size_t i = 0; i < sizes.size(); ++i) out << (i ? "," : "") << sizes[i];
    out << ']';
    return out.str();
}

void save_module(const torch::nn::Module& module, const ModelMetadata& metadata,
                 const std::string& path) {
    torch::serialize::OutputArchive archive;
    archive.write(kMagicKey, c10::IValue(std::string(kMagic)));
    archive.write(kVersionKey, c10::IValue(metadata.format_version));
    archive.write(kKindKey, c10::IValue(metadata.kind));
    archive.write(kSourceKey, c10::IValue(metadata.source));
    for (const auto& [name, value] : metadata.attributes)
        archive.write(kAttributePrefix + name, c10::IValue(value));
    for (const auto& [name, tensor] : named_tensors(module)) {
        at::Tensor stored = tensor.detach().cpu().contiguous();
        if (metadata.half_precision && stored.scalar_type() == at::kFloat)
            stored = stored.to(at::kHalf);
        archive.write(name, stored, /*is_buffer=*/true);
    }

    write_archive_atomically(archive, path, "model file");
}

void write_archive_atomically(torch::serialize::OutputArchive& archive, const std::string& path,
                              const std::string& what) {
    std::ostringstream bytes;
    archive.save_to(bytes);
    const std::string data = bytes.str();
    const std::string temporary = path + ".partial-" + std::to_string(::getpid());
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    std::string error;
    if (fd < 0) {
        error = std::strerror(errno);
    } else {
        size_t written = 0;
        while (written < data.size()) {
            const ssize_t n = ::write(fd, data.data() + written, data.size() - written);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                error = n < 0 ? std::strerror(errno) : "short write";
                break;
            }
            written += static_cast<size_t>(n);
        }
        // Data on disk before the rename makes it visible: a power cut never shows a hole.
        if (error.empty() && ::fsync(fd) != 0) error = std::strerror(errno);
        if (::close(fd) != 0 && error.empty()) error = std::strerror(errno);
    }
    if (error.empty() && ::rename(temporary.c_str(), path.c_str()) != 0)
        error = std::strerror(errno);
    if (!error.empty()) {
        ::unlink(temporary.c_str());
        throw Error(ErrorCode::kInternal, "cannot write " + what + " " + path + " (" + error +
                                              "); the previous file, if any, is intact");
    }
}

namespace {

// What to do about a missing or unreadable file: the face nets come from 'make setup', a swap
// model from training or from wherever it was downloaded.
std::string remedy_for(const std::string& kind, bool missing) {
    if (kind == "swap_autoencoder")
        return missing ? "check the path, or train one with 'faceswap train'"
                       : "it is damaged or not a swap model: train it again or download it again";
    return missing ? "run 'make setup' (or 'faceswap import-weights') first"
                   : "delete it and run 'make setup' to recreate it";
}

// Opens path with our own archive reader (model_archive.h: LibTorch's reader trusts what a
// damaged file declares) and checks magic, format version and kind; fills metadata.
ModuleArchive open_model_archive(ModelMetadata& metadata, const std::string& expected_kind,
                                 const std::string& path) {
    if (!std::filesystem::is_regular_file(path))
        throw Error(ErrorCode::kModelMissing,
                    "model file " + path + " not found; " + remedy_for(expected_kind, true));
    ModuleArchive archive = [&] {
        try {
            return ModuleArchive::open(path);
        } catch (const ArchiveProblem& e) {
            throw Error(ErrorCode::kModelCorrupt, path + " is not a readable model file (" +
                                                      e.what() + "); " +
                                                      remedy_for(expected_kind, false));
        }
    }();
    if (read_string(archive, kMagicKey, path) != kMagic)
        throw Error(ErrorCode::kModelCorrupt, path + ": not a faceswap model file");
    const auto version = archive.values().find(kVersionKey);
    if (version == archive.values().end() || version->second.kind != ArchiveValue::Kind::kInteger)
        throw Error(ErrorCode::kModelCorrupt, path + ": model file has no format version");
    metadata.format_version = version->second.integer;
    if (metadata.format_version > kModelFormatVersion)
        throw Error(ErrorCode::kModelVersion,
                    path + ": model format version " + std::to_string(metadata.format_version) +
                        " is newer than this build supports (" +
                        std::to_string(kModelFormatVersion) + "); update faceswap");
    metadata.kind = read_string(archive, kKindKey, path);
    metadata.source = read_string(archive, kSourceKey, path);
    if (metadata.kind != expected_kind)
        throw Error(ErrorCode::kModelCorrupt, path + ": holds a '" + metadata.kind +
                                                  "' model, expected '" + expected_kind + "'");

    const std::string prefix = kAttributePrefix;
    for (const auto& [key, value] : archive.values())
        if (key.rfind(prefix, 0) == 0 && value.kind == ArchiveValue::Kind::kString)
            metadata.attributes[key.substr(prefix.size())] = value.text;
    return archive;
}

at::ScalarType scalar_type_of(const std::string& storage_type) {
    static const std::map<std::string, at::ScalarType> types = {
        {"Double", at::kDouble},
        {"Float", at::kFloat},
        {"Half", at::kHalf},
        {"BFloat16", at::kBFloat16},
        {"Long", at::kLong},
        {"Int", at::kInt},
        {"Short", at::kShort},
        {"Char", at::kChar},
        {"Byte", at::kByte},
        {"Bool", at::kBool},
        {"ComplexFloat", at::kComplexFloat},
        {"ComplexDouble", at::kComplexDouble}};
    return types.at(storage_type);  // model_archive.cpp accepts only these
}

// The stored tensor `name`, as a contiguous tensor of its own (undefined when there is none).
at::Tensor read_tensor(const ModuleArchive& archive, const std::string& name,
                       const std::string& path) {
    const auto found = archive.values().find(name);
    if (found == archive.values().end() || found->second.kind != ArchiveValue::Kind::kTensor)
        return {};
    const ArchiveTensor& stored = found->second.tensor;
    at::Tensor storage = at::empty({stored.storage_elements},
                                   at::TensorOptions().dtype(scalar_type_of(stored.type)));
    try {
        archive.read_storage(stored, storage.data_ptr());
    } catch (const ArchiveProblem& e) {
        throw Error(ErrorCode::kModelCorrupt, path + ": tensor '" + name + "': " + e.what());
    }
    return storage.as_strided(stored.sizes, stored.strides, stored.offset)
        .clone(at::MemoryFormat::Contiguous);
}

bool is_metadata(const std::string& key) {
    return key.rfind("__", 0) == 0;
}

}  // namespace

ModelMetadata read_metadata(const std::string& expected_kind, const std::string& path) {
    ModelMetadata metadata;
    open_model_archive(metadata, expected_kind, path);
    return metadata;
}

ModelMetadata load_module(torch::nn::Module& module, const std::string& expected_kind,
                          const std::string& path) {
    ModelMetadata metadata;
    const ModuleArchive archive = open_model_archive(metadata, expected_kind, path);

    // Read and check everything first, copy afterwards: never leave a module half-loaded.
    auto targets = named_tensors(module);
    std::map<std::string, at::Tensor> loaded;
    for (const auto& [name, target] : targets) {
        at::Tensor value = read_tensor(archive, name, path);
        if (!value.defined())
            throw Error(ErrorCode::kModelCorrupt,
                        path + ": tensor '" + name + "' is missing from the model file");
        if (value.sizes() != target.sizes())
            throw Error(ErrorCode::kModelCorrupt, path + ": tensor '" + name + "' has shape " +
                                                      shape_string(value.sizes()) + ", expected " +
                                                      shape_string(target.sizes()));
        // Models may be stored in half precision to stay small; compute stays in float.
        if (value.scalar_type() == at::kHalf && target.scalar_type() == at::kFloat)
            value = value.to(at::kFloat);
        if (value.scalar_type() != target.scalar_type())
            throw Error(ErrorCode::kModelCorrupt,
                        path + ": tensor '" + name + "' has the wrong element type");
        loaded[name] = value;
    }
    size_t stored_tensors = 0;
    for (const auto& item : archive.values())
        if (!is_metadata(item.first)) ++stored_tensors;
    if (stored_tensors != targets.size())
        throw Error(ErrorCode::kModelCorrupt, path + ": holds " + std::to_string(stored_tensors) +
                                                  " tensors, expected " +
                                                  std::to_string(targets.size()));

    at::NoGradGuard no_grad;
    for (auto& [name, target] : targets) target.copy_(loaded[name]);
    return metadata;
}

std::map<std::string, at::Tensor> read_tensors(const std::string& expected_kind,
                                               const std::string& path) {
    ModelMetadata metadata;
    const ModuleArchive archive = open_model_archive(metadata, expected_kind, path);
    std::map<std::string, at::Tensor> tensors;
    for (const auto& [key, value] : archive.values()) {
        if (is_metadata(key) || value.kind != ArchiveValue::Kind::kTensor) continue;
        at::Tensor tensor = read_tensor(archive, key, path);
        tensors[key] = tensor.scalar_type() == at::kHalf ? tensor.to(at::kFloat) : tensor;
    }
    return tensors;
}

}  // namespace faceswap::detail
