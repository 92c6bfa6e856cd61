// The binary frame message (48-byte header, result block, payload) as the server and the client
// decode it: every message either is refused with a ProtocolError or decodes to fields within the
// limits, and encodes back to the very same bytes.
#include <cstdint>
#include <vector>

#include "faceswap/net/protocol.h"
#include "fuzz_support.h"

using namespace faceswap::net;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const Limits limits;  // the server's defaults
    Message message;
    try {
        message = decode_message({data, size}, limits);
    } catch (const ProtocolError& e) {
        FUZZ_ASSERT(close_code_for(e.code()) >= 1000);
        return 0;
    }
    const FrameHeader& h = message.header;
    FUZZ_ASSERT(h.width >= 16 && h.height >= 16);
    FUZZ_ASSERT(h.width <= limits.max_width && h.height <= limits.max_height);
    FUZZ_ASSERT(h.payload_bytes <= limits.max_payload_bytes);
    FUZZ_ASSERT(message.payload.size() == h.payload_bytes);
    FUZZ_ASSERT(message.payload.data() >= data &&
                message.payload.data() + h.payload_bytes <= data + size);
    const std::vector<std::uint8_t> again = encode_message(
        h, message.payload, h.type == MessageType::kResult ? &message.result : nullptr);
    FUZZ_ASSERT(again.size() == size && std::equal(again.begin(), again.end(), data));
    return 0;
}
