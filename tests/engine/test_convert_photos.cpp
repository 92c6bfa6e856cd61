// faceswap convert on photos: a folder of photos in gives the swapped photos out (same names,
// formats and sizes, the provenance in their metadata) or a video; odd sizes are handled; the
// originals are never overwritten; errors name their real cause.
#include <catch2/catch.hpp>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <fstream>
#include <map>
#include <sstream>

#include "faceswap/capture/image_writer.h"
#include "test_support.h"

namespace fs = std::filesystem;
using faceswap::test::cli;
using faceswap::test::file_bytes;
using faceswap::test::quoted;
using faceswap::test::run_command;

namespace {

const fs::path& tiny_model() {
    static faceswap::test::TempDir dir;
    static const fs::path path = faceswap::test::tiny_swap_model_file(dir.path() / "tiny.fsmodel");
    return path;
}

// The signing identity the tests' conversions use (made on first use, like an installation's).
fs::path test_signing_dir() {
    return fs::temp_directory_path() / ("faceswap-test-signing-" + std::to_string(::getuid()));
}

std::string convert(const fs::path& in, const fs::path& out, const std::string& extra = {}) {
    return "FACESWAP_SIGNING_DIR=" + quoted(test_signing_dir()) + " " + cli() + "convert " +
           quoted(in) + " " + quoted(out) + " --model " + quoted(tiny_model()) + " --models " +
           quoted(faceswap::test::model_dir()) + " --cpu-threads 2 " + extra;
}

// A folder of real photos in four formats, one of odd width, and one broken file.
void make_photo_folder(const fs::path& dir) {
    fs::create_directories(dir);
    const fs::path media = faceswap::test::media_dir();
    const cv::Mat franck = cv::imread((media / "franck_02159.jpg").string());
    REQUIRE_FALSE(franck.empty());
    REQUIRE(cv::imwrite((dir / "a_franck.jpg").string(), franck));
    cv::Mat odd = franck(cv::Rect(0, 0, 465, 361)).clone();  // odd width and height
    REQUIRE(cv::imwrite((dir / "b_odd.png").string(), odd));
    fs::copy_file(faceswap::test::cache_dir() / "grace_hopper/grace_hopper_512x512.jpg",
                  dir / "c_grace.jpeg");
    REQUIRE(cv::imwrite((dir / "d_cage.bmp").string(), cv::imread((media / "cage.jpg").string())));
    std::ofstream(dir / "e_broken.jpg") << "not a JPEG";
}

}  // namespace

TEST_CASE(
    "a folder of photos comes out as swapped photos with their names, formats and "
    "provenance",
    "[slow]") {
    faceswap::test::TempDir dir;
    const fs::path in = dir.path() / "photos", out = dir.path() / "swapped";
    make_photo_folder(in);
    std::map<std::string, std::string> originals;
    for (const auto& entry : fs::directory_iterator(in))
        originals[entry.path().filename().string()] = file_bytes(entry.path());

    std::string output;
    REQUIRE(run_command(convert(in, out), &output) == 0);
    INFO(output);
    CHECK_THAT(output, Catch::Contains("4 photos") && Catch::Contains("1 unreadable images"));
    CHECK_THAT(output, Catch::Contains("d_cage.bmp: this image format has no place for the "
                                       "provenance"));
    for (const char* name : {"a_franck.jpg", "b_odd.png", "c_grace.jpeg", "d_cage.bmp"}) {
        INFO(name);
        const cv::Mat before = cv::imread((in / name).string());
        const cv::Mat after = cv::imread((out / name).string());
        REQUIRE_FALSE(after.empty());
        CHECK(after.size() == before.size());
        CHECK(cv::norm(after, before, cv::NORM_L1) > 0);  // swapped and marked
        const std::string provenance =
            faceswap::capture::read_image_provenance((out / name).string());
        if (std::string(name) != "d_cage.bmp") {
            CHECK_THAT(provenance, Catch::Contains("AI-generated face swap") &&
                                       Catch::Contains("tiny.fsmodel") &&
                                       Catch::Contains(std::string("source ") + name));
        }
    }
    // Same formats as the originals (PNG stays PNG), nothing for the broken file, no leftovers.
    CHECK(file_bytes(out / "b_odd.png").substr(1, 3) == "PNG");
    CHECK(file_bytes(out / "a_franck.jpg").substr(0, 2) == "\xFF\xD8");
    CHECK(file_bytes(out / "d_cage.bmp").substr(0, 2) == "BM");
    CHECK_FALSE(fs::exists(out / "e_broken.jpg"));
    CHECK(std::distance(fs::directory_iterator(out), fs::directory_iterator()) == 4);
    // The originals are untouched.
    for (const auto& [name, bytes] : originals) CHECK(file_bytes(in / name) == bytes);

    // The same photos into one video: every photo a frame, sizes fitted, the odd size padded.
    const fs::path video = dir.path() / "photos.mp4";
    output.clear();
    REQUIRE(run_command(convert(in, video), &output) == 0);
    CHECK_THAT(output, Catch::Contains("fitted into the video's"));
    std::string probe;
    REQUIRE(run_command("ffprobe -v error -count_frames -show_entries "
                        "stream=nb_read_frames,width,height -of default=nw=1 " +
                            quoted(video),
                        &probe) == 0);
    CHECK_THAT(probe, Catch::Contains("nb_read_frames=4"));

    // One photo in, one photo out.
    output.clear();
    REQUIRE(run_command(convert(in / "b_odd.png", dir.path() / "one.jpg"), &output) == 0);
    CHECK(cv::imread((dir.path() / "one.jpg").string()).size() == cv::Size(465, 361));

    // faceswap verify finds the invisible watermark in what convert wrote, and the payload the
    // photo's metadata names; not in the originals; a missing file is an error.
    output.clear();
    CHECK(run_command(faceswap::test::cli() + "verify " + quoted(out / "a_franck.jpg") + " " +
                          quoted(out / "b_odd.png") + " " + quoted(video),
                      &output) == 0);
    INFO(output);
    const std::string marked =
        faceswap::capture::read_image_provenance((out / "a_franck.jpg").string());
    const auto at = marked.find("watermark 0x");
    REQUIRE(at != std::string::npos);
    const std::string payload = marked.substr(at + 10, 10);  // "0x" and 8 hex digits
    CHECK_THAT(output, Catch::Contains("a_franck.jpg: watermark: present, payload " + payload));
    CHECK_THAT(output, Catch::Contains("b_odd.png: watermark: present"));
    CHECK_THAT(output, Catch::Contains("photos.mp4: watermark: present"));
    output.clear();
    CHECK(run_command(faceswap::test::cli() + "verify " + quoted(in / "a_franck.jpg"), &output) ==
          1);
    CHECK_THAT(output, Catch::Contains("a_franck.jpg: watermark: none in 1 frame"));
    output.clear();
    CHECK(run_command(faceswap::test::cli() + "verify " + quoted(dir.path() / "missing.mp4"),
                      &output) == 2);
    CHECK_THAT(output, Catch::Contains("missing.mp4: error:"));

    // The official C2PA implementation (c2pa-rs 0.92, the pinned @contentauth/c2pa-wasm) reads
    // the photos' and the video's signed Content Credentials: Valid, Trusted with this
    // installation's certificate as the anchor.
    const auto official = [&](const fs::path& file, const fs::path& trusted) {
        return faceswap::test::official_c2pa_verdict(file, &output, trusted);
    };
    const fs::path anchor = test_signing_dir() / "signing-cert.pem";
    for (const char* name : {"a_franck.jpg", "b_odd.png", "c_grace.jpeg"}) {
        CHECK(official(out / name, {}) == 0);
        CHECK_THAT(output, Catch::Contains("\"validation_state\": \"Valid\"") &&
                               Catch::Contains("compositeWithTrainedAlgorithmicMedia") &&
                               Catch::Contains("tiny.fsmodel"));
        CHECK(official(out / name, anchor) == 0);
        CHECK_THAT(output, Catch::Contains("\"validation_state\": \"Trusted\""));
    }
    CHECK(official(video, anchor) == 0);
    CHECK_THAT(output, Catch::Contains("\"validation_state\": \"Trusted\"") &&
                           Catch::Contains("photos.mp4"));
    // faceswap verify sees them too.
    output.clear();
    run_command(faceswap::test::cli() + "verify " + quoted(out / "a_franck.jpg"), &output);
    CHECK_THAT(output,
               Catch::Contains("a_franck.jpg: C2PA manifest: valid, signed by faceswap on") &&
                   Catch::Contains("compositeWithTrainedAlgorithmicMedia; face swapped "
                                   "with model") &&
                   Catch::Contains("; from a_franck.jpg (the source, sha256 "));
    // Trusted when told to trust the installation's certificate, as the official verifier.
    output.clear();
    CHECK(run_command(faceswap::test::cli() + "verify " + quoted(out / "a_franck.jpg") + " " +
                          quoted(video) + " --trust " +
                          quoted(test_signing_dir() / "signing-cert.pem"),
                      &output) == 0);
    CHECK_THAT(output, Catch::Contains("a_franck.jpg: C2PA manifest: valid and trusted") &&
                           Catch::Contains("photos.mp4: C2PA manifest: valid and trusted"));
    // One changed byte in the picture: our reader says so, as the official one does.
    {
        std::string bytes = file_bytes(out / "a_franck.jpg");
        bytes[bytes.size() - 40] ^= 0x01;
        std::ofstream(dir.path() / "changed.jpg", std::ios::binary) << bytes;
    }
    output.clear();
    run_command(faceswap::test::cli() + "verify " + quoted(dir.path() / "changed.jpg"), &output);
    CHECK_THAT(output, Catch::Contains("C2PA manifest: INVALID: the picture's bytes do not match "
                                       "its manifest (assertion.dataHash.mismatch)"));

    // A signing key that is not there: one line, and the photo is still written, unsigned,
    // with the watermark.
    output.clear();
    const fs::path unsigned_photo = dir.path() / "unsigned.jpg";
    CHECK(run_command(convert(in / "a_franck.jpg", unsigned_photo,
                              "--sign-cert " + quoted(dir.path() / "no-cert.pem") + " --sign-key " +
                                  quoted(dir.path() / "no-key.pem")),
                      &output) == 0);
    CHECK_THAT(output, Catch::Contains("no-cert.pem") &&
                           Catch::Contains("written without Content Credentials (unsigned)"));
    CHECK(official(unsigned_photo, {}) == 1);
    output.clear();
    CHECK(run_command(faceswap::test::cli() + "verify " + quoted(unsigned_photo), &output) == 0);
    CHECK_THAT(output,
               Catch::Contains("watermark: present") && Catch::Contains("C2PA manifest: none"));
}

TEST_CASE("a fixed watermark session makes two runs' pixels the same, two sessions differ") {
    // Evaluations compare runs: with FACESWAP_WATERMARK_SESSION set, the same swap of the same
    // photo is the same to the bit (PNG: no lossy step); each run's own session marks it apart.
    faceswap::test::TempDir dir;
    const fs::path in = faceswap::test::media_dir() / "franck_02159.jpg";
    auto pixels_of = [&](const std::string& name, const std::string& session) {
        const fs::path out = dir.path() / name;
        std::string output;
        const std::string env =
            session.empty() ? "" : "FACESWAP_WATERMARK_SESSION=" + session + " ";
        REQUIRE(run_command(env + convert(in, out, "--no-ai-mark"), &output) == 0);
        const cv::Mat image = cv::imread(out.string());
        REQUIRE_FALSE(image.empty());
        return image;
    };
    const cv::Mat first = pixels_of("one.png", "5eed"), again = pixels_of("two.png", "5eed");
    CHECK(cv::norm(first, again, cv::NORM_INF) == 0);
    const cv::Mat other = pixels_of("three.png", "");
    CHECK(cv::norm(first, other, cv::NORM_INF) > 0);
}

TEST_CASE("a video of odd width converts and H.264 gets one padded column", "[slow]") {
    faceswap::test::TempDir dir;
    const fs::path odd = dir.path() / "odd.mp4";
    std::string output;
    REQUIRE(run_command("ffmpeg -v error -y -i " +
                            quoted(faceswap::test::media_dir() / "franck.mp4") +
                            " -frames:v 6 -vf format=bgr24,crop=359:287:0:0 -c:v ffv1 " +
                            quoted(dir.path() / "odd.mkv"),
                        &output) == 0);
    REQUIRE(run_command(convert(dir.path() / "odd.mkv", odd), &output) == 0);
    INFO(output);
    CHECK_THAT(output, Catch::Contains("6 frames") && Catch::Contains("the video is 360x288"));
    std::string probe;
    REQUIRE(run_command("ffprobe -v error -show_entries stream=width,height -of default=nw=1 " +
                            quoted(odd),
                        &probe) == 0);
    CHECK_THAT(probe, Catch::Contains("width=360") && Catch::Contains("height=288"));
}

TEST_CASE("convert refuses outputs that would overwrite the input or cannot hold the result") {
    faceswap::test::TempDir dir;
    const fs::path in = dir.path() / "photos";
    fs::create_directories(in);
    fs::copy_file(faceswap::test::media_dir() / "franck_02159.jpg", in / "f.jpg");
    const std::string before = file_bytes(in / "f.jpg");
    const auto refusal = [&](const fs::path& from, const fs::path& to) {
        std::string output;
        CHECK(run_command(convert(from, to), &output) != 0);
        return output;
    };
    CHECK_THAT(refusal(in, in), Catch::Contains("is the input itself"));
    CHECK_THAT(refusal(in / "f.jpg", in / "f.jpg"), Catch::Contains("is the input itself"));
    CHECK_THAT(refusal(in, dir.path() / "out.jpg"), Catch::Contains("is a folder of photos"));
    CHECK_THAT(refusal(faceswap::test::media_dir() / "franck.mp4", dir.path() / "frames"),
               Catch::Contains("give a file name ending in .mp4"));
    CHECK_THAT(refusal(in, dir.path() / "no-such" / "out"),
               Catch::Contains("cannot create the output folder"));
    CHECK(file_bytes(in / "f.jpg") == before);

    // A full disk (a file-size limit, as in the training test) while writing a video or a
    // photo: the cause in one line, no half-written file. ffmpeg itself exits 0 after failing
    // to write the trailer; only its log tells.
    const fs::path script = dir.path() / "full_disk.sh";
    std::ofstream(script) << "trap '' XFSZ\nulimit -f 16\n"
                          << convert(faceswap::test::media_dir() / "franck.mp4",
                                     dir.path() / "full.mp4", "--frames 48")
                          << "\n";
    std::string full;
    CHECK(run_command("bash " + quoted(script), &full) == 1);
    CHECK_THAT(full, Catch::Contains("full.mp4 failed") && Catch::Contains("File too large"));
    std::ofstream(script) << "trap '' XFSZ\nulimit -f 16\n"
                          << convert(
                                 faceswap::test::cache_dir() / "face-api/package/demo/sample1.jpg",
                                 dir.path() / "full.png")
                          << "\n";
    full.clear();
    CHECK(run_command("bash " + quoted(script), &full) == 1);
    CHECK_THAT(full,
               Catch::Contains("cannot write") && Catch::Contains("full.png: File too large"));
    for (const auto& entry : fs::directory_iterator(dir.path()))
        CHECK(entry.path().filename().string().rfind("full.", 0) != 0);
    for (const auto& entry : fs::directory_iterator(dir.path()))
        CHECK(entry.path().filename().string().find(".partial") == std::string::npos);

    // A reference photo without a face is named, and nothing is written.
    const fs::path blank = dir.path() / "blank.png";
    REQUIRE(cv::imwrite(blank.string(), cv::Mat(200, 200, CV_8UC3, cv::Scalar(128, 128, 128))));
    std::string output;
    CHECK(run_command(convert(in, dir.path() / "out", "--faces " + quoted(blank)), &output) != 0);
    CHECK_THAT(output, Catch::Contains("reference photo") && Catch::Contains("blank.png") &&
                           Catch::Contains("shows no face"));
}

TEST_CASE("convert with a reference photo swaps only that person on a group photo", "[slow]") {
    faceswap::test::TempDir dir;
    const fs::path demo = faceswap::test::cache_dir() / "face-api/package/demo";
    const cv::Mat group = cv::imread((demo / "sample2.jpg").string());
    REQUIRE_FALSE(group.empty());
    // The reference: one woman of the group photo, cut out as her own photo.
    const fs::path in = dir.path() / "in";
    fs::create_directories(in);
    REQUIRE(cv::imwrite((in / "group.png").string(), group));
    faceswap::EngineConfig config = faceswap::test::test_config();
    config.tracking = false;
    faceswap::FaceAnalyzer analyzer(faceswap::test::shared_models(), config);
    const auto faces = analyzer.analyze(faceswap::test::view_of(group)).faces;
    REQUIRE(faces.size() >= 3);
    const faceswap::Box& b = faces[1].box;
    const cv::Rect around =
        cv::Rect(static_cast<int>(b.x - b.width), static_cast<int>(b.y - b.height),
                 static_cast<int>(3 * b.width), static_cast<int>(3 * b.height)) &
        cv::Rect(0, 0, group.cols, group.rows);
    REQUIRE(cv::imwrite((dir.path() / "reference.png").string(), group(around)));
    std::string output;

    output.clear();
    REQUIRE(run_command(convert(in, dir.path() / "out",
                                "--no-ai-mark --faces " + quoted(dir.path() / "reference.png")),
                        &output) == 0);
    INFO(output);
    CHECK_THAT(output, Catch::Contains("swapping only the person of 1 reference photo"));
    const cv::Mat after = cv::imread((dir.path() / "out/group.png").string());
    cv::Mat changed;
    cv::absdiff(after, group, changed);
    cv::cvtColor(changed, changed, cv::COLOR_BGR2GRAY);
    // Every output pixel carries the invisible watermark (2 or 3 grey levels, on by design);
    // beyond it, exactly one compact region changed: a bounding box of the changes much
    // smaller than the photo (the other faces and everything else are as they were). The
    // engine's own output is compared pixel for pixel in test_face_choice.cpp.
    cv::threshold(changed, changed, 3, 255, cv::THRESH_BINARY);
    const cv::Rect box = cv::boundingRect(changed);
    CHECK(box.area() > 0);
    CHECK((box & around) == box);
}
