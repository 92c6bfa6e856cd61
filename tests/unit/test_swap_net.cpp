// The swap net's shapes and formats: the depth-to-space output stage renders at twice the
// decoders' size, format-1 attributes still describe format-1 nets, a warm start from a
// format-1 model reproduces that model's face exactly (nearest-neighbour upsampled), the
// scanline hull masks agree with per-pixel half-plane tests, and the recipe's phases.
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

#include "faceswap/train.h"
#include "model_file.h"
#include "swap_merge.h"
#include "swap_net.h"
#include "test_support.h"

using namespace faceswap;
using namespace faceswap::detail;

namespace {

SwapNetShape tiny_shape(int resolution, int upscale) {
    SwapNetShape s;
    s.resolution = resolution;
    s.output_upscale = upscale;
    s.encoder_dims = 8;
    s.bottleneck_dims = 32;
    s.inter_dims = 16;
    s.decoder_dims = 8;
    s.mask_dims = 4;
    return s;
}

ModelMetadata swap_metadata(const SwapNetShape& shape) {
    ModelMetadata m;
    m.kind = SwapAutoencoder::kKind;
    m.source = "test";
    m.attributes = shape.to_attributes();
    m.attributes["coverage"] = "0.75";
    m.attributes["training_steps"] = "0";
    return m;
}

// Per-pixel reference for hull_masks: the convex hull (monotone chain, written again here),
// then every pixel centre tested against every edge, in either orientation.
at::Tensor brute_force_mask(std::vector<Point2f> points, int size) {
    auto cross = [](Point2f o, Point2f a, Point2f b) {
        return (double(a.x) - o.x) * (double(b.y) - o.y) -
               (double(a.y) - o.y) * (double(b.x) - o.x);
    };
    std::sort(points.begin(), points.end(),
              [](Point2f a, Point2f b) { return a.x < b.x || (a.x == b.x && a.y < b.y); });
    std::vector<Point2f> hull;
    for (int pass = 0; pass < 2; ++pass) {
        const size_t start = hull.size();
        for (const Point2f& p : points) {
            while (hull.size() >= start + 2 && cross(hull[hull.size() - 2], hull.back(), p) <= 0)
                hull.pop_back();
            hull.push_back(p);
        }
        hull.pop_back();
        std::reverse(points.begin(), points.end());
    }
    at::Tensor mask = at::zeros({size, size});
    if (hull.size() < 3) return mask;
    auto m = mask.accessor<float, 2>();
    for (int y = 0; y < size; ++y)
        for (int x = 0; x < size; ++x) {
            bool all_left = true, all_right = true;
            for (size_t e = 0; e < hull.size(); ++e) {
                const double c = cross(hull[e], hull[(e + 1) % hull.size()], {x + 0.5f, y + 0.5f});
                all_left &= c >= 0;
                all_right &= c <= 0;
            }
            m[y][x] = all_left || all_right ? 1.f : 0.f;
        }
    return mask;
}

}  // namespace

TEST_CASE("the depth-to-space stage renders the face at twice the decoders' size") {
    at::manual_seed(1);
    SwapAutoencoder net(tiny_shape(128, 2));
    CHECK(net.shape().working_resolution() == 64);
    CHECK(net.shape().describe() == "df-ae r128 e8 b32 i16 d8 m4 u2");
    const at::Tensor faces = at::rand({2, 3, 128, 128});
    const at::Tensor code = net.encode(faces);
    CHECK(code.sizes() == at::IntArrayRef({2, 16, 8, 8}));  // the 64 px net's code
    const DecodedFace out = net.decode_b(code);
    CHECK(out.rgb.sizes() == at::IntArrayRef({2, 3, 128, 128}));
    CHECK(out.mask.sizes() == at::IntArrayRef({2, 1, 128, 128}));
    CHECK(out.rgb.min().item<float>() >= 0.f);
    CHECK(out.rgb.max().item<float>() <= 1.f);

    // Shapes that cannot be built are refused with the rule.
    CHECK_THROWS_WITH(SwapAutoencoder(tiny_shape(112, 2)), Catch::Contains("output upscale 2"));
    CHECK_THROWS_WITH(SwapAutoencoder(tiny_shape(128, 3)), Catch::Contains("1 or 2"));
}

TEST_CASE("format-1 attributes (no output_upscale) still describe a format-1 net") {
    SwapNetShape format2 = tiny_shape(256, 2);
    auto attributes = format2.to_attributes();
    CHECK(attributes.at("output_upscale") == "2");
    CHECK(SwapNetShape::from_attributes(attributes, "m").output_upscale == 2);
    attributes.erase("output_upscale");
    attributes["resolution"] = "64";
    const SwapNetShape format1 = SwapNetShape::from_attributes(attributes, "m");
    CHECK(format1.output_upscale == 1);
    CHECK(format1.describe() == "df-ae r64 e8 b32 i16 d8 m4");
}

TEST_CASE("a warm start from a format-1 model reproduces its face, upsampled") {
    test::TempDir dir;
    const std::string path = (dir.path() / "old.fsmodel").string();
    at::manual_seed(2);
    SwapAutoencoder old_net(tiny_shape(64, 1));
    save_module(old_net, swap_metadata(old_net.shape()), path);

    at::manual_seed(3);  // other random weights, all of which the warm start must replace
    SwapAutoencoder new_net(tiny_shape(128, 2));
    const std::string note = initialise_from(new_net, path);
    CHECK_THAT(note, Catch::Contains("4 expanded") && Catch::Contains("0 fresh"));

    at::NoGradGuard no_grad;
    const at::Tensor faces = at::rand({2, 3, 128, 128});
    const DecodedFace old_out = old_net.decode_b(old_net.encode(at::avg_pool2d(faces, {2, 2})));
    const DecodedFace new_out = new_net.decode_b(new_net.encode(faces));
    const at::Tensor nearest = old_out.rgb.repeat_interleave(2, 2).repeat_interleave(2, 3);
    CHECK((new_out.rgb - nearest).abs().max().item<float>() < 1e-5f);
    const at::Tensor mask = at::upsample_bilinear2d(old_out.mask, {128, 128}, false);
    CHECK((new_out.mask - mask).abs().max().item<float>() < 1e-5f);

    // A model with nothing in common is refused rather than silently left random.
    const std::string unrelated = (dir.path() / "unrelated.fsmodel").string();
    SwapNetShape other = tiny_shape(64, 1);
    other.encoder_dims = 12;
    other.bottleneck_dims = 48;
    other.inter_dims = 24;
    other.decoder_dims = 12;
    other.mask_dims = 6;
    SwapAutoencoder other_net(other);
    save_module(other_net, swap_metadata(other), unrelated);
    CHECK_THROWS_WITH(initialise_from(new_net, unrelated), Catch::Contains("shares no weights"));
}

TEST_CASE("scanline hull masks match per-pixel half-plane tests") {
    std::mt19937 random(7);
    std::uniform_real_distribution<float> coordinate(-10.f, 74.f);
    double filled = 0;
    for (int trial = 0; trial < 40; ++trial) {
        std::vector<Point2f> points(3 + trial % 12);
        for (auto& p : points) p = {coordinate(random), coordinate(random)};
        const at::Tensor mask = hull_masks({points}, 64, at::kCPU)[0][0];
        const at::Tensor reference = brute_force_mask(points, 64);
        INFO("trial " << trial);
        // Pixel centres exactly on an edge may round either way; nothing else may differ.
        CHECK((mask - reference).abs().sum().item<double>() <= 2);
        filled += reference.sum().item<double>();
    }
    CHECK(filled > 40 * 200);  // the polygons were not all empty
}

TEST_CASE("the sharpening recipe warps first, then trains without warp and with lr dropout") {
    const TrainSchedule schedule = TrainSchedule::sharpening(0.6, 1.0f, 0.3f);
    REQUIRE(schedule.phases.size() == 2);
    CHECK(schedule.at(0.0).name == "warp");
    CHECK(schedule.at(0.59).warp_amount == 1.0f);
    CHECK(schedule.at(0.59).lr_dropout == 1.0f);
    CHECK(schedule.at(0.6).name == "sharpen");
    CHECK(schedule.at(1.0).warp_amount == 0.0f);
    CHECK(schedule.at(1.0).lr_dropout == Approx(0.3f));
    CHECK(TrainSchedule::constant(0.5f).phases.size() == 1);
    CHECK(TrainSchedule::constant(0.5f).at(1.0).warp_amount == 0.5f);
    CHECK_THROWS_WITH(TrainSchedule::sharpening(0.5, 1.0f, 0.0f), Catch::Contains("dropout"));
}

TEST_CASE("a GAN phase follows the sharpen phase only when asked, never during the warp") {
    CHECK(TrainSchedule::sharpening(0.6, 1.0f, 0.3f).at(1.0).gan_weight == 0.0f);
    const TrainSchedule schedule = TrainSchedule::sharpening(0.4, 1.0f, 0.3f, 0.7, 0.1f);
    REQUIRE(schedule.phases.size() == 3);
    CHECK(schedule.at(0.5).name == "sharpen");
    CHECK(schedule.at(0.5).gan_weight == 0.0f);
    CHECK(schedule.at(0.7).name == "gan");
    CHECK(schedule.at(1.0).gan_weight == Approx(0.1f));
    CHECK(schedule.at(1.0).warp_amount == 0.0f);
    CHECK(schedule.at(1.0).lr_dropout == Approx(0.3f));
    // Resuming a formed model straight into the GAN phase: every phase starts at 0.
    CHECK(TrainSchedule::sharpening(0.0, 1.0f, 0.3f, 0.0, 0.1f).at(0.0).name == "gan");
    CHECK_THROWS_WITH(TrainSchedule::sharpening(0.6, 1.0f, 0.3f, 0.5, 0.1f),
                      Catch::Contains("still warped"));
    CHECK_THROWS_WITH(TrainSchedule::sharpening(0.6, 1.0f, 0.3f, 0.8, 0.0f),
                      Catch::Contains("positive weight"));
}

TEST_CASE("the detail stage runs last: it cuts the phases that would follow it") {
    const TrainSchedule schedule = TrainSchedule::sharpening(0.6, 1.0f, 0.3f, 1.0, 0.1f, 0.8);
    REQUIRE(schedule.phases.size() == 3);
    CHECK(schedule.at(0.7).name == "sharpen");
    CHECK_FALSE(schedule.at(0.7).refine);
    CHECK(schedule.at(0.8).name == "refine");
    CHECK(schedule.at(1.0).refine);
    // A finished model's refine run: the refine phase alone, from the start.
    const TrainSchedule only = TrainSchedule::sharpening(0.6, 1.0f, 0.3f, 1.0, 0.1f, 0.0);
    REQUIRE(only.phases.size() == 1);
    CHECK(only.at(0.0).refine);
    // A GAN phase that would start after the refine phase never does.
    const TrainSchedule cut = TrainSchedule::sharpening(0.4, 1.0f, 0.3f, 0.9, 0.1f, 0.7);
    CHECK(cut.phases.back().name == "refine");
    CHECK(cut.phases.size() == 3);
}

TEST_CASE("a fresh detail stage changes nothing, and its shape is recorded in the model file") {
    DetailRefiner refiner(8);
    const at::Tensor faces = at::rand({2, 3, 64, 64});
    {
        at::NoGradGuard no_grad;
        CHECK((refiner->forward(faces) - faces).abs().max().item<float>() == 0.0f);
    }
    SwapNetShape shape = tiny_shape(128, 2);
    shape.refiner_dims = 8;
    auto attributes = shape.to_attributes();
    CHECK(attributes.at("refiner_dims") == "8");
    CHECK(SwapNetShape::from_attributes(attributes, "m").refiner_dims == 8);
    CHECK(shape.describe() == "df-ae r128 e8 b32 i16 d8 m4 u2 +detail8");
    attributes.erase("refiner_dims");  // a format-2 file
    CHECK(SwapNetShape::from_attributes(attributes, "m").refiner_dims == 0);
    shape.refiner_dims = 2;
    CHECK_THROWS_WITH(shape.validate(), Catch::Contains("refiner dims"));
    CHECK(kModelFormatVersion == 3);

    // A net given a detail stage later has the same tensors as one built with it, and the
    // autoencoder's parameters stay apart from the refiners'.
    SwapNetShape built = tiny_shape(64, 1);
    built.refiner_dims = 8;
    SwapAutoencoder with(built), later(tiny_shape(64, 1));
    CHECK_FALSE(later.has_refiners());
    const size_t autoencoder_tensors = later.parameters().size();
    later.add_refiners(8);
    CHECK(later.has_refiners());
    CHECK(later.shape().refiner_dims == 8);
    CHECK(later.parameters().size() == with.parameters().size());
    CHECK(later.autoencoder_parameters().size() == autoencoder_tensors);
    CHECK(later.refiner_parameters().size() == with.parameters().size() - autoencoder_tensors);
    CHECK_THROWS_WITH(later.add_refiners(8), Catch::Contains("already"));
}

TEST_CASE("bfloat16 channels-last training passes give float32 outputs close to float32's") {
    at::manual_seed(4);
    SwapNetShape shape = tiny_shape(64, 1);
    shape.refiner_dims = 8;
    SwapAutoencoder net(shape);
    const at::Tensor faces = at::rand({2, 3, 64, 64});
    at::NoGradGuard no_grad;
    const DecodedFace exact = net.decode_b(net.encode(faces));
    ComputeMode mode;
    mode.dtype = at::kBFloat16;
    mode.channels_last = true;
    net.set_compute_mode(mode);
    CHECK(net.compute_mode().describe() == "bfloat16 channels-last");
    const DecodedFace reduced = net.decode_b(net.encode(faces));
    CHECK(reduced.rgb.scalar_type() == at::kFloat);
    CHECK(reduced.mask.scalar_type() == at::kFloat);
    CHECK(reduced.rgb.is_contiguous());
    CHECK((reduced.rgb - exact.rgb).abs().max().item<float>() < 0.03f);
    CHECK(net.refine_b(reduced.rgb).scalar_type() == at::kFloat);
    // The weights themselves stay float32 (what the optimiser and the model file hold).
    for (const auto& p : net.parameters()) CHECK(p.scalar_type() == at::kFloat);
}
