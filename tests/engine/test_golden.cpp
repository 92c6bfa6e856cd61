// Golden test: our LibTorch port against the reference implementation (face-api 1.7.15 on
// tfjs 4.22.0 in Node, tests/golden/reference.mjs) on the same pixels. JPEGs were decoded by
// the reference's own decoder (scripts/setup.sh keeps them as PNG), so any difference is ours.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "test_support.h"

namespace fs = std::filesystem;

// bfloat16 keeps 8 bits of mantissa: the detector's scores move by up to about 0.03 against
// the float32 reference (boxes and landmarks stay within the float32 bar).
constexpr float kReducedScoreGap = 0.04f;

TEST_CASE("boxes and landmarks match the reference implementation on eight real photos") {
    // The reference computes in float32; so does the port here. The bfloat16 detector (the
    // default where the CPU has it) is held to a bar of its own below.
    const auto precision = GENERATE(faceswap::Precision::kFloat32, faceswap::Precision::kBFloat16);
    const bool reduced = precision == faceswap::Precision::kBFloat16;
    nlohmann::json reference;
    std::ifstream(faceswap::test::source_dir() / "tests/golden/face_api_reference.json") >>
        reference;
    REQUIRE(reference["images"].size() == 8);

    faceswap::EngineConfig config = faceswap::test::test_config();
    config.tracking = false;
    config.precision = precision;
    const auto models = faceswap::FaceModels::load(config);
    double worst_iou = 1, worst_landmarks = 0, sum_landmarks = 0;
    float worst_score_gap = 0;
    int faces_compared = 0;
    for (const auto& [name, expected] : reference["images"].items()) {
        const fs::path image_path = faceswap::test::cache_dir() / "golden-inputs" /
                                    (fs::path(name).stem().string() + ".png");
        const cv::Mat image = cv::imread(image_path.string(), cv::IMREAD_COLOR);
        REQUIRE_FALSE(image.empty());
        REQUIRE(image.cols == expected["width"].get<int>());
        faceswap::FaceAnalyzer analyzer(models, config);
        const auto result = analyzer.analyze(faceswap::test::view_of(image));
        INFO(name);
        CHECK(result.faces.size() == expected["faces"].size());

        for (const auto& ref : expected["faces"]) {
            const faceswap::Box ref_box{ref["box"]["x"], ref["box"]["y"], ref["box"]["width"],
                                        ref["box"]["height"]};
            const faceswap::Face* best = nullptr;
            for (const auto& face : result.faces)
                if (!best || faceswap::intersection_over_union(face.box, ref_box) >
                                 faceswap::intersection_over_union(best->box, ref_box))
                    best = &face;
            REQUIRE(best != nullptr);
            const float box_iou = faceswap::intersection_over_union(best->box, ref_box);
            CHECK(box_iou >= 0.95f);
            const float score_gap = std::abs(best->detection_score - ref["score"].get<float>());
            CHECK(score_gap <= (reduced ? kReducedScoreGap : 0.02f));
            worst_score_gap = std::max(worst_score_gap, score_gap);

            // face-api moves landmarks into the image by the unrounded box corner although the
            // net saw the floored crop; we use the crop's corner. Undo that known offset.
            const auto& crop = ref["landmark_crop"];
            const float offset_x = ref_box.x - crop["x"].get<float>();
            const float offset_y = ref_box.y - crop["y"].get<float>();
            const float to_112 =
                112.f / std::max(crop["width"].get<float>(), crop["height"].get<float>());
            double error = 0;
            for (int i = 0; i < faceswap::kLandmarkCount; ++i) {
                const float dx =
                    best->raw_landmarks[i].x - (ref["landmarks"][i][0].get<float>() - offset_x);
                const float dy =
                    best->raw_landmarks[i].y - (ref["landmarks"][i][1].get<float>() - offset_y);
                error += std::hypot(dx, dy);
            }
            error = error / faceswap::kLandmarkCount * to_112;
            CHECK(error <= 1.5);
            worst_iou = std::min<double>(worst_iou, box_iou);
            worst_landmarks = std::max(worst_landmarks, error);
            sum_landmarks += error;
            ++faces_compared;
        }
    }
    std::printf(
        "golden (%s detector): %d faces; worst box IoU %.4f (need >= 0.95); worst score gap "
        "%.4f; landmark error at 112 px: mean %.3f, worst %.3f px (need <= 1.5)\n",
        reduced ? "bfloat16" : "float32", faces_compared, worst_iou, worst_score_gap,
        sum_landmarks / faces_compared, worst_landmarks);
    CHECK(faces_compared == 24);
}
