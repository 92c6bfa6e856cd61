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
