// faceswap-server's TOML config file: refused with a ConfigError naming the key, or loaded into
// settings that validate() then accepts or refuses, again with a ConfigError.
#include <cstdint>

#include "config.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string path =
        faceswap::fuzz::write_file("server.toml", faceswap::fuzz::as_text(data, size));
    faceswap::server::ServerConfig config;
    try {
        faceswap::server::load_config_file(path, config);
        config.validate();
    } catch (const faceswap::server::ConfigError&) {
    }
    return 0;
}
