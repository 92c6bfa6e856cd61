// The invisible watermark on the server's results (docs/provenance.md): what a session's hello
// leaves to the server (the browser client writes nothing itself) is marked here, after the
// engine and before the JPEG encode. Kept out of session.h so that OpenCV stays in one file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace faceswap::server {

// The payload a session's results carry: a hash of the model id, its version and this server
// process's session (capture::watermark_payload).
std::uint32_t result_watermark_payload(const std::string& model, const std::string& version);

// capture::watermark_payload_text, here so that session.h needs no OpenCV header.
std::string watermark_payload_text(std::uint32_t payload);

// Adds the watermark to a tightly packed BGR frame in place (one pattern cache per thread).
void mark_result(std::vector<std::uint8_t>& bgr, int width, int height, std::uint32_t payload);

}  // namespace faceswap::server
