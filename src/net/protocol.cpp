#include "faceswap/net/protocol.h"

#include <nlohmann/json.hpp>

#include "faceswap/json_integer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

namespace faceswap::net {
namespace {

[[noreturn]] void refuse(ProtocolErrorCode code, const std::string& message) {
    throw ProtocolError(code, message);
}

// Little-endian field access at fixed offsets, independent of the host's byte order.
template <typename T>
void put(std::uint8_t* at, T value) {
    using U = std::make_unsigned_t<T>;
    U bits = static_cast<U>(value);
    for (std::size_t i = 0; i < sizeof(T); ++i) at[i] = static_cast<std::uint8_t>(bits >> (8 * i));
}

template <typename T>
T get(const std::uint8_t* at) {
    using U = std::make_unsigned_t<T>;
    U bits = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) bits |= static_cast<U>(at[i]) << (8 * i);
    return static_cast<T>(bits);
}

// Header offsets (docs/protocol.md).
constexpr std::size_t kOffMagic = 0, kOffVersion = 4, kOffType = 6, kOffFrameId = 8,
                      kOffTimestamp = 16, kOffWidth = 24, kOffHeight = 26, kOffCodec = 28,
                      kOffFlags = 29, kOffReserved16 = 30, kOffPayload = 32, kOffReservedTail = 36;
// In the result block, after its four u32 timings and u16 face count.
constexpr std::size_t kOffResultReserved = 18;

// Room for a hello with eight face references (docs/protocol.md).
constexpr std::size_t kMaxHandshakeBytes = 32768;

nlohmann::json parse_object(const std::string& text, const char* what) {
    if (text.size() > kMaxHandshakeBytes)
        refuse(ProtocolErrorCode::kTooLarge, std::string(what) + " is longer than " +
                                                 std::to_string(kMaxHandshakeBytes) + " bytes");
    nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!json.is_object())
        refuse(ProtocolErrorCode::kMalformed, std::string(what) + " is not a JSON object");
    return json;
}

template <typename T>
T field(const nlohmann::json& json, const char* name, const char* what) {
    const auto it = json.find(name);
    if (it == json.end())
        refuse(ProtocolErrorCode::kMalformed, std::string(what) + " lacks '" + name + "'");
    if constexpr (std::is_integral_v<T>) {
        // get<T>() would convert a float (undefined past T's range: found by fuzzing) and wrap an
        // integer out of range.
        const auto value = json_integer<T>(*it);
        if (!value)
            refuse(ProtocolErrorCode::kMalformed,
                   std::string(what) + ": '" + name + "' is not an integer within range");
        return *value;
    } else {
        try {
            return it->get<T>();
        } catch (const nlohmann::json::exception&) {
            refuse(ProtocolErrorCode::kMalformed,
                   std::string(what) + ": '" + name + "' has the wrong type");
        }
    }
}

bool valid_model_id(const std::string& id) {
    return !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    });
}

}  // namespace

bool is_valid_model_id(const std::string& id) {
    return valid_model_id(id) && id[0] != '.';
}

std::uint16_t close_code_for(ProtocolErrorCode code) {
    switch (code) {
        case ProtocolErrorCode::kMalformed:
        case ProtocolErrorCode::kUnknownType:
            return 1002;
        case ProtocolErrorCode::kUnsupportedVersion:
        case ProtocolErrorCode::kUnsupportedCodec:
        case ProtocolErrorCode::kBadPayload:
            return 1003;
        case ProtocolErrorCode::kUnauthorized:
        case ProtocolErrorCode::kUnknownModel:
            return 1008;
        case ProtocolErrorCode::kTooLarge:
            return 1009;
        case ProtocolErrorCode::kInternal:
            return 1011;
    }
    return 1002;
}

const char* error_name(ProtocolErrorCode code) {
    switch (code) {
        case ProtocolErrorCode::kMalformed:
            return "malformed";
        case ProtocolErrorCode::kUnsupportedVersion:
            return "unsupported_version";
        case ProtocolErrorCode::kUnknownType:
            return "unknown_type";
        case ProtocolErrorCode::kUnsupportedCodec:
            return "unsupported_codec";
        case ProtocolErrorCode::kTooLarge:
            return "too_large";
        case ProtocolErrorCode::kBadPayload:
            return "bad_payload";
        case ProtocolErrorCode::kUnauthorized:
            return "unauthorized";
        case ProtocolErrorCode::kUnknownModel:
            return "unknown_model";
        case ProtocolErrorCode::kInternal:
            return "internal";
    }
    return "malformed";
}

std::vector<std::uint8_t> encode_message(const FrameHeader& header,
                                         std::span<const std::uint8_t> payload,
                                         const ResultInfo* result) {
    const bool is_result = header.type == MessageType::kResult;
    if (is_result != (result != nullptr))
        throw std::invalid_argument("a result message needs a ResultInfo, a frame none");
    if ((header.type == MessageType::kSkipped) != payload.empty())
        throw std::invalid_argument("a skipped notice has no payload, other messages one");
    std::vector<std::uint8_t> out(
        kHeaderBytes + (is_result ? kResultBlockBytes : 0) + payload.size(), 0);
    std::uint8_t* p = out.data();
    put<std::uint32_t>(p + kOffMagic, kMagic);
    put<std::uint16_t>(p + kOffVersion, kProtocolVersion);
    put<std::uint16_t>(p + kOffType, static_cast<std::uint16_t>(header.type));
    put<std::uint64_t>(p + kOffFrameId, header.frame_id);
    put<std::int64_t>(p + kOffTimestamp, header.capture_timestamp_us);
    put<std::uint16_t>(p + kOffWidth, header.width);
    put<std::uint16_t>(p + kOffHeight, header.height);
    put<std::uint8_t>(p + kOffCodec, static_cast<std::uint8_t>(header.codec));
    put<std::uint32_t>(p + kOffPayload, static_cast<std::uint32_t>(payload.size()));
    std::uint8_t* body = p + kHeaderBytes;
    if (is_result) {
        put<std::uint32_t>(body + 0, result->decode_us);
        put<std::uint32_t>(body + 4, result->queue_us);
        put<std::uint32_t>(body + 8, result->engine_us);
        put<std::uint32_t>(body + 12, result->encode_us);
        put<std::uint16_t>(body + 16, result->faces);
        body += kResultBlockBytes;
    }
    if (!payload.empty()) std::memcpy(body, payload.data(), payload.size());
    return out;
}

Message decode_message(std::span<const std::uint8_t> bytes, const Limits& limits) {
    if (bytes.size() < kHeaderBytes)
        refuse(ProtocolErrorCode::kMalformed, "message of " + std::to_string(bytes.size()) +
                                                  " bytes is shorter than the 48-byte header");
    const std::uint8_t* p = bytes.data();
    if (get<std::uint32_t>(p + kOffMagic) != kMagic)
        refuse(ProtocolErrorCode::kMalformed, "bad magic: not a faceswap message");
    const auto version = get<std::uint16_t>(p + kOffVersion);
    if (version != kProtocolVersion)
        refuse(ProtocolErrorCode::kUnsupportedVersion, "protocol version " +
                                                           std::to_string(version) +
                                                           " is not supported (this build speaks " +
                                                           std::to_string(kProtocolVersion) + ")");
    Message message;
    FrameHeader& h = message.header;
    const auto type = get<std::uint16_t>(p + kOffType);
    if (type != static_cast<std::uint16_t>(MessageType::kFrame) &&
        type != static_cast<std::uint16_t>(MessageType::kResult) &&
        type != static_cast<std::uint16_t>(MessageType::kSkipped))
        refuse(ProtocolErrorCode::kUnknownType, "unknown message type " + std::to_string(type));
    h.type = static_cast<MessageType>(type);
    const auto codec = get<std::uint8_t>(p + kOffCodec);
    if (codec != static_cast<std::uint8_t>(Codec::kJpeg))
        refuse(ProtocolErrorCode::kUnsupportedCodec, "unsupported codec " + std::to_string(codec));
    h.codec = Codec::kJpeg;
    if (get<std::uint8_t>(p + kOffFlags) != 0 || get<std::uint16_t>(p + kOffReserved16) != 0)
        refuse(ProtocolErrorCode::kMalformed, "reserved header fields must be zero");
    for (std::size_t i = kOffReservedTail; i < kHeaderBytes; ++i)
        if (p[i] != 0) refuse(ProtocolErrorCode::kMalformed, "reserved header fields must be zero");
    h.frame_id = get<std::uint64_t>(p + kOffFrameId);
    h.capture_timestamp_us = get<std::int64_t>(p + kOffTimestamp);
    h.width = get<std::uint16_t>(p + kOffWidth);
    h.height = get<std::uint16_t>(p + kOffHeight);
    if (h.width < 16 || h.height < 16)
        refuse(ProtocolErrorCode::kMalformed, "frame of " + std::to_string(h.width) + "x" +
                                                  std::to_string(h.height) +
                                                  " is smaller than 16x16");
    if (h.width > limits.max_width || h.height > limits.max_height)
        refuse(ProtocolErrorCode::kTooLarge,
               "frame of " + std::to_string(h.width) + "x" + std::to_string(h.height) +
                   " exceeds the limit of " + std::to_string(limits.max_width) + "x" +
                   std::to_string(limits.max_height));
    h.payload_bytes = get<std::uint32_t>(p + kOffPayload);
    if (h.payload_bytes > limits.max_payload_bytes)
        refuse(ProtocolErrorCode::kTooLarge, "payload of " + std::to_string(h.payload_bytes) +
                                                 " bytes exceeds the limit of " +
                                                 std::to_string(limits.max_payload_bytes));
    if (h.type == MessageType::kSkipped) {
        if (h.payload_bytes != 0)
            refuse(ProtocolErrorCode::kMalformed, "a skipped notice carries no payload");
    } else if (h.payload_bytes == 0) {
        refuse(ProtocolErrorCode::kMalformed, "empty payload");
    }
    const std::size_t body =
        kHeaderBytes + (h.type == MessageType::kResult ? kResultBlockBytes : 0);
    if (bytes.size() != body + h.payload_bytes)
        refuse(ProtocolErrorCode::kMalformed, "message has " + std::to_string(bytes.size()) +
                                                  " bytes but its header announces " +
                                                  std::to_string(body + h.payload_bytes));
    if (h.type == MessageType::kResult) {
        const std::uint8_t* r = p + kHeaderBytes;
        for (std::size_t i = kOffResultReserved; i < kResultBlockBytes; ++i)
            if (r[i] != 0)
                refuse(ProtocolErrorCode::kMalformed, "reserved result fields must be zero");
        message.result = {get<std::uint32_t>(r + 0), get<std::uint32_t>(r + 4),
                          get<std::uint32_t>(r + 8), get<std::uint32_t>(r + 12),
                          get<std::uint16_t>(r + 16)};
    }
    message.payload = bytes.subspan(body, h.payload_bytes);
    return message;
}

std::string encode_hello(const Hello& hello) {
    nlohmann::json json{{"type", "hello"},
                        {"protocol", hello.protocol},
                        {"token", hello.token},
                        {"model", hello.model},
                        {"direction", direction_name(hello.direction)},
                        {"quality", hello.quality}};
    for (const FaceDetailSetting& setting : kFaceDetailSettings)
        json[setting.name] = hello.detail.*setting.value;
    if (hello.faces.mode != FaceChoiceMode::kAll) {
        json["faces"] = face_choice_mode_name(hello.faces.mode);
        if (hello.faces.mode == FaceChoiceMode::kPeople) {
            json["face_references"] = hello.faces.people;
            json["face_distance"] = hello.faces.max_distance;
        }
    }
    if (hello.client_marks) json["watermark"] = "client";
    return json.dump();
}

namespace {

// The hello's optional face choice ("faces", "face_references", "face_distance").
FaceChoice decode_face_choice(const nlohmann::json& json) {
    FaceChoice choice;
    const auto mode = json.find("faces");
    if (mode == json.end()) return choice;
    if (*mode == "largest") {
        choice.mode = FaceChoiceMode::kLargest;
    } else if (*mode == "people") {
        choice.mode = FaceChoiceMode::kPeople;
    } else if (*mode != "all") {
        refuse(ProtocolErrorCode::kMalformed, "hello: faces must be 'all', 'largest' or 'people'");
    }
    if (choice.mode != FaceChoiceMode::kPeople) return choice;
    const auto references = json.find("face_references");
    if (references == json.end() || !references->is_array() || references->empty() ||
        references->size() > FaceChoice::kMaxPeople)
        refuse(ProtocolErrorCode::kMalformed,
               "hello: faces 'people' needs face_references, a list of 1 to " +
                   std::to_string(FaceChoice::kMaxPeople) + " face descriptors");
    for (const nlohmann::json& reference : *references) {
        if (!reference.is_array() || reference.size() != kDescriptorSize)
            refuse(ProtocolErrorCode::kMalformed, "hello: each face reference must be a list of " +
                                                      std::to_string(kDescriptorSize) + " numbers");
        FaceDescriptor descriptor{};
        for (int i = 0; i < kDescriptorSize; ++i) {
            const nlohmann::json& v = reference[static_cast<size_t>(i)];
            if (!v.is_number() || !std::isfinite(v.get<double>()) || std::abs(v.get<double>()) > 10)
                refuse(ProtocolErrorCode::kMalformed,
                       "hello: face references hold numbers from -10 to 10");
            descriptor[static_cast<size_t>(i)] = v.get<float>();
        }
        choice.people.push_back(descriptor);
    }
    const auto distance = json.find("face_distance");
    if (distance != json.end()) {
        if (!distance->is_number() ||
            !(distance->get<double>() > 0.0 && distance->get<double>() <= 2.0))
            refuse(ProtocolErrorCode::kMalformed,
                   "hello: face_distance must be a number above 0, at most 2");
        choice.max_distance = distance->get<float>();
    }
    return choice;
}

}  // namespace

Hello decode_hello(const std::string& text) {
    const nlohmann::json json = parse_object(text, "hello");
    if (field<std::string>(json, "type", "hello") != "hello")
        refuse(ProtocolErrorCode::kMalformed, "the first message must be a hello");
    Hello hello;
    hello.protocol = field<int>(json, "protocol", "hello");
    if (hello.protocol != kProtocolVersion)
        refuse(ProtocolErrorCode::kUnsupportedVersion,
               "protocol version " + std::to_string(hello.protocol) +
                   " is not supported (this server speaks " + std::to_string(kProtocolVersion) +
                   ")");
    hello.token = field<std::string>(json, "token", "hello");
    if (hello.token.size() > kMaxTokenLength)
        refuse(ProtocolErrorCode::kMalformed, "hello: token is too long");
    hello.model = field<std::string>(json, "model", "hello");
    if (!valid_model_id(hello.model))
        refuse(ProtocolErrorCode::kMalformed,
               "hello: model id must be 1-128 characters of letters, digits, '.', '_' or '-'");
    const auto direction = field<std::string>(json, "direction", "hello");
    if (direction != "a2b" && direction != "b2a")
        refuse(ProtocolErrorCode::kMalformed, "hello: direction must be 'a2b' or 'b2a'");
    hello.direction = direction == "a2b" ? Direction::kAToB : Direction::kBToA;
    hello.quality = field<int>(json, "quality", "hello");
    if (hello.quality < 1 || hello.quality > 100)
        refuse(ProtocolErrorCode::kMalformed, "hello: quality must be 1 to 100");
    for (const FaceDetailSetting& setting : kFaceDetailSettings) {
        const auto it = json.find(setting.name);
        if (it == json.end()) continue;
        if (!it->is_number() || !(it->get<double>() >= 0.0 && it->get<double>() <= 1.0))
            refuse(ProtocolErrorCode::kMalformed,
                   std::string("hello: ") + setting.name + " must be a number from 0 to 1");
        hello.detail.*setting.value = static_cast<float>(it->get<double>());
    }
    hello.faces = decode_face_choice(json);
    if (const auto marks = json.find("watermark"); marks != json.end()) {
        if (!marks->is_string() || (*marks != "client" && *marks != "server"))
            refuse(ProtocolErrorCode::kMalformed, "hello: watermark must be 'client' or 'server'");
        hello.client_marks = *marks == "client";
    }
    return hello;
}

std::string encode_welcome(const Welcome& welcome) {
    nlohmann::json json{{"type", "welcome"},
                        {"session_id", welcome.session_id},
                        {"limits",
                         {{"max_payload_bytes", welcome.limits.max_payload_bytes},
                          {"max_width", welcome.limits.max_width},
                          {"max_height", welcome.limits.max_height},
                          {"max_in_flight", welcome.max_in_flight}}}};
    if (!welcome.model_sha256.empty()) json["model_sha256"] = welcome.model_sha256;
    if (!welcome.watermark.empty()) json["watermark"] = welcome.watermark;
    return json.dump();
}

Welcome decode_welcome(const std::string& text) {
    const nlohmann::json json = parse_object(text, "welcome");
    const auto type = field<std::string>(json, "type", "server reply");
    if (type == "error") {
        const auto code = field<std::string>(json, "code", "error");
        const auto message = field<std::string>(json, "message", "error");
        for (int i = 0; i < kProtocolErrorCodeCount; ++i) {
            const auto candidate = static_cast<ProtocolErrorCode>(i);
            if (code == error_name(candidate)) refuse(candidate, "server refused: " + message);
        }
        refuse(ProtocolErrorCode::kMalformed, "server refused (" + code + "): " + message);
    }
    if (type != "welcome")
        refuse(ProtocolErrorCode::kMalformed, "expected a welcome, got '" + type + "'");
    Welcome welcome;
    welcome.session_id = field<std::string>(json, "session_id", "welcome");
    const auto limits = field<nlohmann::json>(json, "limits", "welcome");
    welcome.limits.max_payload_bytes =
        field<std::uint32_t>(limits, "max_payload_bytes", "welcome limits");
    welcome.limits.max_width = field<std::uint16_t>(limits, "max_width", "welcome limits");
    welcome.limits.max_height = field<std::uint16_t>(limits, "max_height", "welcome limits");
    welcome.max_in_flight = field<int>(limits, "max_in_flight", "welcome limits");
    if (json.contains("model_sha256"))
        welcome.model_sha256 = field<std::string>(json, "model_sha256", "welcome");
    if (json.contains("watermark"))
        welcome.watermark = field<std::string>(json, "watermark", "welcome");
    if (welcome.session_id.empty() || welcome.max_in_flight < 1 || welcome.max_in_flight > 64 ||
        welcome.limits.max_payload_bytes == 0 || welcome.limits.max_width < 16 ||
        welcome.limits.max_height < 16)
        refuse(ProtocolErrorCode::kMalformed,
               "welcome carries an empty session id or impossible limits");
    return welcome;
}

std::string encode_error(ProtocolErrorCode code, const std::string& message) {
    return nlohmann::json{{"type", "error"}, {"code", error_name(code)}, {"message", message}}
        .dump();
}

}  // namespace faceswap::net
