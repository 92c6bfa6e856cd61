// The wire protocol: round trips, and every way a message or handshake can be refused.
#include <catch2/catch.hpp>

#include "faceswap/net/protocol.h"

using namespace faceswap::net;
using faceswap::FaceDetail;
using faceswap::FaceDetailSetting;
using faceswap::kFaceDetailSettings;

namespace {

std::vector<std::uint8_t> sample_frame(std::uint32_t payload_bytes = 100) {
    FrameHeader header;
    header.frame_id = 0x0102030405060708ull;
    header.capture_timestamp_us = -42;
    header.width = 640;
    header.height = 480;
    std::vector<std::uint8_t> payload(payload_bytes);
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i);
    return encode_message(header, payload);
}

ProtocolErrorCode refusal(std::vector<std::uint8_t> bytes, const Limits& limits = {}) {
    try {
        decode_message(bytes, limits);
    } catch (const ProtocolError& e) {
        return e.code();
    }
    FAIL("accepted");
    return ProtocolErrorCode::kMalformed;
}

}  // namespace

TEST_CASE("frames and results round-trip with a little-endian header") {
    const auto bytes = sample_frame();
    REQUIRE(bytes.size() == kHeaderBytes + 100);
    CHECK(bytes[0] == 'F');
    CHECK(bytes[3] == 'P');
    CHECK(bytes[8] == 0x08);  // frame id, least significant byte first
    const Message frame = decode_message(bytes, {});
    CHECK(frame.header.type == MessageType::kFrame);
    CHECK(frame.header.frame_id == 0x0102030405060708ull);
    CHECK(frame.header.capture_timestamp_us == -42);
    CHECK(frame.header.width == 640);
    CHECK(frame.header.height == 480);
    CHECK(frame.payload.size() == 100);
    CHECK(frame.payload[99] == 99);

    FrameHeader header = frame.header;
    header.type = MessageType::kResult;
    const ResultInfo info{1200, 300, 15000, 900, 2};
    const std::vector<std::uint8_t> jpeg(10, 7);
    const Message result = decode_message(encode_message(header, jpeg, &info), {});
    CHECK(result.header.type == MessageType::kResult);
    CHECK(result.result.engine_us == 15000);
    CHECK(result.result.faces == 2);
    CHECK(result.payload.size() == 10);

    header.type = MessageType::kSkipped;
    const Message skipped = decode_message(encode_message(header, {}), {});
    CHECK(skipped.header.type == MessageType::kSkipped);
    CHECK(skipped.header.frame_id == 0x0102030405060708ull);
    CHECK(skipped.payload.empty());
    auto skipped_with_payload = sample_frame();
    skipped_with_payload[6] = 3;
    CHECK(refusal(skipped_with_payload) == ProtocolErrorCode::kMalformed);
}

TEST_CASE("malformed, unknown and oversized messages are refused with the right code") {
    CHECK(refusal({1, 2, 3}) == ProtocolErrorCode::kMalformed);  // shorter than a header

    auto bad_magic = sample_frame();
    bad_magic[0] = 'X';
    CHECK(refusal(bad_magic) == ProtocolErrorCode::kMalformed);

    auto future = sample_frame();
    future[4] = 2;  // version 2
    CHECK(refusal(future) == ProtocolErrorCode::kUnsupportedVersion);

    auto unknown_type = sample_frame();
    unknown_type[6] = 9;
    CHECK(refusal(unknown_type) == ProtocolErrorCode::kUnknownType);

    auto codec = sample_frame();
    codec[28] = 5;
    CHECK(refusal(codec) == ProtocolErrorCode::kUnsupportedCodec);

    auto reserved = sample_frame();
    reserved[40] = 1;
    CHECK(refusal(reserved) == ProtocolErrorCode::kMalformed);

    auto truncated = sample_frame();
    truncated.pop_back();
    CHECK(refusal(truncated) == ProtocolErrorCode::kMalformed);

    auto trailing = sample_frame();
    trailing.push_back(0);
    CHECK(refusal(trailing) == ProtocolErrorCode::kMalformed);

    Limits small;
    small.max_payload_bytes = 50;
    CHECK(refusal(sample_frame(), small) == ProtocolErrorCode::kTooLarge);
    small = Limits{};
    small.max_width = 320;
    CHECK(refusal(sample_frame(), small) == ProtocolErrorCode::kTooLarge);

    auto tiny = sample_frame();
    tiny[24] = 1, tiny[25] = 0;  // width 1
    CHECK(refusal(tiny) == ProtocolErrorCode::kMalformed);

    CHECK(close_code_for(ProtocolErrorCode::kTooLarge) == 1009);
    CHECK(close_code_for(ProtocolErrorCode::kUnauthorized) == 1008);
    CHECK(close_code_for(ProtocolErrorCode::kMalformed) == 1002);
    CHECK(close_code_for(ProtocolErrorCode::kInternal) == 1011);
}

TEST_CASE("the hello carries whose faces to swap and bad face references are refused") {
    using faceswap::FaceChoiceMode;
    using faceswap::FaceDescriptor;
    Hello hello;
    hello.model = "m";
    CHECK(decode_hello(encode_hello(hello)).faces.mode == FaceChoiceMode::kAll);
    hello.faces.mode = FaceChoiceMode::kLargest;
    CHECK(decode_hello(encode_hello(hello)).faces.mode == FaceChoiceMode::kLargest);
    // Eight people at full float precision fit in one hello.
    hello.faces.mode = FaceChoiceMode::kPeople;
    for (int p = 0; p < faceswap::FaceChoice::kMaxPeople; ++p) {
        FaceDescriptor d;
        for (int i = 0; i < faceswap::kDescriptorSize; ++i) d[i] = -0.123456789f + 1e-3f * (i + p);
        hello.faces.people.push_back(d);
    }
    hello.faces.max_distance = 0.45f;
    const Hello back = decode_hello(encode_hello(hello));
    CHECK(back.faces.mode == FaceChoiceMode::kPeople);
    CHECK(back.faces.people == hello.faces.people);
    CHECK(back.faces.max_distance == 0.45f);

    auto code_of = [](const std::string& faces) {
        try {
            decode_hello(
                R"({"type":"hello","protocol":1,"token":"","model":"m","direction":"a2b","quality":80,)" +
                faces + "}");
        } catch (const ProtocolError& e) {
            return e.code();
        }
        FAIL("accepted: " << faces);
        return ProtocolErrorCode::kMalformed;
    };
    const std::string ok_reference = "[" + [] {
        std::string numbers;
        for (int i = 0; i < faceswap::kDescriptorSize; ++i) numbers += (i ? ",0.1" : "0.1");
        return numbers;
    }() + "]";
    CHECK(code_of(R"("faces":"someone")") == ProtocolErrorCode::kMalformed);
    CHECK(code_of(R"("faces":"people")") == ProtocolErrorCode::kMalformed);
    CHECK(code_of(R"("faces":"people","face_references":[])") == ProtocolErrorCode::kMalformed);
    CHECK(code_of(R"("faces":"people","face_references":[[0.1,0.2]])") ==
          ProtocolErrorCode::kMalformed);
    std::string nine = "[";
    for (int i = 0; i < 9; ++i) nine += (i ? "," : "") + ok_reference;
    CHECK(code_of(R"("faces":"people","face_references":)" + nine + "]") ==
          ProtocolErrorCode::kMalformed);
    std::string huge = ok_reference;
    huge.replace(1, 3, "1e9");
    CHECK(code_of(R"("faces":"people","face_references":[)" + huge + "]") ==
          ProtocolErrorCode::kMalformed);
    CHECK(code_of(R"("faces":"people","face_references":[)" + ok_reference +
                  R"(],"face_distance":0)") == ProtocolErrorCode::kMalformed);
    CHECK(code_of(R"("faces":"people","face_references":[)" + ok_reference +
                  R"(],"face_distance":"0.5")") == ProtocolErrorCode::kMalformed);
}

TEST_CASE("the handshake round-trips and refuses bad fields") {
    Hello hello;
    hello.token = "secret";
    hello.model = "franck-cap12.v1";
    hello.direction = Direction::kBToA;
    hello.quality = 70;
    const Hello back = decode_hello(encode_hello(hello));
    CHECK(back.token == "secret");
    CHECK(back.model == "franck-cap12.v1");
    CHECK(back.direction == Direction::kBToA);
    CHECK(back.quality == 70);
    CHECK(back.detail.detail_strength == 1.0f);  // the defaults travel too
    CHECK(back.detail.texture_transfer == FaceDetail{}.texture_transfer);
    hello.detail = {0.25f, 0.5f, 0.125f};
    const FaceDetail detail = decode_hello(encode_hello(hello)).detail;
    CHECK(detail.detail_strength == 0.25f);
    CHECK(detail.mouth_interior == 0.5f);
    CHECK(detail.texture_transfer == 0.125f);
    // Optional: a hello without them (an older client) gets the defaults.
    const FaceDetail older =
        decode_hello(
            R"({"type":"hello","protocol":1,"token":"","model":"m","direction":"a2b","quality":80})")
            .detail;
    CHECK(older.detail_strength == FaceDetail{}.detail_strength);
    CHECK(older.mouth_interior == FaceDetail{}.mouth_interior);
    CHECK(older.texture_transfer == FaceDetail{}.texture_transfer);

    auto code_of = [](const std::string& text) {
        try {
            decode_hello(text);
        } catch (const ProtocolError& e) {
            return e.code();
        }
        FAIL("accepted: " << text);
        return ProtocolErrorCode::kMalformed;
    };
    CHECK(code_of("not json") == ProtocolErrorCode::kMalformed);
    CHECK(code_of("[1,2]") == ProtocolErrorCode::kMalformed);
    CHECK(
        code_of(
            R"({"type":"hello","protocol":7,"token":"","model":"m","direction":"a2b","quality":80})") ==
        ProtocolErrorCode::kUnsupportedVersion);
    CHECK(
        code_of(
            R"({"type":"hello","protocol":1,"token":"","model":"../etc","direction":"a2b","quality":80})") ==
        ProtocolErrorCode::kMalformed);
    CHECK(
        code_of(
            R"({"type":"hello","protocol":1,"token":"","model":"m","direction":"up","quality":80})") ==
        ProtocolErrorCode::kMalformed);
    CHECK(
        code_of(
            R"({"type":"hello","protocol":1,"token":"","model":"m","direction":"a2b","quality":0})") ==
        ProtocolErrorCode::kMalformed);
    CHECK(
        code_of(
            R"({"type":"hello","protocol":"1","token":"","model":"m","direction":"a2b","quality":80})") ==
        ProtocolErrorCode::kMalformed);
    for (const FaceDetailSetting& setting : kFaceDetailSettings)
        for (const char* strength : {"1.5", "-0.1", "\"1\"", "null"})
            CHECK(
                code_of(
                    std::string(
                        R"({"type":"hello","protocol":1,"token":"","model":"m","direction":"a2b","quality":80,")") +
                    setting.name + "\":" + strength + "}") == ProtocolErrorCode::kMalformed);
    CHECK(code_of(std::string(40000, ' ')) == ProtocolErrorCode::kTooLarge);
    // Who marks: absent (an older or browser client) or "server" is the server; "client" the
    // client; anything else is refused.
    CHECK_FALSE(decode_hello(encode_hello(hello)).client_marks);
    hello.client_marks = true;
    CHECK(decode_hello(encode_hello(hello)).client_marks);
    for (const char* marks : {"\"nobody\"", "true", "1", "null"})
        CHECK(
            code_of(
                std::string(
                    R"({"type":"hello","protocol":1,"token":"","model":"m","direction":"a2b","quality":80,"watermark":)") +
                marks + "}") == ProtocolErrorCode::kMalformed);
    // Numbers are integers within their field's range: no float, no wrap-around.
    CHECK(
        code_of(
            R"({"type":"hello","protocol":1.5,"token":"","model":"m","direction":"a2b","quality":80})") ==
        ProtocolErrorCode::kMalformed);
    CHECK(
        code_of(
            R"({"type":"hello","protocol":4294967297,"token":"","model":"m","direction":"a2b","quality":80})") ==
        ProtocolErrorCode::kMalformed);
    // A width beyond u16 in a welcome (found by fuzz_handshake_json: undefined behaviour as a
    // float, silently wrapped as an integer).
    for (const char* width : {"3.8e22", "65536", "-1"})
        CHECK_THROWS_AS(
            decode_welcome(
                std::string(
                    R"({"type":"welcome","session_id":"s","limits":{"max_payload_bytes":1000,"max_width":)") +
                width + R"(,"max_height":480,"max_in_flight":2}})"),
            ProtocolError);

    Welcome welcome;
    welcome.session_id = "s-1";
    welcome.max_in_flight = 3;
    const Welcome w = decode_welcome(encode_welcome(welcome));
    CHECK(w.session_id == "s-1");
    CHECK(w.max_in_flight == 3);
    CHECK(w.limits.max_width == welcome.limits.max_width);
    CHECK(w.watermark.empty());
    welcome.watermark = "0x1D9791C7";
    CHECK(decode_welcome(encode_welcome(welcome)).watermark == "0x1D9791C7");

    try {
        decode_welcome(encode_error(ProtocolErrorCode::kUnauthorized, "wrong token"));
        FAIL("an error reply was taken as a welcome");
    } catch (const ProtocolError& e) {
        CHECK(e.code() == ProtocolErrorCode::kUnauthorized);
        CHECK_THAT(std::string(e.what()), Catch::Contains("wrong token"));
    }
}
