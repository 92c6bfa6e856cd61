// The virtual camera's parts that this machine can test without the v4l2loopback module (no
// kernel modules load here): device discovery, the refusals and their messages, the YUYV
// conversion. Writing to a real loopback device and format negotiation with its driver are not
// verified here (docs/outputs.md).
#include <catch2/catch.hpp>

#include <opencv2/imgproc.hpp>

#include <fstream>

#include "faceswap/capture/media_reader.h"
#include "faceswap/capture/v4l2_output.h"
#include "test_support.h"

using namespace faceswap::capture;

TEST_CASE("loopback discovery lists only devices whose driver is v4l2 loopback") {
    faceswap::test::TempDir dir;
    std::ofstream(dir.path() / "video0") << "not a device";
    std::ofstream(dir.path() / "null") << "";
    CHECK(find_loopback_devices(dir.path().string()).empty());
    // This machine's own /dev: whatever is there, every entry listed is a loopback device.
    for (const auto& device : find_loopback_devices())
        CHECK(device.path.rfind("/dev/video", 0) == 0);
}

TEST_CASE("a virtual camera that cannot be opened says how to make one") {
    VirtualCameraOptions options;
    if (find_loopback_devices().empty()) {
        CHECK_THROWS_WITH(V4l2Output(options), Catch::Contains("modprobe v4l2loopback"));
    }
    options.device = "/dev/null";
    CHECK_THROWS_WITH(
        V4l2Output(options),
        Catch::Contains("/dev/null is not a v4l2loopback device") && Catch::Contains("modprobe"));
    options.device = "/nonexistent/video9";
    CHECK_THROWS_WITH(V4l2Output(options), Catch::Contains("cannot open the virtual camera"));
    options.device = "/dev/null";
    options.width = 641;
    CHECK_THROWS_WITH(V4l2Output(options), Catch::Contains("width must be even"));
}

TEST_CASE("BGR to YUYV gives the video-range values cameras send and decodes back") {
    std::vector<unsigned char> yuyv;
    cv::Mat white(2, 2, CV_8UC3, cv::Scalar(255, 255, 255)),
        black(2, 2, CV_8UC3, cv::Scalar(0, 0, 0));
    bgr_to_yuyv(white, yuyv);
    CHECK(std::vector<unsigned char>(yuyv.begin(), yuyv.begin() + 4) ==
          std::vector<unsigned char>{235, 128, 235, 128});
    bgr_to_yuyv(black, yuyv);
    CHECK(std::vector<unsigned char>(yuyv.begin(), yuyv.begin() + 4) ==
          std::vector<unsigned char>{16, 128, 16, 128});

    // A real frame survives YUYV and OpenCV's decoder within the chroma subsampling's loss.
    auto reader = MediaReader::open((faceswap::test::media_dir() / "franck.mp4").string());
    DecodedFrame frame;
    REQUIRE(reader->next(frame));
    bgr_to_yuyv(frame.bgr, yuyv);
    const cv::Mat packed(frame.bgr.rows, frame.bgr.cols, CV_8UC2, yuyv.data());
    cv::Mat back;
    cv::cvtColor(packed, back, cv::COLOR_YUV2BGR_YUY2);
    cv::Mat difference;
    cv::absdiff(back, frame.bgr, difference);
    const cv::Scalar mean = cv::mean(difference);
    CHECK((mean[0] + mean[1] + mean[2]) / 3 < 4.0);
}
