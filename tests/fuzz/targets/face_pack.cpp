// A face pack (faceswap pack), the compact training set carried to a GPU machine and shared
// between users: raw and JPEG encodings, read with the CLI's own decoder. Refused with
// faceswap::Error, or read into a set whose sizes agree.
#include <cstdint>

#include "face_set.h"
#include "faceswap/engine.h"
#include "faceswap/face_pack.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace faceswap::fuzz;
    const std::string path = write_file("faces.fspack", as_text(data, size));
    static const faceswap::FaceDecoder decoder = faceswap::cli::opencv_face_decoder();
    try {
        const auto set = faceswap::read_face_pack(path, decoder);
        FUZZ_ASSERT(set.size > 0);
        FUZZ_ASSERT(set.rgb.size() ==
                    static_cast<std::size_t>(set.count()) * set.size * set.size * 3);
    } catch (const faceswap::Error&) {
    }
    return 0;
}
