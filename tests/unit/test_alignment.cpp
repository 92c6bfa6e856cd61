// Umeyama similarity fit, the alignment template and the five alignment points.
#include <catch2/catch.hpp>

#include <cmath>

#include "alignment.h"

using faceswap::Point2f;
using faceswap::detail::Similarity;

TEST_CASE("fit_similarity recovers a known rotation, scale and translation exactly") {
    Similarity truth;
    const double angle = 0.3, scale = 1.7;
    truth.a = scale * std::cos(angle), truth.b = scale * std::sin(angle);
    truth.tx = 12.5, truth.ty = -40.0;
    std::vector<Point2f> src = {{0, 0}, {10, 2}, {3, 14}, {-5, 7}, {8, -9}};
    std::vector<Point2f> dst;
    for (const auto& p : src) dst.push_back(truth.apply(p));
    double residual = -1;
    const Similarity fit = faceswap::detail::fit_similarity(src.data(), dst.data(), 5, &residual);
    CHECK(fit.a == Approx(truth.a).margin(1e-9));
    CHECK(fit.b == Approx(truth.b).margin(1e-9));
    CHECK(fit.tx == Approx(truth.tx).margin(1e-6));
    CHECK(fit.ty == Approx(truth.ty).margin(1e-6));
    CHECK(residual == Approx(0).margin(1e-5));

    const Similarity inverse = fit.inverse();
    const Point2f back = inverse.apply(fit.apply({3.f, 4.f}));
    CHECK(back.x == Approx(3.f).margin(1e-4));
    CHECK(back.y == Approx(4.f).margin(1e-4));
}

TEST_CASE("the residual measures how far points are from any similarity") {
    std::vector<Point2f> src = {{0, 0}, {1, 0}, {0, 1}, {1, 1}};
    std::vector<Point2f> sheared = {{0, 0}, {1, 0}, {0.5f, 1}, {1.5f, 1}};
    double residual = 0;
    faceswap::detail::fit_similarity(src.data(), sheared.data(), 4, &residual);
    CHECK(residual > 0.1);
}

TEST_CASE("coverage scales the template around the crop centre") {
    const auto tight = faceswap::alignment_template(256, 1.0f);
    const auto loose = faceswap::alignment_template(256, 0.5f);
    const float tight_eyes = tight[1].x - tight[0].x, loose_eyes = loose[1].x - loose[0].x;
    CHECK(loose_eyes == Approx(tight_eyes / 2));
    CHECK(tight[0].x == Approx(256 * 38.2946f / 112).margin(1e-3));
    for (const auto& p : loose) CHECK((p.x > 64 && p.x < 192 && p.y > 64 && p.y < 192));
}

TEST_CASE("alignment points average the eyes and take nose tip and mouth corners") {
    faceswap::Landmarks68 l{};
    for (int i = 36; i <= 41; ++i) l[i] = {10.f + i - 36, 20.f};
    for (int i = 42; i <= 47; ++i) l[i] = {50.f, 21.f};
    l[30] = {30, 40};
    l[48] = {15, 60};
    l[54] = {45, 61};
    const auto p = faceswap::alignment_points(l);
    CHECK(p[0].x == Approx(12.5f));
    CHECK(p[1].x == Approx(50.f));
    CHECK(p[2].y == Approx(40.f));
    CHECK(p[3].x == Approx(15.f));
    CHECK(p[4].y == Approx(61.f));
}
