// The server URL a user types into the client (ws://host[:port][/path], wss://...): refused with
// std::invalid_argument, or parsed into a host, a port of digits within 1-65535 and a target.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "faceswap/net/url.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const auto url =
            faceswap::net::parse_ws_url(std::string(faceswap::fuzz::as_text(data, size)));
        FUZZ_ASSERT(!url.host.empty());
        FUZZ_ASSERT(!url.port.empty() && url.port.size() <= 5);
        FUZZ_ASSERT(url.port.find_first_not_of("0123456789") == std::string::npos);
        const long port = std::stol(url.port);
        FUZZ_ASSERT(port >= 1 && port <= 65535);
        FUZZ_ASSERT(!url.target.empty() && url.target[0] == '/');
        FUZZ_ASSERT(!url.authority().empty());
    } catch (const std::invalid_argument&) {
    }
    return 0;
}
