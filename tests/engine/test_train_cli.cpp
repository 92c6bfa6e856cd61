// faceswap train and convert end to end on real face sets: files written, exact resume, Ctrl-C,
// a full disk and bad paths lose nothing, and the converted video carries the AI-generated
// mark's metadata. Tiny model settings keep each run to seconds.
#include <catch2/catch.hpp>

#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

#include "faceswap/swap.h"
#include "test_support.h"

namespace fs = std::filesystem;
using faceswap::test::run_command;

namespace {

std::string cli() { return std::string(FACESWAP_CLI) + " "; }
std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

const char* kTinyModel =
    " --resolution 64 --encoder-dims 8 --bottleneck-dims 32 --inter-dims 16 --decoder-dims 8"
    " --mask-dims 4 --batch 2 --threads 2 --device cpu --preview-every 2 --save-every 0";

// Face sets of both identities, extracted once per test process with the real tool.
const fs::path& face_sets() {
    static faceswap::test::TempDir dir;
    static const bool made = [] {
        for (const char* name : {"franck", "cap12_edit"}) {
            std::string output;
            const int code = run_command(
                cli() + "extract " + quoted(faceswap::test::media_dir() / (std::string(name) + ".mp4")) +
                    " " + quoted(dir.path() / name) +
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

std::string file_bytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
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

TEST_CASE("Ctrl-C during training saves the model and exits cleanly", "[slow]") {
    faceswap::test::TempDir dir;
    const fs::path model = dir.path() / "m.fsmodel";
    const fs::path log = dir.path() / "out.txt";
    // Started in the background; interrupted once its step log shows progress.
    // A bounded step count and a guard: a failing test never leaves a trainer running.
    const std::string command = train_command(model, "--steps 3000") + " > " + quoted(log) +
                                " 2>&1 & echo $!";
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
    CHECK_THAT(output, Catch::Contains("faces.json not found") &&
                           Catch::Contains("faceswap extract"));
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
                            " --frames 12 --threads 2",
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
