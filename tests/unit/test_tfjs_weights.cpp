// The TensorFlow.js weights reader on face-api's real manifests, and on damaged copies of them.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "faceswap/weights_import.h"
#include "test_support.h"

namespace fs = std::filesystem;
using faceswap::Error;
using faceswap::ErrorCode;
using faceswap::TfjsTensor;

namespace {

const TfjsTensor& find(const std::vector<TfjsTensor>& tensors, const std::string& name) {
    for (const auto& t : tensors)
        if (t.name == name) return t;
    FAIL("tensor " << name << " not found");
    throw std::logic_error("unreachable");
}

// Copies the landmark model's manifest and .bin into a temp folder so they can be damaged.
fs::path copy_landmark_model(const fs::path& dir) {
    for (const char* name :
         {"face_landmark_68_model-weights_manifest.json", "face_landmark_68_model.bin"})
        fs::copy_file(faceswap::test::face_api_model_dir() / name, dir / name);
    return dir / "face_landmark_68_model-weights_manifest.json";
}

std::string error_message(const std::function<void()>& action, ErrorCode expected) {
    try {
        action();
    } catch (const Error& e) {
        CHECK(e.code() == expected);
        return e.what();
    }
    FAIL("no error was raised");
    return {};
}

}  // namespace

TEST_CASE("reads the SSD manifest: de-quantised uint8, float32 priors and int32 constants") {
    const fs::path manifest =
        faceswap::test::face_api_model_dir() / "ssd_mobilenetv1_model-weights_manifest.json";
    const auto tensors = faceswap::read_tfjs_weights(manifest.string());
    CHECK(tensors.size() > 140);

    const TfjsTensor& priors = find(tensors, "Output/extra_dim");
    REQUIRE(priors.shape == std::vector<std::int64_t>{1, 5118, 4});
    CHECK(priors.dtype == "float32");
    for (float v : priors.values) REQUIRE((v > -1.f && v < 2.f));

    CHECK(find(tensors, "Postprocessor/stack/1").values.at(0) == 5118.f);  // int32 constant

    // First quantised tensor of the file: value = min + scale * first byte of the .bin.
    nlohmann::json json;
    std::ifstream(manifest) >> json;
    const auto& first = json[0]["weights"][0];
    std::ifstream bin(faceswap::test::face_api_model_dir() / "ssd_mobilenetv1_model.bin",
                      std::ios::binary);
    const auto q = static_cast<unsigned char>(bin.get());
    const double expected = first["quantization"]["min"].get<double>() +
                            first["quantization"]["scale"].get<double>() * q;
    CHECK(find(tensors, first["name"]).values.at(0) == Approx(expected).epsilon(1e-6));
}

TEST_CASE("a truncated .bin names the file and the tensor that runs past its end") {
    faceswap::test::TempDir dir;
    const fs::path manifest = copy_landmark_model(dir.path());
    const fs::path bin = dir.path() / "face_landmark_68_model.bin";
    fs::resize_file(bin, fs::file_size(bin) - 100);
    const std::string message = error_message(
        [&] { faceswap::read_tfjs_weights(manifest.string()); }, ErrorCode::kWeightsInvalid);
    CHECK_THAT(message,
               Catch::Contains("face_landmark_68_model.bin") && Catch::Contains("fc/bias"));
}

TEST_CASE("a .bin longer than its manifest says is refused") {
    faceswap::test::TempDir dir;
    const fs::path manifest = copy_landmark_model(dir.path());
    std::ofstream(dir.path() / "face_landmark_68_model.bin", std::ios::app) << "tail";
    const std::string message = error_message(
        [&] { faceswap::read_tfjs_weights(manifest.string()); }, ErrorCode::kWeightsInvalid);
    CHECK_THAT(message, Catch::Contains("does not match"));
}

TEST_CASE("a malformed or missing manifest is a clear error") {
    faceswap::test::TempDir dir;
    const fs::path manifest = dir.path() / "broken-weights_manifest.json";
    std::ofstream(manifest) << "[{\"paths\": [\"x.bin\"], \"weights\": [";
    CHECK_THAT(error_message([&] { faceswap::read_tfjs_weights(manifest.string()); },
                             ErrorCode::kWeightsInvalid),
               Catch::Contains("not valid JSON"));
    CHECK_THAT(
        error_message([&] { faceswap::read_tfjs_weights((dir.path() / "none.json").string()); },
                      ErrorCode::kWeightsInvalid),
        Catch::Contains("cannot open manifest"));
}

TEST_CASE("a manifest may name only shards beside it, and values must fit a float32") {
    faceswap::test::TempDir dir;
    const fs::path manifest = dir.path() / "m-weights_manifest.json";
    for (const char* shard : {"../outside.bin", "/etc/hostname", "sub/x.bin", ".."}) {
        std::ofstream(manifest) << "[{\"paths\": [\"" << shard
                                << "\"], \"weights\": [{\"name\": \"w\", \"shape\": [1], "
                                   "\"dtype\": \"float32\"}]}]";
        CHECK_THAT(error_message([&] { faceswap::read_tfjs_weights(manifest.string()); },
                                 ErrorCode::kWeightsInvalid),
                   Catch::Contains("is not a file name beside the manifest"));
    }
    // A uint8 weight de-quantised past float32's range (seen while writing fuzz_tfjs_weights).
    std::ofstream(manifest) << "[{\"paths\": [\"w.bin\"], \"weights\": [{\"name\": \"w\", "
                               "\"shape\": [1], \"dtype\": \"float32\", \"quantization\": "
                               "{\"dtype\": \"uint8\", \"min\": 0, \"scale\": 1e300}}]}]";
    std::ofstream(dir.path() / "w.bin", std::ios::binary) << '\xff';
    CHECK_THAT(error_message([&] { faceswap::read_tfjs_weights(manifest.string()); },
                             ErrorCode::kWeightsInvalid),
               Catch::Contains("not a finite float32"));
}

TEST_CASE("import refuses a tensor of the wrong shape, naming it") {
    faceswap::test::TempDir dir;
    // A complete model folder whose landmark manifest declares one tensor with swapped axes
    // (same byte count, so only the shape check can catch it).
    for (const auto& entry : fs::directory_iterator(faceswap::test::face_api_model_dir()))
        if (entry.path().filename().string().rfind("ssd_mobilenetv1", 0) == 0)
            fs::copy_file(entry.path(), dir.path() / entry.path().filename());
    const fs::path manifest = copy_landmark_model(dir.path());
    nlohmann::json json;
    std::ifstream(manifest) >> json;
    for (auto& weight : json[0]["weights"])
        if (weight["name"] == "dense0/conv0/filters") weight["shape"] = {3, 3, 32, 3};
    std::ofstream(manifest) << json.dump();

    const fs::path out = dir.path() / "out";
    const std::string message =
        error_message([&] { faceswap::import_face_api_weights(dir.path().string(), out.string()); },
                      ErrorCode::kWeightsInvalid);
    CHECK_THAT(message, Catch::Contains("dense0/conv0/filters") && Catch::Contains("[3,3,32,3]"));
    CHECK_FALSE(fs::exists(out / "landmarks68.fsmodel"));  // nothing half-written
}
