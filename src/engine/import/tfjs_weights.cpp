#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string_view>

#include "faceswap/engine.h"
#include "faceswap/json_integer.h"
#include "faceswap/weights_import.h"

namespace faceswap {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const std::string& message) {
    throw Error(ErrorCode::kWeightsInvalid, message);
}

std::vector<std::uint8_t> read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(path.string() + ": cannot open weights file; run 'make setup' to fetch it");
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::int64_t element_count(const std::vector<std::int64_t>& shape, const std::string& context) {
    std::int64_t count = 1;
    for (std::int64_t dim : shape) {
        if (dim < 0 || (dim > 0 && count > std::numeric_limits<std::int32_t>::max() / dim))
            fail(context + ": invalid shape");
        count *= dim;
    }
    return count;
}

}  // namespace

std::vector<TfjsTensor> read_tfjs_weights(const std::string& manifest_path) {
    const fs::path manifest_file(manifest_path);
    nlohmann::json manifest;
    {
        std::ifstream in(manifest_file);
        if (!in) fail(manifest_path + ": cannot open manifest; run 'make setup' to fetch it");
        try {
            in >> manifest;
        } catch (const nlohmann::json::exception& e) {
            fail(manifest_path + ": not valid JSON (" + e.what() + ")");
        }
    }
    if (!manifest.is_array() || manifest.empty())
        fail(manifest_path + ": expected a non-empty array of weight groups");

    std::vector<TfjsTensor> tensors;
    for (const auto& group : manifest) {
        if (!group.is_object() || !group.contains("paths") || !group.contains("weights") ||
            !group["paths"].is_array() || !group["weights"].is_array())
            fail(manifest_path + ": a weight group lacks 'paths' or 'weights'");
        // The shards of one group form one byte stream, tensors concatenated in manifest order.
        std::vector<std::uint8_t> bytes;
        std::string shard_names;
        for (const auto& shard : group["paths"]) {
            if (!shard.is_string()) fail(manifest_path + ": a shard path is not a string");
            // Shards lie beside their manifest: a name with a folder in it (or "..") could make
            // a downloaded manifest read any file of the machine.
            const std::string name = shard.get<std::string>();
            if (name.empty() || name == "." || name == ".." ||
                name.find_first_of(std::string_view("/\\\0", 3)) != std::string::npos)
                fail(manifest_path + ": shard path '" + name +
                     "' is not a file name beside the manifest");
            const fs::path shard_path = manifest_file.parent_path() / name;
            const auto shard_bytes = read_file(shard_path);
            bytes.insert(bytes.end(), shard_bytes.begin(), shard_bytes.end());
            shard_names += (shard_names.empty() ? "" : "+") + shard_path.string();
        }
        size_t offset = 0;
        for (const auto& weight : group["weights"]) {
            TfjsTensor tensor;
            try {
                tensor.name = weight.at("name").get<std::string>();
                // Integers only: get<vector<int64_t>> would convert floats (undefined past the
                // range: found by fuzz_tfjs_weights).
                if (!weight.at("shape").is_array())
                    fail(manifest_path + ": tensor '" + tensor.name + "' has no shape list");
                for (const auto& dim : weight.at("shape")) {
                    const auto size = json_integer<std::int64_t>(dim);
                    if (!size)
                        fail(manifest_path + ": tensor '" + tensor.name +
                             "' has a shape entry that is not an integer");
                    tensor.shape.push_back(*size);
                }
                tensor.dtype = weight.at("dtype").get<std::string>();
            } catch (const nlohmann::json::exception& e) {
                fail(manifest_path + ": malformed weight entry (" + e.what() + ")");
            }
            const std::string context = shard_names + ": tensor '" + tensor.name + "'";
            if (tensor.dtype != "float32" && tensor.dtype != "int32")
                fail(context + " has unsupported dtype '" + tensor.dtype + "'");
            const std::int64_t count = element_count(tensor.shape, context);

            std::string stored = tensor.dtype;
            double minimum = 0, scale = 1;
            if (weight.contains("quantization")) {
                const auto& q = weight["quantization"];
                try {
                    stored = q.at("dtype").get<std::string>();
                    minimum = q.at("min").get<double>();
                    scale = q.at("scale").get<double>();
                } catch (const nlohmann::json::exception& e) {
                    fail(context + " has a malformed quantization entry");
                }
                if (stored != "uint8" && stored != "uint16")
                    fail(context + " has unsupported quantization dtype '" + stored + "'");
            }
            const size_t element_bytes = stored == "uint8" ? 1 : stored == "uint16" ? 2 : 4;
            const size_t needed = static_cast<size_t>(count) * element_bytes;
            if (offset + needed > bytes.size())
                fail(context + " needs bytes " + std::to_string(offset) + ".." +
                     std::to_string(offset + needed) + " but the file has only " +
                     std::to_string(bytes.size()) +
                     " (truncated .bin or a manifest that does not match it)");

            tensor.values.resize(count);
            const std::uint8_t* data = bytes.data() + offset;
            for (std::int64_t i = 0; i < count; ++i) {
                double value;
                if (stored == "uint8") {
                    value = minimum + scale * data[i];
                } else if (stored == "uint16") {
                    std::uint16_t q;
                    std::memcpy(&q, data + 2 * i, 2);
                    value = minimum + scale * q;
                } else if (stored == "float32") {
                    float f;
                    std::memcpy(&f, data + 4 * i, 4);
                    value = f;
                } else {
                    std::int32_t n;
                    std::memcpy(&n, data + 4 * i, 4);
                    value = n;
                }
                if (tensor.dtype == "int32") value = std::round(value);
                if (!std::isfinite(value) || std::abs(value) > std::numeric_limits<float>::max())
                    fail(context + " holds a value that is not a finite float32");
                tensor.values[i] = static_cast<float>(value);
            }
            offset += needed;
            tensors.push_back(std::move(tensor));
        }
        if (offset != bytes.size())
            fail(shard_names + ": has " + std::to_string(bytes.size()) +
                 " bytes but the manifest describes " + std::to_string(offset) +
                 " (the manifest does not match the .bin)");
    }
    return tensors;
}

}  // namespace faceswap
