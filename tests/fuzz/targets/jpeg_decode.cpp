// A frame's JPEG payload as the server decodes it: the header is checked first (peek), then the
// picture is decoded at the size the frame header announced, within a pixel budget. Bad data is
// a ProtocolError; a decoded picture has exactly width * height * 3 bytes.
#include <cstdint>
#include <vector>

#include "faceswap/net/jpeg.h"
#include "faceswap/net/protocol.h"
#include "fuzz_support.h"

using namespace faceswap::net;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static JpegCodec codec;
    static std::vector<std::uint8_t> pixels;
    const std::span<const std::uint8_t> jpeg(data, size);
    JpegSize header;
    try {
        header = codec.peek(jpeg);
    } catch (const ProtocolError&) {
        return 0;
    }
    // A budget well under the server's own (3840x2160) keeps each run fast; what is refused over
    // the budget is refused before any pixel is decoded, whatever the budget.
    constexpr std::int64_t kMaxPixels = 1024 * 1024;
    try {
        const JpegSize decoded = codec.decode(jpeg, header, kMaxPixels, PixelOrder::kBgr, pixels);
        FUZZ_ASSERT(decoded.width == header.width && decoded.height == header.height);
        FUZZ_ASSERT(static_cast<std::int64_t>(decoded.width) * decoded.height <= kMaxPixels);
        FUZZ_ASSERT(pixels.size() == static_cast<std::size_t>(decoded.width) * decoded.height * 3);
    } catch (const ProtocolError&) {
    }
    return 0;
}
