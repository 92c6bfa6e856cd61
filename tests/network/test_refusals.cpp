// Hostile and broken clients, spoken to with a raw Beast WebSocket: every bad handshake, header
// or payload gets an error message naming the problem and the close code of docs/protocol.md,
// for that client only, while a well-behaved client keeps streaming. Plus the plain HTTP
// endpoints on the same port.
#include <catch2/catch.hpp>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <fstream>

#include "faceswap/net/client.h"
#include "faceswap/net/protocol.h"
#include "net_test_support.h"
#include "raw_client.h"
#include "test_support.h"

using namespace faceswap;
using namespace faceswap::test;
using namespace std::chrono_literals;
namespace beast = boost::beast;
namespace asio = boost::asio;
namespace websocket = beast::websocket;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {}  // namespace

TEST_CASE("bad clients are refused with an error and a close, others keep streaming", "[network]") {
    TempDir dir;
    std::ofstream(dir.path() / "tokens") << "good-token\n";
    server::ServerConfig config = test_server_config();
    config.tokens_file = (dir.path() / "tokens").string();
    config.max_frame_bytes = 256 << 10;
    config.max_width = 1920;
    config.max_height = 1080;
    TestServer server(config);

    // The bystander: streams the whole time and must never notice.
    net::ClientConfig bystander_config;
    bystander_config.url = server.url();
    bystander_config.token = "good-token";
    std::atomic<int> received{0};
    net::Client bystander(bystander_config, [&](net::ResultFrame&&) { ++received; });
    bystander.start();
    REQUIRE(wait_until([&] { return bystander.state() == net::ClientState::kConnected; }));
    std::atomic<bool> streaming{true};
    struct Joiner {
        std::thread& thread;
        std::atomic<bool>& flag;
        ~Joiner() {
            flag = false;
            if (thread.joinable()) thread.join();
        }
    };
    std::thread sender([&] {
        const auto& frames = video_frames();
        for (int i = 0; streaming; ++i) {
            const auto& f = frames[i % frames.size()];
            bystander.submit_jpeg(f.jpeg, f.width, f.height);
            std::this_thread::sleep_for(10ms);
        }
    });

    Joiner joiner{sender, streaming};
    const JpegFrame& frame = video_frames()[0];
    auto check = [&](const char* what, auto&& misbehave, const std::string& code, int close) {
        const int before = received;
        RawClient raw(server.port());
        misbehave(raw);
        const auto [got_code, got_close] = raw.expect_refusal();
        INFO(what);
        CHECK(got_code == code);
        CHECK(got_close == close);
        CHECK(wait_until([&] { return received > before + 3; }));  // still streaming
        CHECK(bystander.state() == net::ClientState::kConnected);
    };

    check(
        "hello that is not JSON", [](RawClient& c) { c.send_text("{hello"); }, "malformed", 1002);
    check(
        "hello with a missing field",
        [](RawClient& c) { c.send_text(R"({"type":"hello","protocol":1})"); }, "malformed", 1002);
    check(
        "hello of protocol version 2",
        [](RawClient& c) {
            c.send_text(R"({"type":"hello","protocol":2,"token":"good-token","model":"demo",)"
                        R"("direction":"a2b","quality":80})");
        },
        "unsupported_version", 1003);
    check(
        "a frame before the hello", [&](RawClient& c) { c.send_binary(frame_message(frame)); },
        "malformed", 1002);
    check(
        "wrong token", [](RawClient& c) { c.hello("bad-token"); }, "unauthorized", 1008);
    check(
        "no token", [](RawClient& c) { c.hello(""); }, "unauthorized", 1008);
    check(
        "unknown model", [](RawClient& c) { c.hello("good-token", "no-such-model"); },
        "unknown_model", 1008);
    check(
        "bad magic",
        [&](RawClient& c) {
            c.welcomed_hello("good-token");
            auto bytes = frame_message(frame);
            bytes[0] = 'X';
            c.send_binary(bytes);
        },
        "malformed", 1002);
    check(
        "header shorter than 48 bytes",
        [&](RawClient& c) {
            c.welcomed_hello("good-token");
            c.send_binary({0x46, 0x53, 0x57, 0x50, 1, 0});
        },
        "malformed", 1002);
    check(
        "length that disagrees with the message",
        [&](RawClient& c) {
            c.welcomed_hello("good-token");
            auto bytes = frame_message(frame);
            bytes.resize(bytes.size() - 100);
            c.send_binary(bytes);
        },
        "malformed", 1002);
    check(
        "unknown codec",
        [&](RawClient& c) {
            c.welcomed_hello("good-token");
            auto bytes = frame_message(frame);
            bytes[28] = 7;
            c.send_binary(bytes);
        },
        "unsupported_codec", 1003);
    check(
        "a text message after the handshake",
        [&](RawClient& c) {
            c.welcomed_hello("good-token");
            c.send_text("{}");
        },
        "malformed", 1002);
    check(
        "payload that is not a JPEG",
        [&](RawClient& c) {
            c.welcomed_hello("good-token");
            JpegFrame garbage = frame;
            std::fill(garbage.jpeg.begin(), garbage.jpeg.end(), 0x5A);
            c.send_binary(frame_message(garbage));
        },
        "bad_payload", 1003);
    check(
        "truncated JPEG",
        [&](RawClient& c) {
            c.welcomed_hello("good-token");
            JpegFrame truncated = frame;
            truncated.jpeg.resize(truncated.jpeg.size() / 2);
            c.send_binary(frame_message(truncated));
        },
        "bad_payload", 1003);
    check(
        "JPEG declaring 60000x60000",
        [&](RawClient& c) {
            c.welcomed_hello("good-token");
            JpegFrame huge = frame;
            huge.jpeg = jpeg_declaring(frame.jpeg, 60000, 60000);
            c.send_binary(frame_message(huge));
        },
        "too_large", 1009);
    check(
        "frame over the size limits",
        [&](RawClient& c) {
            c.welcomed_hello("good-token");
            auto bytes = frame_message(frame);
            bytes[24] = 0x00;  // width 4096 > 1920
            bytes[25] = 0x10;
            c.send_binary(bytes);
        },
        "too_large", 1009);
    check(
        "payload over max_frame_bytes",
        [&](RawClient& c) {
            c.welcomed_hello("good-token");
            JpegFrame big = frame;
            big.jpeg.resize(300 << 10, 0);  // a JPEG with trailing junk, 300 KB > 256 KB
            c.send_binary(frame_message(big));
        },
        "too_large", 1009);

    streaming = false;
    sender.join();
    const auto stats = bystander.stats();
    CHECK(stats.connects == 1);
    CHECK(stats.errors == 0);
    CHECK(stats.lost == 0);
    const auto& metrics = server.server().metrics();
    CHECK(metrics.errors[static_cast<int>(net::ProtocolErrorCode::kUnauthorized)] == 2);
    CHECK(metrics.errors[static_cast<int>(net::ProtocolErrorCode::kTooLarge)] == 3);
}

TEST_CASE("health, readiness and Prometheus metrics on the WebSocket port", "[network]") {
    TestServer server;
    CHECK(http_get(server.port(), "/healthz") == std::pair<int, std::string>{200, "ok\n"});
    CHECK(http_get(server.port(), "/readyz").first == 200);
    CHECK(http_get(server.port(), "/nope").first == 404);

    net::ClientConfig config;
    config.url = server.url();
    net::Client client(config);
    client.start();
    REQUIRE(wait_until([&] { return client.state() == net::ClientState::kConnected; }));
    const auto& f = video_frames()[0];
    client.submit_jpeg(f.jpeg, f.width, f.height);
    REQUIRE(wait_until([&] { return client.stats().received == 1; }));

    const auto [status, body] = http_get(server.port(), "/metrics");
    CHECK(status == 200);
    CHECK(body.find("faceswap_sessions 1\n") != std::string::npos);
    CHECK(body.find("faceswap_frames_in_total 1\n") != std::string::npos);
    CHECK(body.find("faceswap_frames_out_total 1\n") != std::string::npos);
    CHECK(body.find("faceswap_engine_ms_count 1\n") != std::string::npos);
    CHECK(body.find("faceswap_batch_size_bucket{le=\"1\"} 1\n") != std::string::npos);
    CHECK(body.find("faceswap_queue_depth 0\n") != std::string::npos);
    CHECK(body.find("faceswap_frames_dropped_total{reason=\"overflow\"} 0\n") != std::string::npos);

    server.server().drain();
    REQUIRE(wait_until([&] { return server.server().draining(); }));
    server.server().wait();
}

TEST_CASE("a silent client is refused after the handshake timeout, a full server answers 503",
          "[network]") {
    server::ServerConfig config = test_server_config();
    config.handshake_timeout_s = 1;
    config.max_sessions = 1;
    TestServer server(config);

    const auto started = std::chrono::steady_clock::now();
    {
        RawClient silent(server.port());  // upgrades, then says nothing
        const auto [code, close] = silent.expect_refusal();
        CHECK(code == "malformed");
        CHECK(close == 1002);
        CHECK(std::chrono::steady_clock::now() - started < 3s);
    }
    REQUIRE(wait_until([&] { return server.server().sessions() == 0; }));

    net::ClientConfig first_config;
    first_config.url = server.url();
    net::Client first(first_config);
    first.start();
    REQUIRE(wait_until([&] { return first.state() == net::ClientState::kConnected; }));

    // The one session is taken: the upgrade itself is refused with 503, and the client keeps
    // retrying (with backoff) rather than failing for good.
    net::ClientConfig second_config = first_config;
    second_config.reconnect_initial = 50ms;
    net::Client second(second_config);
    second.start();
    CHECK(wait_until([&] { return second.stats().errors >= 2; }));
    CHECK(second.state() != net::ClientState::kConnected);
    CHECK(second.state() != net::ClientState::kFailed);
    CHECK(first.state() == net::ClientState::kConnected);

    first.stop();  // frees the slot: the second gets in by itself
    CHECK(wait_until([&] { return second.state() == net::ClientState::kConnected; }));
}
