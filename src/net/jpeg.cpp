#include "faceswap/net/jpeg.h"

#include <turbojpeg.h>

#include <stdexcept>
#include <string>

#include "faceswap/net/protocol.h"

namespace faceswap::net {

JpegCodec::JpegCodec() : compressor_(tjInitCompress()), decompressor_(tjInitDecompress()) {
    if (!compressor_ || !decompressor_) throw std::runtime_error("cannot initialise TurboJPEG");
}

JpegCodec::~JpegCodec() {
    if (compressor_) tjDestroy(compressor_);
    if (decompressor_) tjDestroy(decompressor_);
}

void JpegCodec::encode(const std::uint8_t* pixels, int width, int height, int stride,
                       PixelOrder order, int quality, std::vector<std::uint8_t>& out) {
    if (!pixels || width < 1 || height < 1 || stride < width * 3 || quality < 1 || quality > 100)
        throw std::invalid_argument("JPEG encode: empty image, bad stride or quality");
    out.resize(tjBufSize(width, height, TJSAMP_420));
    unsigned char* buffer = out.data();
    unsigned long size = out.size();
    // TJFLAG_NOREALLOC: write into our (reused) buffer, sized for the worst case above.
    if (tjCompress2(compressor_, pixels, width, stride, height,
                    order == PixelOrder::kBgr ? TJPF_BGR : TJPF_RGB, &buffer, &size, TJSAMP_420,
                    quality, TJFLAG_NOREALLOC | TJFLAG_FASTDCT) != 0)
        throw std::runtime_error(std::string("JPEG encode failed: ") + tjGetErrorStr2(compressor_));
    out.resize(size);
}

JpegSize JpegCodec::peek(std::span<const std::uint8_t> jpeg) {
    int width = 0, height = 0, subsampling = 0, colorspace = 0;
    if (jpeg.size() < 4 || jpeg[0] != 0xFF || jpeg[1] != 0xD8 ||
        tjDecompressHeader3(decompressor_, jpeg.data(), jpeg.size(), &width, &height, &subsampling,
                            &colorspace) != 0)
        throw ProtocolError(ProtocolErrorCode::kBadPayload, "payload is not a decodable JPEG");
    return {width, height};
}

JpegSize JpegCodec::decode(std::span<const std::uint8_t> jpeg, JpegSize expected,
                           std::int64_t max_pixels, PixelOrder order,
                           std::vector<std::uint8_t>& out) {
    const JpegSize size = peek(jpeg);
    if (static_cast<std::int64_t>(size.width) * size.height > max_pixels)
        throw ProtocolError(ProtocolErrorCode::kTooLarge,
                            "JPEG declares " + std::to_string(size.width) + "x" +
                                std::to_string(size.height) + ", over the pixel limit");
    if (size.width != expected.width || size.height != expected.height)
        throw ProtocolError(ProtocolErrorCode::kBadPayload,
                            "JPEG is " + std::to_string(size.width) + "x" +
                                std::to_string(size.height) + " but the header says " +
                                std::to_string(expected.width) + "x" +
                                std::to_string(expected.height));
    out.resize(static_cast<std::size_t>(size.width) * size.height * 3);
    // Warnings count too (a truncated JPEG decodes "successfully" into grey): our clients
    // send whole frames, so anything less is refused.
    if (tjDecompress2(decompressor_, jpeg.data(), jpeg.size(), out.data(), size.width, 0,
                      size.height, order == PixelOrder::kBgr ? TJPF_BGR : TJPF_RGB,
                      TJFLAG_FASTDCT | TJFLAG_STOPONWARNING) != 0)
        throw ProtocolError(ProtocolErrorCode::kBadPayload,
                            std::string("JPEG does not decode: ") + tjGetErrorStr2(decompressor_));
    return size;
}

}  // namespace faceswap::net
