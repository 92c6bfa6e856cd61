// Tracking on real pixels: several faces keep stable ids, and a face that vanishes is dropped
// at once rather than tracked as a ghost until the next detector run.
#include <catch2/catch.hpp>
#include <opencv2/imgcodecs.hpp>

#include <malloc.h>

#include <cstdio>
#include <map>
#include <set>

#include "faceswap/capture/media_reader.h"
#include "test_support.h"

using faceswap::test::view_of;

TEST_CASE("several faces keep stable track ids while the camera pans") {
    // An 1800x1000 window panning across a real group photo (3 faces), 2 px per frame.
    const cv::Mat photo =
        cv::imread((faceswap::test::cache_dir() / "golden-inputs/sample1.png").string());
    REQUIRE_FALSE(photo.empty());
    faceswap::FaceAnalyzer analyzer(faceswap::test::shared_models(), faceswap::test::test_config());
    std::set<int> ids_seen;
    std::map<int, float> last_x;  // track id -> face centre x in photo coordinates
    int detector_runs = 0;
    for (int frame = 0; frame < 40; ++frame) {
        const int offset = 2 * frame;
        const cv::Mat window = photo(cv::Rect(offset, 100, 1800, 1000)).clone();
        const auto result = analyzer.analyze(view_of(window));
        detector_runs += result.detector_ran;
        REQUIRE(result.faces.size() == 3);
        for (const auto& face : result.faces) {
            ids_seen.insert(face.track_id);
            float x = 0;
            for (const auto& p : face.landmarks) x += p.x / faceswap::kLandmarkCount;
            x += offset;
            if (last_x.count(face.track_id)) CHECK(std::abs(x - last_x[face.track_id]) < 8.f);
            last_x[face.track_id] = x;
        }
    }
    CHECK(ids_seen.size() == 3);  // the same three ids throughout
    CHECK(detector_runs <= 5);
}

TEST_CASE("a face that vanishes is dropped on the next frame") {
    auto reader =
        faceswap::capture::MediaReader::open((faceswap::test::media_dir() / "franck.mp4").string());
    faceswap::FaceAnalyzer analyzer(faceswap::test::shared_models(), faceswap::test::test_config());
    faceswap::capture::DecodedFrame frame;
    for (int i = 0; i < 5; ++i) {
        REQUIRE(reader->next(frame));
        REQUIRE(analyzer.analyze(view_of(frame.bgr)).faces.size() == 1);
    }
    const cv::Mat empty_room(frame.bgr.rows, frame.bgr.cols, CV_8UC3, cv::Scalar(70, 90, 110));
    const auto gone = analyzer.analyze(view_of(empty_room));
    CHECK(gone.faces.empty());
    // And it comes back as soon as the face does.
    REQUIRE(reader->next(frame));
    CHECK(analyzer.analyze(view_of(frame.bgr)).faces.size() == 1);
}

TEST_CASE("memory in use stays flat over many frames (no per-frame growth)") {
    auto reader =
        faceswap::capture::MediaReader::open((faceswap::test::media_dir() / "franck.mp4").string());
    std::vector<cv::Mat> frames;
    faceswap::capture::DecodedFrame frame;
    while (frames.size() < 60 && reader->next(frame)) frames.push_back(frame.bgr.clone());
    faceswap::FaceAnalyzer analyzer(faceswap::test::shared_models(), faceswap::test::test_config());
    auto in_use = [] {
        const struct mallinfo2 info = ::mallinfo2();
        return static_cast<double>(info.uordblks + info.hblkhd);
    };
    auto run = [&](int rounds) {
        for (int r = 0; r < rounds; ++r)
            for (size_t i = 0; i < frames.size(); ++i)
                analyzer.analyze(view_of(frames[r % 2 ? frames.size() - 1 - i : i]),
                                 faceswap::CropOutput::kAlignedRgb);
    };
    run(1);  // warm-up: buffers sized, grids cached
    const double before = in_use();
    run(4);
    const double after = in_use();
    std::printf("heap in use: %.1f MB before, %.1f MB after 240 more frames\n", before / 1e6,
                after / 1e6);
    CHECK(after - before < 2e6);
}

TEST_CASE(
    "background detection: tracks hold, the detector never runs inline on tracked frames, and a "
    "new face is picked up") {
    // The same panning group photo: three faces all along; then a fourth face is pasted in, as
    // a person walking into view, and must be found by the background detector alone.
    const cv::Mat photo =
        cv::imread((faceswap::test::cache_dir() / "golden-inputs/sample1.png").string());
    REQUIRE_FALSE(photo.empty());
    auto config = faceswap::test::test_config();
    config.background_detection = true;
    config.detect_every_n_frames = 4;
    faceswap::FaceAnalyzer analyzer(faceswap::test::shared_models(), config);
    std::set<int> ids_seen;
    int inline_detections = 0;
    for (int frame = 0; frame < 40; ++frame) {
        const cv::Mat window = photo(cv::Rect(2 * frame, 100, 1800, 1000)).clone();
        const auto result = analyzer.analyze(view_of(window));
        inline_detections += result.detector_ran;
        REQUIRE(result.faces.size() == 3);
        for (const auto& face : result.faces) ids_seen.insert(face.track_id);
    }
    CHECK(inline_detections == 1);  // the first frame only: nothing tracked yet
    CHECK(ids_seen.size() == 3);    // no track was lost and re-created

    // A face from the left of the photo, copied into the empty top-right corner.
    cv::Mat scene = photo(cv::Rect(80, 100, 1800, 1000)).clone();
    const auto first = analyzer.analyze(view_of(scene));
    REQUIRE(!first.faces.empty());
    const faceswap::Box box = first.faces.front().box;
    const cv::Rect source(static_cast<int>(box.x - box.width * 0.3),
                          static_cast<int>(box.y - box.height * 0.4),
                          static_cast<int>(box.width * 1.6), static_cast<int>(box.height * 1.8));
    const cv::Rect inside(0, 0, scene.cols, scene.rows);
    REQUIRE((source & inside) == source);
    const cv::Mat face = scene(source).clone();
    face.copyTo(scene(cv::Rect(scene.cols - face.cols - 10, 10, face.cols, face.rows)));
    size_t faces_found = 0;
    for (int frame = 0; frame < 30 && faces_found < 4; ++frame) {
        const auto result = analyzer.analyze(view_of(scene));
        faces_found = result.faces.size();
    }
    CHECK(faces_found == 4);
}
