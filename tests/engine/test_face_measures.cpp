// A face's pose and expression ratios (faceswap/face_measures.h), on a real front-on photo:
// front-on reads as front-on, a mirror image turns the other way by as much, and the ratios do
// not depend on the face's size or place.
#include <catch2/catch.hpp>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>

#include "faceswap/face_measures.h"
#include "test_support.h"

using namespace faceswap;

namespace {

FaceMeasures measures_of(const cv::Mat& photo) {
    EngineConfig config = test::test_config();
    config.tracking = false;
    FaceAnalyzer analyzer(test::shared_models(), config);
    const FrameAnalysis analysis = analyzer.analyze(test::view_of(photo));
    REQUIRE(analysis.faces.size() == 1);
    return measure_face(analysis.faces[0].landmarks);
}

}  // namespace

TEST_CASE("face measures: front-on, mirrored, and independent of size and place") {
    const cv::Mat photo = cv::imread((test::media_dir() / "franck_02159.jpg").string());
    REQUIRE_FALSE(photo.empty());
    const FaceMeasures front = measures_of(photo);
    CHECK(front.yaw == Approx(0.5).margin(0.15));  // this still is turned a little
    CHECK(front.pitch > 0.2);
    CHECK(front.pitch < 0.6);
    CHECK(front.eyes > 0.15);   // open eyes
    CHECK(front.mouth < 0.15);  // closed mouth
    CHECK(front.smile > 0.6);

    cv::Mat mirrored;
    cv::flip(photo, mirrored, 1);
    const FaceMeasures flipped = measures_of(mirrored);
    CHECK(flipped.yaw == Approx(1.0 - front.yaw).margin(0.03));
    CHECK(flipped.pitch == Approx(front.pitch).margin(0.03));

    // Scaled and moved landmarks: the same ratios.
    EngineConfig config = test::test_config();
    config.tracking = false;
    FaceAnalyzer analyzer(test::shared_models(), config);
    Landmarks68 landmarks = analyzer.analyze(test::view_of(photo)).faces.at(0).landmarks;
    const FaceMeasures original = measure_face(landmarks);
    for (auto& point : landmarks) point = {point.x * 2.5f + 40, point.y * 2.5f - 17};
    const FaceMeasures moved = measure_face(landmarks);
    CHECK(moved.yaw == Approx(original.yaw).margin(1e-4));
    CHECK(moved.pitch == Approx(original.pitch).margin(1e-4));
    CHECK(moved.mouth == Approx(original.mouth).margin(1e-4));
    CHECK(moved.eyes == Approx(original.eyes).margin(1e-4));
    CHECK(moved.smile == Approx(original.smile).margin(1e-4));
}

TEST_CASE("face measures: a face in profile reads as turned far, front-on faces do not") {
    // face-api's sample2.jpg: the woman on the left is seen in profile, the two others are not.
    const cv::Mat photo =
        cv::imread((test::cache_dir() / "face-api/package/demo/sample2.jpg").string());
    REQUIRE_FALSE(photo.empty());
    EngineConfig config = test::test_config();
    config.tracking = false;
    FaceAnalyzer analyzer(test::shared_models(), config);
    auto faces = analyzer.analyze(test::view_of(photo)).faces;
    REQUIRE(faces.size() == 3);
    std::sort(faces.begin(), faces.end(),
              [](const Face& a, const Face& b) { return a.box.x < b.box.x; });
    const double profile = measure_face(faces[0].landmarks).yaw;  // 0.12 measured
    CHECK((profile < 0.2 || profile > 0.8));
    for (size_t i = 1; i < faces.size(); ++i) {
        const double yaw = measure_face(faces[i].landmarks).yaw;
        CHECK(yaw > 0.2);
        CHECK(yaw < 0.8);
    }
}
