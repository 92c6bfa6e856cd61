// The JPEG codec on a real photo: round trip, and refusal of what is not a whole JPEG of the
// announced size (checked before decoding, so a huge declared size costs nothing).
#include <catch2/catch.hpp>
#include <opencv2/imgcodecs.hpp>

#include <cmath>
#include <fstream>

#include "faceswap/net/jpeg.h"
#include "faceswap/net/protocol.h"
#include "test_support.h"

using namespace faceswap::net;

namespace {

std::vector<std::uint8_t> read_bytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

ProtocolErrorCode refusal(JpegCodec& codec, const std::vector<std::uint8_t>& jpeg,
                          JpegSize expected, std::int64_t max_pixels = 1 << 24) {
    std::vector<std::uint8_t> out;
    try {
        codec.decode(jpeg, expected, max_pixels, PixelOrder::kBgr, out);
    } catch (const ProtocolError& e) {
        return e.code();
    }
    FAIL("decoded");
    return ProtocolErrorCode::kMalformed;
}

}  // namespace

TEST_CASE("a real frame survives a JPEG round trip") {
    const cv::Mat image = cv::imread((faceswap::test::media_dir() / "franck_01829.jpg").string());
    REQUIRE_FALSE(image.empty());
    JpegCodec codec;
    std::vector<std::uint8_t> jpeg, pixels;
    codec.encode(image.data, image.cols, image.rows, static_cast<int>(image.step[0]),
                 PixelOrder::kBgr, 90, jpeg);
    CHECK(jpeg.size() < image.total() * 3 / 4);
    const JpegSize size =
        codec.decode(jpeg, {image.cols, image.rows}, 1 << 24, PixelOrder::kBgr, pixels);
    REQUIRE(size.width == image.cols);
    double squared = 0;
    for (std::size_t i = 0; i < pixels.size(); ++i) {
        const double d = double(pixels[i]) - image.data[i];
        squared += d * d;
    }
    const double psnr = 10 * std::log10(255.0 * 255.0 / (squared / pixels.size()));
    CHECK(psnr > 32);
}

TEST_CASE("non-JPEG, truncated, mismatched and huge-declared payloads are refused") {
    const auto jpeg = read_bytes(faceswap::test::media_dir() / "franck_01829.jpg");
    JpegCodec codec;
    const JpegSize size = codec.peek(jpeg);
    REQUIRE(size.width == 720);

    CHECK(refusal(codec, {1, 2, 3, 4, 5}, size) == ProtocolErrorCode::kBadPayload);
    const std::vector<std::uint8_t> truncated(jpeg.begin(), jpeg.begin() + jpeg.size() / 2);
    CHECK(refusal(codec, truncated, size) == ProtocolErrorCode::kBadPayload);
    CHECK(refusal(codec, jpeg, {640, 480}) == ProtocolErrorCode::kBadPayload);

    // Rewrite the frame header (SOF0/SOF2) to declare 60000x60000.
    auto huge = jpeg;
    bool patched = false;
    for (std::size_t i = 0; i + 8 < huge.size(); ++i)
        if (huge[i] == 0xFF && (huge[i + 1] == 0xC0 || huge[i + 1] == 0xC2)) {
            huge[i + 5] = 0xEA, huge[i + 6] = 0x60;  // height 60000
            huge[i + 7] = 0xEA, huge[i + 8] = 0x60;  // width 60000
            patched = true;
            break;
        }
    REQUIRE(patched);
    CHECK(refusal(codec, huge, {60000, 60000}, 3840 * 2160) == ProtocolErrorCode::kTooLarge);
}
