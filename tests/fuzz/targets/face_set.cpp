// A face set folder as `faceswap train` reads it (faces.json and its PNG crops), which users
// download from others. The input is faces.json, then "\n--crop--\n", then the bytes of the one
// crop file, face0.png. Refused with std::runtime_error, or loaded with consistent sizes.
#include <cstdint>
#include <stdexcept>

#include "face_set.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace faceswap::fuzz;
    const auto [json, crop] = split_at(as_text(data, size), "\n--crop--\n");
    write_file("faces.json", json);
    write_file("face0.png", crop);
    int skipped = 0;
    try {
        const auto set = faceswap::cli::load_face_set(scratch_dir().string(), "fuzz", &skipped);
        FUZZ_ASSERT(skipped >= 0);
        FUZZ_ASSERT(set.rgb.size() ==
                    static_cast<std::size_t>(set.count()) * set.size * set.size * 3);
    } catch (const std::runtime_error&) {
    }
    return 0;
}
