// A real server and real clients on 127.0.0.1 streaming real video frames: round trips, several
// clients at once, backpressure, reconnection after a server restart, draining, TLS.
// The server runs the pass-through processor here (--engine none): these tests are about the
// transport; test_engine_remote.cpp runs the real engine.
#include <catch2/catch.hpp>

#include <atomic>
#include <fstream>
#include <mutex>

#include "faceswap/net/client.h"
#include "faceswap/net/jpeg.h"
#include "net_test_support.h"
#include "test_support.h"

using namespace faceswap;
using namespace faceswap::test;
using namespace std::chrono_literals;

namespace {

// Collects what a client reports.
struct Recorder {
    std::mutex mu;
    std::vector<net::ResultFrame> results;
    std::vector<net::ClientEvent> events;
    std::atomic<int> received{0};

    net::Client::ResultCallback on_result() {
        return [this](net::ResultFrame&& result) {
            std::lock_guard lock(mu);
            results.push_back(std::move(result));
            ++received;
        };
    }
    net::Client::EventCallback on_event() {
        return [this](const net::ClientEvent& event) {
            std::lock_guard lock(mu);
            events.push_back(event);
        };
    }
    bool saw_close_code(std::uint16_t code) {
        std::lock_guard lock(mu);
        for (const auto& e : events)
            if (e.close_code == code) return true;
        return false;
    }
};

net::ClientConfig client_config(const std::string& url) {
    net::ClientConfig config;
    config.url = url;
    config.model = "demo";
    config.reconnect_initial = 50ms;
    config.reconnect_max = 400ms;
    return config;
}

// Submits frames at roughly `fps`, cycling through the clip.
void stream(net::Client& client, int count, int fps, int offset = 0) {
    const auto& frames = video_frames();
    for (int i = 0; i < count; ++i) {
        const auto& f = frames[(i + offset) % frames.size()];
        client.submit_jpeg(f.jpeg, f.width, f.height);
        std::this_thread::sleep_for(std::chrono::microseconds(1'000'000 / fps));
    }
}

}  // namespace

TEST_CASE("real frames make the round trip through a real server", "[network]") {
    TestServer server;
    Recorder recorder;
    net::Client client(client_config(server.url()), recorder.on_result(), recorder.on_event());
    client.start();
    REQUIRE(wait_until([&] { return client.state() == net::ClientState::kConnected; }));
    REQUIRE(client.welcome()->max_in_flight == 6);

    const auto& frames = video_frames();
    stream(client, static_cast<int>(frames.size()), 60);
    REQUIRE(wait_until([&] { return client.stats().in_flight == 0; }));
    const net::ClientStats stats = client.stats();
    CHECK(stats.submitted == frames.size());
    CHECK(stats.received + stats.dropped + stats.skipped == stats.submitted);  // none lost
    CHECK(stats.lost == 0);
    CHECK(stats.received >= frames.size() / 2);
    CHECK(stats.rtt_ms.count == stats.received);

    // Each result is its own frame back (pass-through), within JPEG tolerance, in order.
    net::JpegCodec codec;
    std::lock_guard lock(recorder.mu);
    std::uint64_t previous = 0;
    for (const auto& result : recorder.results) {
        CHECK(result.frame_id > previous);
        previous = result.frame_id;
        const auto& sent = frames[result.frame_id - 1];
        std::vector<std::uint8_t> pixels;
        codec.decode(result.jpeg, {result.width, result.height}, 1 << 24, net::PixelOrder::kBgr,
                     pixels);
        CHECK(mean_abs_diff(pixels, sent.bgr, sent.width) < 4.0);
        CHECK(result.server.faces == 0);
        CHECK(result.e2e_ms >= result.rtt_ms);
    }
}

TEST_CASE("two and four clients stream at once", "[network]") {
    const int clients = GENERATE(2, 4);
    TestServer server;
    std::vector<std::unique_ptr<Recorder>> recorders;
    std::vector<std::unique_ptr<net::Client>> pool;
    for (int i = 0; i < clients; ++i) {
        recorders.push_back(std::make_unique<Recorder>());
        pool.push_back(std::make_unique<net::Client>(client_config(server.url()),
                                                     recorders.back()->on_result(),
                                                     recorders.back()->on_event()));
        pool.back()->start();
    }
    for (auto& client : pool)
        REQUIRE(wait_until([&] { return client->state() == net::ClientState::kConnected; }));
    CHECK(server.server().sessions() == clients);

    std::vector<std::thread> senders;
    for (int i = 0; i < clients; ++i)
        senders.emplace_back([&, i] { stream(*pool[i], 40, 30, i * 7); });
    for (auto& t : senders) t.join();
    for (int i = 0; i < clients; ++i) {
        REQUIRE(wait_until([&] { return pool[i]->stats().in_flight == 0; }));
        const auto stats = pool[i]->stats();
        INFO("client " << i);
        CHECK(stats.lost == 0);
        CHECK(stats.errors == 0);
        CHECK(stats.received + stats.dropped + stats.skipped == 40);
        CHECK(stats.received >= 30);
    }
    CHECK(server.server().metrics().frames_out >= static_cast<std::uint64_t>(30 * clients));
}

TEST_CASE("the window bounds frames in flight and the newest frame wins", "[network]") {
    TestServer server;
    net::ClientConfig config = client_config(server.url());
    config.max_in_flight = 1;
    Recorder recorder;
    net::Client client(config, recorder.on_result(), recorder.on_event());
    client.start();
    REQUIRE(wait_until([&] { return client.state() == net::ClientState::kConnected; }));
    // A burst far faster than any round trip: most frames are replaced in the slot.
    const auto& frames = video_frames();
    std::uint64_t last_id = 0;
    for (int i = 0; i < 200; ++i) {
        const auto& f = frames[i % frames.size()];
        last_id = client.submit_jpeg(f.jpeg, f.width, f.height);
        CHECK(client.stats().in_flight <= 1);
    }
    REQUIRE(wait_until([&] { return client.stats().in_flight == 0 && recorder.received > 0; }));
    REQUIRE(wait_until([&] {
        std::lock_guard lock(recorder.mu);
        return recorder.results.back().frame_id == last_id;  // the newest always gets through
    }));
    const auto stats = client.stats();
    CHECK(stats.dropped > 100);
    CHECK(stats.received + stats.dropped + stats.skipped == 200);
    CHECK(stats.lost == 0);
}

TEST_CASE("a client reconnects by itself when the server restarts", "[network]") {
    auto server = std::make_unique<TestServer>();
    const std::uint16_t port = server->port();
    Recorder recorder;
    net::Client client(client_config(server->url()), recorder.on_result(), recorder.on_event());
    client.start();
    REQUIRE(wait_until([&] { return client.state() == net::ClientState::kConnected; }));
    stream(client, 10, 60);
    REQUIRE(wait_until([&] { return recorder.received >= 5; }));

    server.reset();  // the server goes away without a goodbye
    REQUIRE(wait_until([&] { return client.state() != net::ClientState::kConnected; }));
    stream(client, 5, 60);  // frames while it is down wait in the slot; older ones drop
    std::this_thread::sleep_for(300ms);

    server::ServerConfig config = test_server_config();
    config.port = port;
    server = std::make_unique<TestServer>(config);
    REQUIRE(wait_until([&] { return client.state() == net::ClientState::kConnected; }));
    const int before = recorder.received;
    stream(client, 10, 60);
    REQUIRE(wait_until([&] { return recorder.received >= before + 5; }));
    CHECK(client.stats().connects >= 2);
}

TEST_CASE("draining answers frames in flight, then closes with going away", "[network]") {
    TestServer server;
    Recorder recorder;
    net::ClientConfig config = client_config(server.url());
    config.reconnect = false;  // so the state after the close is final
    net::Client client(config, recorder.on_result(), recorder.on_event());
    client.start();
    REQUIRE(wait_until([&] { return client.state() == net::ClientState::kConnected; }));
    stream(client, 10, 60);
    server.server().drain();
    REQUIRE(wait_until([&] { return recorder.saw_close_code(1001); }));
    server.server().wait();
    const auto& metrics = server.server().metrics();
    // Every frame the server had accepted before the drain was answered.
    CHECK(metrics.frames_out == metrics.frames_in);
    CHECK(metrics.frames_dropped[static_cast<int>(server::DropReason::kClosed)] == 0);
    CHECK(client.state() == net::ClientState::kFailed);
}

TEST_CASE("a wrong token fails for good instead of retrying", "[network]") {
    TempDir dir;
    std::ofstream(dir.path() / "tokens") << "# test tokens\nsecret-1\n";
    server::ServerConfig config = test_server_config();
    config.tokens_file = (dir.path() / "tokens").string();
    TestServer server(config);

    net::ClientConfig good = client_config(server.url());
    good.token = "secret-1";
    net::Client accepted(good);
    accepted.start();
    CHECK(wait_until([&] { return accepted.state() == net::ClientState::kConnected; }));

    Recorder recorder;
    net::ClientConfig bad = client_config(server.url());
    bad.token = "guess";
    net::Client refused(bad, recorder.on_result(), recorder.on_event());
    refused.start();
    REQUIRE(wait_until([&] { return refused.state() == net::ClientState::kFailed; }));
    std::lock_guard lock(recorder.mu);
    CHECK(recorder.events.back().error == net::ProtocolErrorCode::kUnauthorized);
    CHECK(recorder.events.back().close_code == 1008);
}

TEST_CASE("wss:// with a certificate the client verifies", "[network]") {
    TempDir dir;
    const auto [cert, key] = make_test_certificate(dir.path().string());
    server::ServerConfig config = test_server_config();
    config.tls_cert = cert;
    config.tls_key = key;
    TestServer server(config);

    net::ClientConfig secure = client_config("wss://127.0.0.1:" + std::to_string(server.port()));
    secure.tls_ca_file = cert;
    Recorder recorder;
    net::Client client(secure, recorder.on_result(), recorder.on_event());
    client.start();
    REQUIRE(wait_until([&] { return client.state() == net::ClientState::kConnected; }));
    stream(client, 10, 60);
    REQUIRE(wait_until([&] { return client.stats().in_flight == 0 && recorder.received > 0; }));
    CHECK(client.stats().lost == 0);

    // Checked against the system's store instead, the self-signed certificate is refused.
    net::ClientConfig untrusted = secure;
    untrusted.tls_ca_file.clear();
    net::Client doubter(untrusted);
    doubter.start();
    CHECK(wait_until([&] { return doubter.stats().errors >= 2; }));
    CHECK(doubter.state() != net::ClientState::kConnected);
    CHECK(doubter.stats().connects == 0);

    // Weak settings are refused: TLS 1.1 and a suite without forward secrecy (the client side
    // allows them, SECLEVEL=0, so that only the server can be the one refusing).
    const std::string s_client =
        "openssl s_client -connect 127.0.0.1:" + std::to_string(server.port()) +
        " < /dev/null > /dev/null 2>&1";
    std::string output;
    CHECK(run_command(s_client + " -tls1_3", &output) == 0);
    CHECK(run_command(s_client + " -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256", &output) == 0);
    CHECK(run_command(s_client + " -tls1_1 -cipher DEFAULT@SECLEVEL=0", &output) != 0);
    CHECK(run_command(s_client + " -tls1_2 -cipher AES128-SHA@SECLEVEL=0", &output) != 0);
    CHECK(run_command(s_client + " -tls1_2 -cipher ECDHE-RSA-AES128-SHA@SECLEVEL=0", &output) != 0);
}

TEST_CASE("a killed server process is restarted and the client carries on by itself", "[network]") {
    auto process = std::make_unique<ServerProcess>(std::vector<std::string>{
        "--engine", "none", "--address", "127.0.0.1", "--port", "0", "--log-level", "warn"});
    const std::string port = std::to_string(process->port());
    Recorder recorder;
    net::Client client(client_config("ws://127.0.0.1:" + port + "/"), recorder.on_result(),
                       recorder.on_event());
    client.start();
    REQUIRE(wait_until([&] { return client.state() == net::ClientState::kConnected; }));
    stream(client, 10, 60);
    REQUIRE(wait_until([&] { return recorder.received >= 5; }));

    process->kill_hard();
    REQUIRE(wait_until([&] { return client.state() != net::ClientState::kConnected; }));
    process = std::make_unique<ServerProcess>(std::vector<std::string>{
        "--engine", "none", "--address", "127.0.0.1", "--port", port, "--log-level", "warn"});
    REQUIRE(wait_until([&] { return client.state() == net::ClientState::kConnected; }));
    const int before = recorder.received;
    stream(client, 10, 60);
    REQUIRE(wait_until([&] { return recorder.received >= before + 5; }));
    CHECK(client.stats().connects == 2);

    // SIGTERM drains: the client hears "going away" and the process exits cleanly.
    CHECK(process->terminate() == 0);
    CHECK(wait_until([&] { return recorder.saw_close_code(1001); }));
}
