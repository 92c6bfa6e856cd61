// Expression following: the target landmarks (the input's eye and mouth openings rebuilt on
// the generated face's corners) and the warp that moves the face's pixels there.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <cmath>

#include "expression_warp.h"

using namespace faceswap;
using namespace faceswap::detail;

namespace {

// A schematic 68-point face (iBUG order) centred at (cx, cy), `scale` pixels per unit, turned
// by `angle` radians, with the given eye and mouth openings (fractions of their widths).
Landmarks68 schematic_face(float cx, float cy, float scale, float angle, float eye_open,
                           float mouth_open) {
    Landmarks68 p{};
    auto put = [&](int k, float x, float y) {
        const float c = std::cos(angle), s = std::sin(angle);
        p[k] = {cx + scale * (c * x - s * y), cy + scale * (s * x + c * y)};
    };
    for (int k = 0; k <= 16; ++k) {  // jaw
        const float t = static_cast<float>(M_PI) * k / 16;
        put(k, -1.0f * std::cos(t), 0.2f + 0.9f * std::sin(t));
    }
    for (int k = 0; k < 5; ++k) put(17 + k, -0.8f + 0.12f * k, -0.55f);  // brows
    for (int k = 0; k < 5; ++k) put(22 + k, 0.32f + 0.12f * k, -0.55f);
    for (int k = 0; k < 4; ++k) put(27 + k, 0, -0.3f + 0.12f * k);  // nose bridge
    for (int k = 0; k < 5; ++k) put(31 + k, -0.16f + 0.08f * k, 0.22f);
    for (int side = 0; side < 2; ++side) {  // eyes: corners 0 and 3, lids 1-2 and 4-5
        const int first = side == 0 ? 36 : 42;
        const float x0 = side == 0 ? -0.55f : 0.25f, w = 0.3f, h = eye_open * w / 2;
        put(first + 0, x0, -0.3f);
        put(first + 1, x0 + w / 3, -0.3f - h);
        put(first + 2, x0 + 2 * w / 3, -0.3f - h);
        put(first + 3, x0 + w, -0.3f);
        put(first + 4, x0 + 2 * w / 3, -0.3f + h);
        put(first + 5, x0 + w / 3, -0.3f + h);
    }
    const float mw = 0.7f, gap = mouth_open * mw;
    for (int k = 0; k < 12; ++k) {  // outer lips, 48 and 54 the corners
        const float t = 2 * static_cast<float>(M_PI) * k / 12;
        put(48 + k, -mw / 2 * std::cos(t), 0.5f - (0.08f + gap / 2) * std::sin(t));
    }
    for (int k = 0; k < 8; ++k) {  // inner lips, 60 and 64 the corners
        const float t = 2 * static_cast<float>(M_PI) * k / 8;
        put(60 + k, -0.28f * std::cos(t), 0.5f - (0.001f + gap / 2) * std::sin(t));
    }
    return p;
}

float distance(Point2f a, Point2f b) {
    return std::hypot(a.x - b.x, a.y - b.y);
}

}  // namespace

TEST_CASE("the target gives the generated face's eyes and mouth the input's opening alone") {
    // The input is smaller, elsewhere and tilted, with closed eyes and an open mouth.
    const Landmarks68 generated = schematic_face(128, 128, 60, 0.0f, 0.6f, 0.05f);
    const Landmarks68 input = schematic_face(100, 140, 45, 0.2f, 0.1f, 0.4f);
    const Landmarks68 target = expression_target(generated, input, 1, 1, 1000);
    CHECK(eye_opening(target) == Approx(eye_opening(input)).epsilon(1e-3));
    CHECK(mouth_opening(target) == Approx(mouth_opening(input)).epsilon(1e-3));
    for (int k : {36, 39, 42, 45, 48, 54})  // the corners, and so size and place, stay
        CHECK(distance(target[k], generated[k]) < 1e-3f);
    for (int k = 0; k < 36; ++k)  // jaw, brows and nose are not touched
        CHECK(distance(target[k], generated[k]) == 0.f);
    // Only the opening moves: on this upright face every point moves straight up or down, and
    // the lips keep their thickness (outer and inner upper lip move together).
    for (int k = 36; k < kLandmarkCount; ++k) CHECK(target[k].x == Approx(generated[k].x));
    CHECK(target[62].y - target[51].y == Approx(generated[62].y - generated[51].y));

    // Shares: none leaves a feature where it was; the eyes alone leave the mouth.
    const Landmarks68 still = expression_target(generated, input, 0, 0, 1000);
    for (int k = 0; k < kLandmarkCount; ++k) CHECK(distance(still[k], generated[k]) < 1e-5f);
    const Landmarks68 eyes_only = expression_target(generated, input, 1, 0, 1000);
    CHECK(eye_opening(eyes_only) == Approx(eye_opening(input)).epsilon(1e-3));
    CHECK(mouth_opening(eyes_only) == Approx(mouth_opening(generated)).epsilon(1e-4));
    // No point moves further than the limit.
    const Landmarks68 limited = expression_target(generated, input, 1, 1, 2.0);
    for (int k = 0; k < kLandmarkCount; ++k)
        CHECK(distance(limited[k], generated[k]) <= 2.0f + 1e-4f);
}

TEST_CASE("the warp moves the pixels at the moving points and leaves the rest exactly") {
    // Sized as a 256 px training face is (the warp about 5 px wide); the move within the 0.6 of
    // the width the callers allow.
    Landmarks68 from = schematic_face(96, 96, 80, 0.0f, 0.6f, 0.1f);
    // The upper lid's point 37 on a pixel centre, moved 3 px down.
    from[37] = {std::round(from[37].x), std::round(from[37].y)};
    Landmarks68 to = from;
    to[37].y += 3;
    // A face whose channels are its own coordinates: where a warped pixel came from can be
    // read off it (bicubic reproduces a linear ramp exactly).
    const at::Tensor xs = at::arange(192, at::kFloat).view({1, 192}).expand({192, 192});
    const at::Tensor ys = at::arange(192, at::kFloat).view({192, 1}).expand({192, 192});
    const at::Tensor face = at::stack({xs, ys, at::zeros({192, 192})}, 0).unsqueeze(0) / 192;
    const at::Tensor warped = warp_face(face, from, to, expression_warp_sigma(from));
    const auto tx = static_cast<int64_t>(to[37].x), ty = static_cast<int64_t>(to[37].y);
    CHECK(warped[0][0][ty][tx].item<float>() * 192 == Approx(from[37].x).margin(0.1));
    CHECK(warped[0][1][ty][tx].item<float>() * 192 == Approx(from[37].y).margin(0.1));
    // Far from the lid nothing changes, to the bit.
    CHECK(warped.narrow(2, 160, 32).equal(face.narrow(2, 160, 32)));
    CHECK(warped.narrow(3, 0, 20).equal(face.narrow(3, 0, 20)));
    // Nothing to move: the very same tensor back.
    CHECK(warp_face(face, from, from, 3.0).equal(face));
    // The width follows the face's size.
    const float eyes_apart = ((from[42].x + from[45].x) - (from[36].x + from[39].x)) / 2;
    CHECK(expression_warp_sigma(from) == Approx(eyes_apart / 12).epsilon(0.02));
}

TEST_CASE("a closing eye is measured per eye, and only a closing beyond the usual one counts") {
    const Landmarks68 generated = schematic_face(128, 128, 60, 0.0f, 0.6f, 0.1f);
    // Open input eyes at the generated face's opening: no closing; a blink: both close by
    // the opening difference; a wink (the left eye's lids pressed together): the left alone.
    const auto none = eye_closing(generated, schematic_face(100, 140, 45, 0.2f, 0.6f, 0.3f));
    CHECK(std::abs(none[0]) < 1e-4);
    CHECK(std::abs(none[1]) < 1e-4);
    const auto blink = eye_closing(generated, schematic_face(100, 140, 45, 0.2f, 0.1f, 0.3f));
    CHECK(blink[0] == Approx(0.6 - 0.1).epsilon(1e-3));  // in eye-aspect-ratio units
    CHECK(blink[1] == Approx(blink[0]));
    Landmarks68 wink = schematic_face(128, 128, 60, 0.0f, 0.6f, 0.1f);
    for (int k : {37, 38, 40, 41}) wink[k].y = generated[36].y;
    const auto one = eye_closing(generated, wink);
    CHECK(one[0] == Approx(0.6).epsilon(1e-3));
    CHECK(std::abs(one[1]) < 1e-4);

    // The share of the input's eye: none inside the dead zone, all past the ramp, monotone.
    CHECK(closed_eye_share(-0.2) == 0.f);
    CHECK(closed_eye_share(kClosedEyeDeadZone) == 0.f);
    CHECK(closed_eye_share(kClosedEyeDeadZone + kClosedEyeRamp / 2) == Approx(0.5f));
    CHECK(closed_eye_share(kClosedEyeDeadZone + kClosedEyeRamp) == 1.f);
    CHECK(closed_eye_share(1.0) == 1.f);

    // Two faces whose eyes rest 0.013 apart: after a few frames that is the usual closing,
    // and a blink reads as its own size beyond it (less its own share of the mean); each track
    // keeps its own.
    using PerEye = UsualEyeClosing::PerEye;
    UsualEyeClosing usual;
    CHECK(usual.usual(7, {0.013, 0.013}) == PerEye{0.013, 0.013});
    for (int frame = 0; frame < 20; ++frame) usual.usual(7, {0.013, 0.013});
    const PerEye after = usual.usual(7, {0.063, 0.013});
    CHECK(0.063 - after[0] == Approx(0.05 * 21 / 22));
    CHECK(0.013 - after[1] == Approx(0).margin(1e-12));
    CHECK(usual.usual(8, {0.063, 0.063}) == PerEye{0.063, 0.063});  // a new track: its own
    // A long run at a new usual closing: the mean follows within its window.
    for (int frame = 0; frame < 10 * UsualEyeClosing::kUsualWindow; ++frame)
        usual.usual(7, {-0.02, 0.03});
    CHECK(usual.usual(7, {-0.02, 0.03})[0] == Approx(-0.02).margin(1e-3));
    CHECK(usual.usual(7, {-0.02, 0.03})[1] == Approx(0.03).margin(1e-3));
    usual.clear();
    CHECK(usual.usual(7, {0.5, 0.5}) == PerEye{0.5, 0.5});
}

TEST_CASE("the shape target moves the jaw line and nose tip by the usual offset, nothing else") {
    const Landmarks68 generated = schematic_face(128, 128, 60, 0.05f, 0.3f, 0.1f);
    Landmarks68 input = generated;
    for (Point2f& p : input) p = {p.x + 2.0f, p.y - 4.0f};
    const UsualShapeOffset::Values offset = shape_offset(generated, input);
    CHECK(offset[0] == Approx(2.0));
    CHECK(offset[1] == Approx(-4.0));
    const Landmarks68 half = shape_target(generated, offset, 0.5f);
    for (int k = 0; k < kLandmarkCount; ++k) {
        INFO("point " << k);
        const bool moves = k < 17 || (k >= 30 && k < 36);
        CHECK(half[k].x == Approx(generated[k].x + (moves ? 1.0f : 0.0f)));
        CHECK(half[k].y == Approx(generated[k].y - (moves ? 2.0f : 0.0f)));
    }
    // At strength 0 nothing moves; the warp is a quarter of the eye distance wide.
    const Landmarks68 none = shape_target(generated, offset, 0.0f);
    for (int k = 0; k < kLandmarkCount; ++k) CHECK(none[k].x == generated[k].x);
    CHECK(shape_warp_sigma(generated) == Approx(3 * expression_warp_sigma(generated)));
}
