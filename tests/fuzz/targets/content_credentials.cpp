// C2PA manifests as `faceswap verify` reads them (our own reader: JPEG APP11 segments, PNG caBX
// chunks, MP4 uuid boxes, JUMBF boxes, CBOR, COSE, the hashes): any bytes give a reading,
// never a crash, and a file with no manifest never reads as signed.
#include <cstdint>

#include "faceswap/capture/content_credentials.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace faceswap::fuzz;
    using State = faceswap::capture::CredentialsReading::State;
    const std::string path = write_file("credentials.bin", as_text(data, size));
    const auto reading = faceswap::capture::read_content_credentials(path);
    FUZZ_ASSERT(reading.state != State::kTrusted);  // no anchors were given
    FUZZ_ASSERT(reading.state != State::kValid || reading.bytes > 0);
    FUZZ_ASSERT(reading.state != State::kInvalid || !reading.reason.empty());
    return 0;
}
