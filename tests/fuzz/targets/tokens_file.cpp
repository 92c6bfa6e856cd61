// faceswap-server's tokens file (one token per line, optionally "models"): refused with a
// ConfigError, or read into tokens where every token with the models right may also stream, and
// each one is accepted by token_accepted.
#include <cstdint>

#include "config.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string path =
        faceswap::fuzz::write_file("tokens", faceswap::fuzz::as_text(data, size));
    try {
        const auto tokens = faceswap::server::load_tokens(path);
        for (const auto& token : tokens.models) FUZZ_ASSERT(tokens.all.count(token) == 1);
        for (const auto& token : tokens.all) {
            FUZZ_ASSERT(!token.empty());
            FUZZ_ASSERT(faceswap::server::token_accepted(tokens.all, token));
        }
        FUZZ_ASSERT(!faceswap::server::token_accepted(tokens.all, ""));
    } catch (const faceswap::server::ConfigError&) {
    }
    return 0;
}
