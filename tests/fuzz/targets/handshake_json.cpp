// The JSON handshake: a client's hello (read by the server) and the server's welcome or error
// (read by the client). Anything else than a ProtocolError is a bug; an accepted hello encodes
// and decodes back to the same fields.
#include <cstdint>
#include <string>

#include "faceswap/net/protocol.h"
#include "fuzz_support.h"

using namespace faceswap::net;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(faceswap::fuzz::as_text(data, size));
    try {
        const Hello hello = decode_hello(text);
        FUZZ_ASSERT(is_valid_model_id(hello.model));
        FUZZ_ASSERT(hello.quality >= 1 && hello.quality <= 100);
        const Hello again = decode_hello(encode_hello(hello));
        FUZZ_ASSERT(again.token == hello.token && again.model == hello.model &&
                    again.direction == hello.direction && again.quality == hello.quality);
    } catch (const ProtocolError&) {
    }
    try {
        const Welcome welcome = decode_welcome(text);
        FUZZ_ASSERT(!welcome.session_id.empty());
        FUZZ_ASSERT(welcome.max_in_flight >= 1 && welcome.max_in_flight <= 64);
        const Welcome again = decode_welcome(encode_welcome(welcome));
        FUZZ_ASSERT(again.session_id == welcome.session_id &&
                    again.limits.max_payload_bytes == welcome.limits.max_payload_bytes &&
                    again.limits.max_width == welcome.limits.max_width &&
                    again.limits.max_height == welcome.limits.max_height &&
                    again.max_in_flight == welcome.max_in_flight &&
                    again.model_sha256 == welcome.model_sha256);
    } catch (const ProtocolError&) {
    }
    return 0;
}
