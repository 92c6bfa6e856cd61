// JPEG frames for the wire (libjpeg-turbo's TurboJPEG API). A codec object owns its TurboJPEG
// handles: use one per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace faceswap::net {

enum class PixelOrder { kBgr, kRgb };

struct JpegSize {
    int width = 0;
    int height = 0;
};

class JpegCodec {
  public:
    JpegCodec();
    ~JpegCodec();
    JpegCodec(const JpegCodec&) = delete;
    JpegCodec& operator=(const JpegCodec&) = delete;

    // Compresses 8-bit interleaved pixels (stride in bytes) at quality 1..100 into out.
    void encode(const std::uint8_t* pixels, int width, int height, int stride, PixelOrder order,
                int quality, std::vector<std::uint8_t>& out);

    // Reads the dimensions from the JPEG header without decoding. Throws ProtocolError
    // (kBadPayload) for data that is not a JPEG.
    JpegSize peek(std::span<const std::uint8_t> jpeg);

    // Decodes into out (width * height * 3 bytes). The header is checked first: dimensions that
    // differ from expected, or exceed max_pixels, are refused (ProtocolError) before any pixel
    // is decoded, so a small message declaring a huge image costs nothing.
    JpegSize decode(std::span<const std::uint8_t> jpeg, JpegSize expected, std::int64_t max_pixels,
                    PixelOrder order, std::vector<std::uint8_t>& out);

  private:
    void* compressor_ = nullptr;
    void* decompressor_ = nullptr;
};

}  // namespace faceswap::net
