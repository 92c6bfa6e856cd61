// The swap stage's tensor operations: hull masks, erosion/feathering, Lab, colour transfer,
// Poisson blending and the crop <-> frame warps, checked against values worked out by hand.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include "image_ops.h"
#include "swap_merge.h"

using namespace faceswap;
using namespace faceswap::detail;

TEST_CASE("a hull mask fills exactly the convex polygon") {
    // A 20x10 rectangle given with an interior point and repeated corners: the hull ignores both.
    const std::vector<std::vector<Point2f>> polygons = {
        {{10, 10}, {30, 10}, {30, 20}, {10, 20}, {20, 15}, {30, 20}}};
    const at::Tensor mask = hull_masks(polygons, 64, at::kCPU);
    REQUIRE(mask.sizes() == at::IntArrayRef({1, 1, 64, 64}));
    CHECK(mask.sum().item<float>() == Approx(200).margin(25));  // pixel centres inside
    CHECK(mask[0][0][15][20].item<float>() == 1.f);
    CHECK(mask[0][0][5][5].item<float>() == 0.f);
    CHECK(mask[0][0][15][40].item<float>() == 0.f);
}

TEST_CASE("erosion shrinks, negative erosion grows, feathering softens only the edge") {
    at::Tensor mask = at::zeros({1, 1, 64, 64});
    mask.narrow(2, 16, 32).narrow(3, 16, 32).fill_(1);
    const float area = mask.sum().item<float>();
    CHECK(erode_and_feather(mask, 4, 0).sum().item<float>() == Approx(24 * 24));
    CHECK(erode_and_feather(mask, -4, 0).sum().item<float>() == Approx(40 * 40));
    const at::Tensor soft = erode_and_feather(mask, 0, 4);
    CHECK(soft.sum().item<float>() == Approx(area).epsilon(0.02));
    CHECK(soft[0][0][32][32].item<float>() == Approx(1.f));
    CHECK(soft[0][0][32][16].item<float>() > 0.3f);
    CHECK(soft[0][0][32][16].item<float>() < 0.7f);
}

TEST_CASE("Lab conversion matches known values and round-trips") {
    const at::Tensor white = at::ones({1, 3, 1, 1});
    const at::Tensor lab = rgb_to_lab(white);
    CHECK(lab[0][0].item<float>() == Approx(100).margin(0.05));
    CHECK(lab[0][1].item<float>() == Approx(0).margin(0.05));
    CHECK(lab[0][2].item<float>() == Approx(0).margin(0.05));
    // sRGB red is L 53.24, a 80.09, b 67.20 (CIE reference values).
    const at::Tensor red = rgb_to_lab(at::tensor({1.f, 0.f, 0.f}).view({1, 3, 1, 1}));
    CHECK(red[0][0].item<float>() == Approx(53.24).margin(0.1));
    CHECK(red[0][1].item<float>() == Approx(80.09).margin(0.2));
    CHECK(red[0][2].item<float>() == Approx(67.20).margin(0.2));
    const at::Tensor image = at::rand({2, 3, 16, 16});
    CHECK((lab_to_rgb(rgb_to_lab(image)) - image).abs().max().item<float>() < 1e-3f);
}

TEST_CASE("Reinhard transfer gives the source the target's Lab statistics inside the mask") {
    at::manual_seed(3);
    const at::Tensor source = at::rand({1, 3, 32, 32}) * 0.5f;
    const at::Tensor target = at::rand({1, 3, 32, 32}) * 0.3f + 0.5f;
    at::Tensor mask = at::zeros({1, 1, 32, 32});
    mask.narrow(2, 8, 16).narrow(3, 8, 16).fill_(1);
    const at::Tensor result = reinhard_color_transfer(source, target, mask);
    auto masked_mean = [&](const at::Tensor& rgb) {
        return (rgb_to_lab(rgb) * mask).sum({2, 3}) / mask.sum();
    };
    CHECK((masked_mean(result) - masked_mean(target)).abs().max().item<float>() < 1.5f);
}

TEST_CASE("Poisson blending keeps the border values and the face's gradients") {
    at::Tensor frame = at::full({1, 3, 32, 32}, 0.5f);
    at::Tensor face = at::full({1, 3, 32, 32}, 0.9f);  // a flat face, brighter than the frame
    at::Tensor mask = at::zeros({1, 1, 32, 32});
    mask.narrow(2, 8, 16).narrow(3, 8, 16).fill_(1);
    const at::Tensor blended = poisson_blend(face, frame, mask, 400);
    // A flat face has no gradients: the seamless result fades to the frame's level.
    CHECK(blended[0][0][16][16].item<float>() == Approx(0.5f).margin(0.05f));
    CHECK(blended[0][0][0][0].item<float>() == Approx(0.5f));
}

TEST_CASE("pasting a crop back through the inverse transform restores the frame") {
    // A smooth frame, an aligned crop of it, and the crop warped back: equal inside the crop.
    const at::Tensor ys = at::linspace(0, 1, 120).view({1, 1, -1, 1});
    const at::Tensor xs = at::linspace(0, 1, 160).view({1, 1, 1, -1});
    const at::Tensor frame = at::cat({ys * 255 + xs * 0, xs * 255 + ys * 0, (xs + ys) * 127}, 1);
    // aligned_to_image: scale 0.5, rotate 10 degrees, offset (60, 30).
    const double angle = 10 * M_PI / 180, s = 0.5;
    const Affine2x3 to_image = {float(s * std::cos(angle)), float(-s * std::sin(angle)), 60.f,
                                float(s * std::sin(angle)), float(s * std::cos(angle)),  30.f};
    const double det = to_image[0] * to_image[4] - to_image[1] * to_image[3];
    Affine2x3 to_crop = {float(to_image[4] / det),  float(-to_image[1] / det), 0.f,
                         float(-to_image[3] / det), float(to_image[0] / det),  0.f};
    to_crop[2] = -(to_crop[0] * to_image[2] + to_crop[1] * to_image[5]);
    to_crop[5] = -(to_crop[3] * to_image[2] + to_crop[4] * to_image[5]);
    const at::Tensor crop = aligned_crops(frame, {to_image}, 64);
    const PixelRect rect = crop_footprint(to_image, 64, 160, 120);
    CHECK(rect.width > 30);
    CHECK(rect.height > 30);
    const at::Tensor back = crop_to_frame(crop, to_crop, rect);
    const at::Tensor original = frame.narrow(2, rect.y, rect.height).narrow(3, rect.x, rect.width);
    // Compare well inside the crop (its edge is blended with the zero padding).
    // Bicubic sampling reads two pixels deep, so stay two pixels clear of the crop's edge.
    const at::Tensor covered =
        (crop_to_frame(at::ones({1, 1, 64, 64}), to_crop, rect) > 0.999).to(at::kFloat);
    const at::Tensor inside = 1 - at::max_pool2d(1 - covered, {5, 5}, {1, 1}, {2, 2});
    const at::Tensor diff = (back - original).abs() * inside;
    CHECK(inside.sum().item<int64_t>() > 500);
    CHECK(diff.max().item<float>() < 1.5f);
}
