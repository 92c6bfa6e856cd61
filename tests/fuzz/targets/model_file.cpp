// A .fsmodel file, as the app, the CLI and the server's model store read what users download
// or upload: its metadata first, then every tensor. Refused with faceswap::Error, never a crash.
#include <cstdint>

#include "faceswap/engine.h"
#include "fuzz_support.h"
#include "model_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace faceswap::fuzz;
    const std::string path = write_file("model.fsmodel", as_text(data, size));
    try {
        const auto metadata = faceswap::detail::read_metadata("swap_autoencoder", path);
        FUZZ_ASSERT(metadata.kind == "swap_autoencoder");
        const auto tensors = faceswap::detail::read_tensors("swap_autoencoder", path);
        for (const auto& [name, tensor] : tensors) FUZZ_ASSERT(tensor.defined());
    } catch (const faceswap::Error&) {
    }
    return 0;
}
