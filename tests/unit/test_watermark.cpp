// The invisible watermark (faceswap/capture/watermark.h) on a real frame: invisible by PSNR,
// its payload read back as marked, after JPEG 70, a 0.5x downscale and a 10% crop (x264 CRF 28
// and the false-positive rate on whole videos are faceswap-watermark-bench's), and never "found"
// where it is not: unmarked, another key, flat or tiny frames.
#include <catch2/catch.hpp>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "faceswap/capture/watermark.h"
#include "test_support.h"

using faceswap::capture::Watermark;

namespace {

cv::Mat test_frame() {
    cv::Mat photo = cv::imread((faceswap::test::media_dir() / "franck_02159.jpg").string());
    REQUIRE_FALSE(photo.empty());
    cv::Mat frame;
    cv::resize(photo, frame, {640, 480}, 0, 0, cv::INTER_AREA);
    return frame;
}

}  // namespace

TEST_CASE("watermark: invisible, and its payload is read back after JPEG, downscale and crop") {
    const cv::Mat original = test_frame();
    const Watermark mark;
    for (const std::uint32_t payload : {0xA5C3F00Du, 0u, 0xFFFFFFFFu, 0x12345678u}) {
        INFO("payload " << payload);
        cv::Mat marked = original.clone();
        mark.embed(marked, payload);
        CHECK(cv::PSNR(original, marked) >= 39.5);

        std::vector<uchar> jpeg;
        REQUIRE(cv::imencode(".jpg", marked, jpeg, {cv::IMWRITE_JPEG_QUALITY, 70}));
        cv::Mat half;
        cv::resize(marked, half, {320, 240}, 0, 0, cv::INTER_AREA);
        const std::pair<const char*, cv::Mat> copies[] = {
            {"as marked", marked},
            {"JPEG 70", cv::imdecode(jpeg, cv::IMREAD_COLOR)},
            {"0.5x", half},
            {"10% crop", marked(cv::Rect(32, 24, 576, 432)).clone()},
        };
        for (const auto& [name, copy] : copies) {
            INFO(name);
            const auto reading = mark.detect(copy);
            CHECK(reading.found);
            CHECK(reading.payload == payload);
            CHECK(reading.sync_score >= Watermark::kFoundScore);
        }
        CHECK(mark.detect(half).scale == Approx(0.5));
    }
}

TEST_CASE("watermark: not found where there is none") {
    const cv::Mat original = test_frame();
    const Watermark mark;
    CHECK_FALSE(mark.detect(original).found);
    CHECK(mark.detect(original).sync_score < Watermark::kFoundScore);
    cv::Mat marked = original.clone();
    mark.embed(marked, 42);
    CHECK_FALSE(Watermark(12345).detect(marked).found);  // another key sees nothing
    const cv::Mat flat(480, 640, CV_8UC3, cv::Scalar(128, 128, 128));
    CHECK_FALSE(mark.detect(flat).found);
    const cv::Mat tiny(40, 60, CV_8UC3, cv::Scalar(10, 200, 30));
    CHECK_FALSE(mark.detect(tiny).found);
    cv::Mat tiny_marked = tiny.clone();
    mark.embed(tiny_marked, 7);  // smaller than a tile: marked, though too small to read back
    CHECK(tiny_marked.size() == tiny.size());
}

TEST_CASE("watermark: the check code is CRC-8 and changes with any payload bit") {
    CHECK(faceswap::capture::watermark_check_code(0) == 0);
    const std::uint8_t code = faceswap::capture::watermark_check_code(0xA5C3F00D);
    for (int bit = 0; bit < 32; ++bit)
        CHECK(faceswap::capture::watermark_check_code(0xA5C3F00Du ^ (1u << bit)) != code);
}
