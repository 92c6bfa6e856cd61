// Bad input to the engine and the media reader: each a clear error, never a crash.
#include <catch2/catch.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <fstream>

#include "faceswap/capture/media_reader.h"
#include "test_support.h"

using faceswap::test::view_of;

using faceswap::Error;
using faceswap::ErrorCode;
using faceswap::capture::MediaError;
using faceswap::capture::MediaReader;

namespace {

std::string analyze_error(const faceswap::FrameView& frame) {
    faceswap::FaceAnalyzer analyzer(faceswap::test::shared_models(), faceswap::test::test_config());
    try {
        analyzer.analyze(frame);
    } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::kInvalidArgument);
        return e.what();
    }
    FAIL("no error");
    return {};
}

}  // namespace

TEST_CASE("an empty frame, a 1x1 image and a 10000x10000 image are refused clearly") {
    CHECK_THAT(analyze_error({}), Catch::Contains("empty"));
    const cv::Mat tiny(1, 1, CV_8UC3, cv::Scalar(10, 20, 30));
    CHECK_THAT(analyze_error(view_of(tiny)), Catch::Contains("1x1"));
    const cv::Mat huge(10000, 10000, CV_8UC3, cv::Scalar(128, 128, 128));
    CHECK_THAT(analyze_error(view_of(huge)),
               Catch::Contains("10000x10000") && Catch::Contains("scale it down"));
    // The analyzer stays usable after refusing a frame.
    faceswap::FaceAnalyzer analyzer(faceswap::test::shared_models(), faceswap::test::test_config());
    CHECK_THROWS_AS(analyzer.analyze(view_of(tiny)), Error);
    const cv::Mat grey(480, 640, CV_8UC3, cv::Scalar(90, 90, 90));
    CHECK(analyzer.analyze(view_of(grey)).faces.empty());
}

TEST_CASE("frames without faces give no faces, in any size and colour order") {
    faceswap::FaceAnalyzer analyzer(faceswap::test::shared_models(), faceswap::test::test_config());
    cv::Mat noise(301, 517, CV_8UC3);
    cv::randu(noise, 0, 255);
    CHECK(analyzer.analyze(view_of(noise)).faces.empty());
    faceswap::FrameView rgb = view_of(noise);
    rgb.format = faceswap::PixelFormat::RGB24;
    CHECK(analyzer.analyze(rgb).faces.empty());
}

TEST_CASE("invalid settings are refused by name") {
    faceswap::EngineConfig config = faceswap::test::test_config();
    config.aligned_size = 1000;
    CHECK_THROWS_WITH(config.validate(), Catch::Contains("aligned_size"));
    config = faceswap::test::test_config();
    config.detector_min_score = 1.5f;
    CHECK_THROWS_WITH(faceswap::FaceAnalyzer(faceswap::test::shared_models(), config),
                      Catch::Contains("detector_min_score"));
}

TEST_CASE("media that does not exist, is empty or is not media is a clear error") {
    faceswap::test::TempDir dir;
    CHECK_THROWS_WITH(MediaReader::open((dir.path() / "missing.mp4").string()),
                      Catch::Contains("no such file"));
    std::ofstream(dir.path() / "empty.jpg").close();
    CHECK_THROWS_WITH(MediaReader::open((dir.path() / "empty.jpg").string()),
                      Catch::Contains("empty"));
    std::ofstream(dir.path() / "text.jpg") << "not an image at all";
    auto reader = MediaReader::open((dir.path() / "text.jpg").string());
    faceswap::capture::DecodedFrame frame;
    CHECK_THROWS_WITH(reader->next(frame), Catch::Contains("not a readable image"));
    std::ofstream(dir.path() / "text.mp4") << "not a video either";
    CHECK_THROWS_AS(
        [&] {
            auto video = MediaReader::open((dir.path() / "text.mp4").string());
            video->next(frame);
        }(),
        MediaError);
    const auto empty_folder = dir.path() / "folder";
    std::filesystem::create_directories(empty_folder);
    CHECK_THROWS_WITH(MediaReader::open(empty_folder.string()), Catch::Contains("no images"));
}

TEST_CASE("a real video with no faces is read to the end and yields no faces") {
    faceswap::test::TempDir dir;
    const auto path = (dir.path() / "no_faces.avi").string();
    {
        cv::VideoWriter writer(path, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 25,
                               cv::Size(320, 240));
        REQUIRE(writer.isOpened());
        for (int i = 0; i < 20; ++i) {
            cv::Mat frame(240, 320, CV_8UC3, cv::Scalar(40, 80 + i, 120));
            cv::circle(frame, {160 + i, 120}, 30, cv::Scalar(200, 200, 200), -1);
            writer.write(frame);
        }
    }
    auto reader = MediaReader::open(path);
    faceswap::FaceAnalyzer analyzer(faceswap::test::shared_models(), faceswap::test::test_config());
    faceswap::capture::DecodedFrame frame;
    int frames = 0, faces = 0;
    while (reader->next(frame)) {
        ++frames;
        faces += static_cast<int>(analyzer.analyze(view_of(frame.bgr)).faces.size());
    }
    CHECK(frames == 20);
    CHECK(faces == 0);
}
