// A TensorFlow.js weights manifest and its .bin shard (face-api's pretrained nets, fetched from
// npm). The input is the manifest, then "\n--shard--\n", then the bytes of shard.bin. Refused with
// faceswap::Error(kWeightsInvalid), or read into tensors whose sizes match their shapes.
#include <cstdint>

#include "faceswap/engine.h"
#include "faceswap/weights_import.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace faceswap::fuzz;
    const auto [manifest, shard] = split_at(as_text(data, size), "\n--shard--\n");
    const std::string path = write_file("model-weights_manifest.json", manifest);
    write_file("shard.bin", shard);
    try {
        for (const auto& tensor : faceswap::read_tfjs_weights(path)) {
            std::int64_t count = 1;
            for (const auto dim : tensor.shape) count *= dim;
            FUZZ_ASSERT(static_cast<std::int64_t>(tensor.values.size()) == count);
        }
    } catch (const faceswap::Error& e) {
        FUZZ_ASSERT(e.code() == faceswap::ErrorCode::kWeightsInvalid);
    }
    return 0;
}
