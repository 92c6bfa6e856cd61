// One Euro smoothing and the face-relative box used to predict the next landmark crop.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "alignment.h"
#include "tracking.h"

using faceswap::detail::OneEuroFilter;

TEST_CASE("One Euro: a constant stays constant, noise shrinks, a step is followed") {
    OneEuroFilter filter;
    for (int i = 0; i < 30; ++i) CHECK(filter.filter(5.f, i / 30.0, 1.f, 5.f, 1.f) == Approx(5.f));

    std::mt19937 random(7);
    std::normal_distribution<float> noise(0.f, 1.f);
    OneEuroFilter noisy;
    double raw_var = 0, out_var = 0;
    for (int i = 0; i < 300; ++i) {
        const float x = noise(random);
        const float y = noisy.filter(x, i / 30.0, 1.f, 0.5f, 1.f);
        if (i > 30) raw_var += x * x, out_var += y * y;
    }
    CHECK(out_var < 0.5 * raw_var);

    OneEuroFilter step;
    step.filter(0.f, 0.0, 1.f, 5.f, 1.f);
    float y = 0;
    for (int i = 1; i <= 15; ++i) y = step.filter(10.f, i / 30.0, 1.f, 5.f, 1.f);
    CHECK(y > 9.f);  // half a second later the step is (nearly) reached
}

TEST_CASE("a repeated timestamp leaves the filter unchanged") {
    OneEuroFilter filter;
    filter.filter(1.f, 0.0, 1.f, 0.f, 1.f);
    const float a = filter.filter(2.f, 0.1, 1.f, 0.f, 1.f);
    CHECK(filter.filter(100.f, 0.1, 1.f, 0.f, 1.f) == a);
}

TEST_CASE("a box stored relative to a face follows the face when it moves and scales") {
    faceswap::Landmarks68 face{};
    // Place the five alignment points on the template, scaled by 200 and moved to (100, 50).
    const auto t = faceswap::alignment_template(200, 1.f);
    for (int i = 36; i <= 41; ++i) face[i] = {t[0].x + 100, t[0].y + 50};
    for (int i = 42; i <= 47; ++i) face[i] = {t[1].x + 100, t[1].y + 50};
    face[30] = {t[2].x + 100, t[2].y + 50};
    face[48] = {t[3].x + 100, t[3].y + 50};
    face[54] = {t[4].x + 100, t[4].y + 50};
    const faceswap::Box box{120, 60, 150, 180};
    const auto frame = faceswap::detail::face_frame(face);
    CHECK(frame.unit_px == Approx(200).epsilon(1e-4));
    const auto relative = faceswap::detail::to_relative(box, frame);

    faceswap::Landmarks68 moved = face;
    for (auto& p : moved) p = {p.x * 2 + 10, p.y * 2 - 5};
    const faceswap::Box predicted =
        faceswap::detail::from_relative(relative, faceswap::detail::face_frame(moved));
    CHECK(predicted.x == Approx(box.x * 2 + 10).margin(0.05));
    CHECK(predicted.y == Approx(box.y * 2 - 5).margin(0.05));
    CHECK(predicted.width == Approx(box.width * 2).margin(0.05));
    CHECK(predicted.height == Approx(box.height * 2).margin(0.05));
}

TEST_CASE("intersection over union") {
    CHECK(faceswap::intersection_over_union({0, 0, 10, 10}, {0, 0, 10, 10}) == Approx(1));
    CHECK(faceswap::intersection_over_union({0, 0, 10, 10}, {5, 0, 10, 10}) == Approx(1.0 / 3));
    CHECK(faceswap::intersection_over_union({0, 0, 10, 10}, {20, 20, 5, 5}) == 0);
}
