// Writes the model_file target's seed: a valid swap-model file (kind, format version,
// attributes) holding a few tiny tensors, float32 and float16, through the engine's own
// save_module. A real swap model is megabytes of weights, which would only slow the fuzzer.
#include <torch/nn/module.h>

#include <cstdio>

#include "model_file.h"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s OUT.fsmodel\n", argv[0]);
        return 2;
    }
    // Names as real models have them (encoder.weight, decoder.scale): parameters of children.
    struct Part : torch::nn::Module {
        Part() {
            register_parameter("weight", torch::randn({2, 3, 1, 1}));
            register_parameter("bias", torch::zeros({2}));
            register_buffer("scale", torch::ones({1, 2, 2}));
        }
    };
    struct Tiny : torch::nn::Module {
        Tiny() {
            register_module("encoder", std::make_shared<Part>());
            register_module("decoder", std::make_shared<Part>());
        }
    } module;
    faceswap::detail::ModelMetadata metadata;
    metadata.kind = "swap_autoencoder";
    metadata.source = "tests/fuzz/model_seed.cpp";
    metadata.attributes = {{"resolution", "128"}, {"identity_a", "a"}, {"identity_b", "b"}};
    faceswap::detail::save_module(module, metadata, argv[1]);
    metadata.half_precision = true;
    faceswap::detail::save_module(module, metadata, std::string(argv[1]) + ".half");
    return 0;
}
