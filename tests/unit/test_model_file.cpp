// The engine's own model files: real ones load; missing, truncated, foreign, newer or misshaped
// ones are refused with a clear error, and nothing is half-loaded.
#include <torch/nn/module.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "face_nets.h"
#include "model_file.h"
#include "test_support.h"

namespace fs = std::filesystem;
using faceswap::Error;
using faceswap::ErrorCode;

namespace {

ErrorCode load_error(const fs::path& dir, std::string* message = nullptr) {
    faceswap::EngineConfig config = faceswap::test::test_config();
    config.model_dir = dir.string();
    try {
        faceswap::FaceModels::load(config);
    } catch (const Error& e) {
        if (message) *message = e.what();
        return e.code();
    }
    FAIL("the models loaded");
    return ErrorCode::kInternal;
}

// A model folder in a temp dir holding copies of the real files.
void copy_models(const fs::path& dir) {
    for (const char* name : {"ssd_mobilenetv1.fsmodel", "landmarks68.fsmodel"})
        fs::copy_file(faceswap::test::model_dir() / name, dir / name);
}

}  // namespace

TEST_CASE("the converted models load") {
    REQUIRE(faceswap::test::shared_models() != nullptr);
    CHECK(faceswap::test::shared_models()->device_name().rfind("cpu", 0) == 0);
}

TEST_CASE("a missing model folder says how to create it") {
    faceswap::test::TempDir dir;
    std::string message;
    CHECK(load_error(dir.path() / "nothing-here", &message) == ErrorCode::kModelMissing);
    CHECK_THAT(message, Catch::Contains("make setup"));
}

TEST_CASE("a truncated or garbage model file is refused") {
    faceswap::test::TempDir dir;
    copy_models(dir.path());
    const fs::path file = dir.path() / "landmarks68.fsmodel";
    fs::resize_file(file, fs::file_size(file) / 2);
    std::string message;
    CHECK(load_error(dir.path(), &message) == ErrorCode::kModelCorrupt);
    CHECK_THAT(message, Catch::Contains("landmarks68.fsmodel"));

    std::ofstream(file, std::ios::trunc) << "this is not a model";
    CHECK(load_error(dir.path()) == ErrorCode::kModelCorrupt);
}

TEST_CASE("a model of another kind is refused") {
    faceswap::test::TempDir dir;
    copy_models(dir.path());
    fs::copy_file(dir.path() / "ssd_mobilenetv1.fsmodel", dir.path() / "landmarks68.fsmodel",
                  fs::copy_options::overwrite_existing);
    std::string message;
    CHECK(load_error(dir.path(), &message) == ErrorCode::kModelCorrupt);
    CHECK_THAT(message, Catch::Contains("'ssd_mobilenetv1'"));
}

TEST_CASE("a model from a newer format version is refused") {
    faceswap::test::TempDir dir;
    copy_models(dir.path());
    faceswap::detail::LandmarkNet68 net;
    faceswap::detail::save_module(net, {"face_landmark_68", "test", 99, {}},
                                  (dir.path() / "landmarks68.fsmodel").string());
    std::string message;
    CHECK(load_error(dir.path(), &message) == ErrorCode::kModelVersion);
    CHECK_THAT(message, Catch::Contains("newer"));
}

TEST_CASE("a tensor of the wrong shape is refused by name, and nothing is copied") {
    // Same names as the landmark net, one shape wrong.
    struct Misshaped : torch::nn::Module {
        Misshaped() {
            faceswap::detail::LandmarkNet68 reference;
            for (const auto& item : reference.named_buffers())
                register_buffer(item.key(), item.key() == "fc_bias"
                                                ? at::ones({135})
                                                : at::ones(item.value().sizes()));
        }
    };
    faceswap::test::TempDir dir;
    const fs::path file = dir.path() / "landmarks68.fsmodel";
    faceswap::detail::save_module(Misshaped(), {"face_landmark_68", "test", 1, {}}, file.string());
    faceswap::detail::LandmarkNet68 net;
    try {
        faceswap::detail::load_module(net, "face_landmark_68", file.string());
        FAIL("loaded");
    } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::kModelCorrupt);
        CHECK_THAT(std::string(e.what()), Catch::Contains("fc_bias") && Catch::Contains("[135]"));
    }
    for (const auto& item : net.named_buffers())
        REQUIRE(item.value().abs().sum().item<float>() == 0.f);
}

namespace {

// A small model file with the given bytes of its pickle replaced: `pattern` must occur once,
// and becomes `replacement` (same length, so the zip's offsets stay right).
fs::path damaged_model(const faceswap::test::TempDir& dir, const std::string& pattern,
                       const std::string& replacement) {
    struct Tiny : torch::nn::Module {
        Tiny() {
            register_buffer("weight", at::ones({2, 3}));
            register_buffer("bias", at::zeros({3}));
        }
    };
    const fs::path file = dir.path() / "damaged.fsmodel";
    faceswap::detail::save_module(Tiny(), {"swap_autoencoder", "test", 2, {}}, file.string());
    std::string bytes;
    {
        std::ifstream in(file, std::ios::binary);
        bytes.assign(std::istreambuf_iterator<char>(in), {});
    }
    const auto at = bytes.find(pattern);
    REQUIRE(at != std::string::npos);
    REQUIRE(bytes.find(pattern, at + 1) == std::string::npos);
    REQUIRE(replacement.size() == pattern.size());
    bytes.replace(at, pattern.size(), replacement);
    std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
    return file;
}

std::string archive_error(const fs::path& file) {
    try {
        faceswap::detail::read_tensors("swap_autoencoder", file.string());
    } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::kModelCorrupt);
        return e.what();
    }
    FAIL("the damaged file loaded");
    return {};
}

}  // namespace

// Fuzzing found files of 3 KB that made LibTorch's reader allocate 2.5 GB (a string length) and
// 23 GB (a memo index) before it threw; the archive check refuses them before LibTorch reads.
TEST_CASE("a damaged archive is refused before LibTorch allocates what it declares") {
    faceswap::test::TempDir dir;
    using namespace std::string_literals;
    SECTION("a string longer than its record") {
        const auto file = damaged_model(dir, "X\x06\0\0\0__kind"s, "X\x06\0\0\x7f__kind"s);
        CHECK_THAT(archive_error(file), Catch::Contains("damaged.fsmodel") &&
                                            Catch::Contains("string runs past the record"));
    }
    SECTION("a memo index out of order") {
        const auto file = damaged_model(dir, "__faceswap_magicq\x01"s, "__faceswap_magicq\x7f"s);
        CHECK_THAT(archive_error(file), Catch::Contains("memo index 127 out of order"));
    }
    SECTION("a storage that declares more elements than its record holds") {
        // bias: 3 floats in record "0" (names are stored sorted), declared as 255.
        const auto file = damaged_model(dir, "cpuq\x0dK\x03"s, "cpuq\x0dK\xff"s);
        CHECK_THAT(archive_error(file),
                   Catch::Contains("storage of 255 elements in a record of 12 bytes"));
    }
    SECTION("the untouched file loads") {
        const auto file = damaged_model(dir, "X\x06\0\0\0__kind"s, "X\x06\0\0\0__kind"s);
        CHECK(faceswap::detail::read_tensors("swap_autoencoder", file.string()).size() == 2);
    }
}

TEST_CASE("a tensor whose bytes changed is refused by its checksum") {
    using namespace std::string_literals;
    faceswap::test::TempDir dir;
    std::string ones;
    for (int i = 0; i < 6; ++i) ones += "\0\0\x80\x3f"s;  // the weight: six float 1.0s
    std::string changed = ones;
    changed[9] = '\x01';
    const auto file = damaged_model(dir, ones, changed);
    CHECK_THAT(archive_error(file),
               Catch::Contains("tensor 'weight'") && Catch::Contains("damaged (CRC-32 mismatch)"));
}
