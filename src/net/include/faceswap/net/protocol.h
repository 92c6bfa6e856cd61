// The wire protocol between the desktop client and the server (docs/protocol.md).
//
// Binary messages: a fixed 48-byte little-endian header, an optional result block, then the
// payload (a JPEG frame). Text messages: a JSON handshake (hello -> welcome | error).
// Every field is validated on decode; a bad message yields a ProtocolError whose code maps to
// a WebSocket close code, and the connection's other state is untouched.
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "faceswap/face_choice.h"
#include "faceswap/face_detail.h"
#include "faceswap/swap_direction.h"

namespace faceswap::net {

inline constexpr std::uint32_t kMagic = 0x50575346;  // "FSWP" read as little-endian bytes
inline constexpr std::uint16_t kProtocolVersion = 1;
inline constexpr std::size_t kHeaderBytes = 48;
inline constexpr std::size_t kResultBlockBytes = 24;
// The longest token a hello may carry (protocol.md); a tokens file holds none longer.
inline constexpr std::size_t kMaxTokenLength = 512;

enum class MessageType : std::uint16_t {
    kFrame = 1,   // client -> server: a captured frame to swap
    kResult = 2,  // server -> client: the swapped frame, with timings
    // server -> client: this frame was superseded by a newer one from the same client before
    // the engine reached it, and will not be answered otherwise. No payload. It frees the
    // frame's slot in the client's window at once, so the client can keep the server supplied
    // with fresh frames instead of letting a queued one go stale.
    kSkipped = 3,
};

enum class Codec : std::uint8_t { kJpeg = 1 };

// Why a message or handshake was refused. Each maps to a WebSocket close code.
enum class ProtocolErrorCode {
    kMalformed,           // too short, bad magic, inconsistent lengths, bad JSON
    kUnsupportedVersion,  // a protocol version this build does not speak
    kUnknownType,
    kUnsupportedCodec,
    kTooLarge,      // payload bytes or frame dimensions over the negotiated limits
    kBadPayload,    // e.g. a JPEG that does not decode or does not match the header
    kUnauthorized,  // missing or wrong token
    kUnknownModel,
    kInternal,  // the server failed to process a frame (its fault, not the client's)
};
inline constexpr int kProtocolErrorCodeCount = 9;

class ProtocolError : public std::runtime_error {
  public:
    ProtocolError(ProtocolErrorCode code, const std::string& message)
        : std::runtime_error(message), code_(code) {}
    ProtocolErrorCode code() const noexcept { return code_; }

  private:
    ProtocolErrorCode code_;
};

// The RFC 6455 close code to send after refusing with this error (1002 protocol error,
// 1003 unsupported data, 1008 policy violation, 1009 message too big, 1011 internal error).
std::uint16_t close_code_for(ProtocolErrorCode code);
// A stable machine-readable name ("malformed", "too_large", ...), used in JSON errors.
const char* error_name(ProtocolErrorCode code);

struct FrameHeader {
    MessageType type = MessageType::kFrame;
    std::uint64_t frame_id = 0;
    std::int64_t capture_timestamp_us = 0;  // client clock, echoed back for end-to-end latency
    std::uint16_t width = 0;
    std::uint16_t height = 0;
    Codec codec = Codec::kJpeg;
    std::uint32_t payload_bytes = 0;
};

// Server-side timings and face count carried by a result (microseconds).
struct ResultInfo {
    std::uint32_t decode_us = 0;
    std::uint32_t queue_us = 0;
    std::uint32_t engine_us = 0;
    std::uint32_t encode_us = 0;
    std::uint16_t faces = 0;
};

struct Limits {
    std::uint32_t max_payload_bytes = 4u << 20;
    std::uint16_t max_width = 3840;
    std::uint16_t max_height = 2160;
};

struct Message {
    FrameHeader header;
    ResultInfo result;                      // meaningful for kResult only
    std::span<const std::uint8_t> payload;  // points into the decoded buffer
};

// Encodes a frame (kFrame) or a result (kResult, with info) followed by its payload, or a
// skipped notice (kSkipped, empty payload).
std::vector<std::uint8_t> encode_message(const FrameHeader& header,
                                         std::span<const std::uint8_t> payload,
                                         const ResultInfo* result = nullptr);

// Decodes and validates a binary message against the limits. Throws ProtocolError.
Message decode_message(std::span<const std::uint8_t> bytes, const Limits& limits);

// ---- JSON handshake --------------------------------------------------------------------------
using Direction = SwapDirection;  // faceswap/swap_direction.h

struct Hello {
    int protocol = kProtocolVersion;
    std::string token;
    std::string model;  // model id on the server
    Direction direction = Direction::kAToB;
    int quality = 85;  // JPEG quality the server should answer with, 1..100
    // The detail settings the server applies (each optional in the hello, 0..1; servers
    // before them ignore them, and a model without a detail stage ignores detail_strength).
    FaceDetail detail;
    // Whose face is swapped (optional in the hello, default all): "faces" is "all", "largest"
    // or "people"; with "people", "face_references" holds 1 to 8 descriptors of 128 numbers
    // (face-api's recogniser, faceswap/face_choice.h) and "face_distance" may set the match
    // distance. Servers before this ignore it and swap every face (docs/protocol.md).
    FaceChoice faces;
    // Who adds the invisible watermark (docs/provenance.md): "watermark": "client" says this
    // client marks what it outputs (the native app and `live` do), so the server must not (two
    // payloads in one frame read as none); absent or "server": the server marks every result in
    // which it swapped a face (the browser client writes nothing itself).
    bool client_marks = false;
};

struct Welcome {
    std::string session_id;
    Limits limits;
    int max_in_flight = 4;
    // The version (sha256) of the model this session runs on, when the server knows it: a
    // session keeps its version when the model is replaced (docs/model-api.md).
    std::string model_sha256;
    // The watermark payload the server marks this session's results with ("0x1D9791C7"); empty
    // when it does not (a client that marks, a pass-through engine).
    std::string watermark;
};

// A model id that files and URLs can carry too (the model API, docs/model-api.md): what a hello
// accepts (1-128 of letters, digits, '.', '_', '-'), not starting with '.'.
bool is_valid_model_id(const std::string& id);

std::string encode_hello(const Hello& hello);
Hello decode_hello(const std::string& text);  // throws ProtocolError
std::string encode_welcome(const Welcome& welcome);
Welcome decode_welcome(const std::string& text);  // throws ProtocolError (also for an "error")
std::string encode_error(ProtocolErrorCode code, const std::string& message);

}  // namespace faceswap::net
