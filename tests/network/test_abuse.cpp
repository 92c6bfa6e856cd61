// Abuse while others stream (docs/hardening.md, "Abuse under load"): four well-behaved clients
// stream real frames through the real engine at a steady rate while a fifth party, from an
// address of its own (127.0.0.2), tries one kind of abuse after another. Each kind must end in a
// refusal for the abuser alone; the good clients keep their frame rate (within 20% of the
// minutes before, over the whole abuse), none of them is disconnected, and the server's memory
// stays bounded. The table it prints is the one in docs/hardening.md.
#include <catch2/catch.hpp>

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <sstream>

#include "faceswap/net/client.h"
#include "faceswap/net/sha256.h"
#include "net_test_support.h"
#include "raw_client.h"
#include "test_support.h"

using namespace faceswap;
using namespace faceswap::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kToken = "abuse-test-token";  // streams and changes models
const std::string kAbuser = "127.0.0.2";        // loopback too, but not the good clients' address
constexpr int kHandshakeTimeoutS = 2;
constexpr int kIdleTimeoutS = 3;
constexpr double kFramesPerSecond = 3.0;  // per good client: well within what the server can do

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// A TCP connection from the abuser's address, with send and receive timeouts so that no step
// of the test can hang.
tcp::socket abuser_socket(asio::io_context& ioc, std::uint16_t port) {
    tcp::socket socket(ioc);
    socket.open(tcp::v4());
    socket.bind(tcp::endpoint(asio::ip::make_address(kAbuser), 0));
    timeval timeout{5, 0};
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    return socket;
}

void send_all(tcp::socket& socket, const std::string& bytes) {
    beast::error_code ignored;
    asio::write(socket, asio::buffer(bytes), ignored);
}

// Reads until the server closes (or resets) the connection; everything it sent, and whether it
// closed within `limit`.
std::pair<bool, std::string> wait_for_close(tcp::socket& socket, std::chrono::milliseconds limit) {
    std::string received;
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
        pollfd fd{socket.native_handle(), POLLIN, 0};
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (::poll(&fd, 1, static_cast<int>(std::max<std::int64_t>(1, left.count()))) <= 0)
            continue;
        char buffer[4096];
        const auto n = ::recv(socket.native_handle(), buffer, sizeof buffer, 0);
        if (n <= 0) return {true, received};
        received.append(buffer, static_cast<std::size_t>(n));
    }
    return {false, received};
}

std::int64_t rss_kb(int pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
    return 0;
}

// The value of one sample line of /metrics ("name{labels} value").
std::uint64_t metric(std::uint16_t port, const std::string& sample) {
    const std::string body = http_get(port, "/metrics").second;
    const auto at = body.find(sample + " ");
    return at == std::string::npos ? 0 : std::stoull(body.substr(at + sample.size() + 1));
}

std::string refusal(const std::string& reason) {
    return "faceswap_refusals_total{reason=\"" + reason + "\"}";
}

// A good client: streams frames at a steady rate and counts the results.
struct GoodClient {
    std::unique_ptr<net::Client> client;
    std::atomic<std::uint64_t> results{0};
    std::thread camera;
};

struct AbuseRow {
    std::string kind, outcome;
    double seconds = 0;
    std::uint64_t results = 0;
};

}  // namespace

TEST_CASE("abuse while four clients stream: every kind refused alone, the others keep their rate",
          "[network][slow][abuse]") {
    TempDir models, work;
    fs::copy_file(tiny_swap_model_file(work.path() / "cache" / "tiny.fsmodel"),
                  models.path() / "demo.fsmodel");
    const std::string victim_bytes = [&] {
        std::ifstream in(models.path() / "demo.fsmodel", std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }();
    const fs::path tokens = work.path() / "tokens";
    std::ofstream(tokens) << kToken << " models\n";
    ServerProcess server({"--address",
                          "127.0.0.1",
                          "--port",
                          "0",
                          "--device",
                          "cpu",
                          "--cpu-threads",
                          "1",
                          "--swap-model-dir",
                          models.path().string(),
                          "--tokens-file",
                          tokens.string(),
                          "--model-dir",
                          model_dir().string(),
                          "--handshake-timeout-s",
                          std::to_string(kHandshakeTimeoutS),
                          "--idle-timeout-s",
                          std::to_string(kIdleTimeoutS),
                          "--log-level",
                          "error"});
    const std::uint16_t port = server.port();
    // Only for "plain text on a TLS port": the pass-through engine behind TLS.
    const TestCertificate certificate = make_test_certificate(work.path().string());
    ServerProcess tls_server({"--address", "127.0.0.1", "--port", "0", "--engine", "none",
                              "--tls-cert", certificate.cert, "--tls-key", certificate.key,
                              "--log-level", "error"});

    // The good clients, from 127.0.0.1.
    const auto& frames = video_frames(24);
    std::vector<std::unique_ptr<GoodClient>> good;
    std::atomic<bool> streaming{true};
    for (int i = 0; i < 4; ++i) {
        auto g = std::make_unique<GoodClient>();
        net::ClientConfig config;
        config.url = "ws://127.0.0.1:" + std::to_string(port) + "/";
        config.model = "demo";
        config.token = kToken;
        config.frame_timeout = 30s;
        config.reconnect = false;  // a disconnect must show, not heal
        auto* counter = &g->results;
        g->client =
            std::make_unique<net::Client>(config, [counter](net::ResultFrame&&) { ++*counter; });
        g->client->start();
        good.push_back(std::move(g));
    }
    for (auto& g : good)
        REQUIRE(
            wait_until([&] { return g->client->state() == net::ClientState::kConnected; }, 30s));
    for (int i = 0; i < 4; ++i)
        good[i]->camera = std::thread([&, i] {
            auto next = Clock::now();
            for (int k = i * 5; streaming; ++k) {
                const auto& frame = frames[k % frames.size()];
                good[i]->client->submit_jpeg(frame.jpeg, frame.width, frame.height);
                next += std::chrono::duration_cast<Clock::duration>(
                    std::chrono::duration<double>(1.0 / kFramesPerSecond));
                std::this_thread::sleep_until(next);
            }
        });
    struct StopStreaming {
        std::atomic<bool>& flag;
        std::vector<std::unique_ptr<GoodClient>>& clients;
        ~StopStreaming() {
            flag = false;
            for (auto& g : clients)
                if (g->camera.joinable()) g->camera.join();
        }
    } stop_streaming{streaming, good};
    auto total_results = [&] {
        std::uint64_t sum = 0;
        for (auto& g : good) sum += g->results;
        return sum;
    };

    // The server's memory, sampled all along.
    std::atomic<std::int64_t> peak_kb{0};
    std::atomic<bool> sampling{true};
    std::thread sampler([&] {
        while (sampling) {
            peak_kb = std::max<std::int64_t>(peak_kb, rss_kb(server.pid()));
            std::this_thread::sleep_for(100ms);
        }
    });
    const StopAndJoin stop_sampling{sampling, sampler};

    REQUIRE(wait_until([&] { return total_results() >= 8; }, 60s));  // warmed up
    const auto baseline_start = Clock::now();
    const std::uint64_t baseline_before = total_results();
    std::this_thread::sleep_for(8s);
    const double baseline_s = seconds_since(baseline_start);
    const double baseline_fps = (total_results() - baseline_before) / baseline_s;
    const std::int64_t baseline_peak_kb = peak_kb;
    INFO("baseline: " << baseline_fps << " FPS over 4 clients");
    REQUIRE(baseline_fps > 0);

    std::vector<AbuseRow> rows;
    // Runs one kind for at least `at_least` (so its frame-rate window means something).
    auto abuse = [&](const std::string& kind, auto&& attempt, std::chrono::seconds at_least = 2s) {
        const auto start = Clock::now();
        const std::uint64_t before = total_results();
        std::string outcome = attempt();
        std::this_thread::sleep_until(start + at_least);
        rows.push_back({kind, outcome, seconds_since(start), total_results() - before});
    };
    asio::io_context ioc;

    abuse("slowloris (a header byte every 100 ms)", [&] {
        tcp::socket socket = abuser_socket(ioc, port);
        const std::string request =
            "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(200, 'a') + "\r\n\r\n";
        const auto start = Clock::now();
        bool closed = false;
        for (char c : request) {
            beast::error_code ec;
            socket.write_some(asio::buffer(&c, 1), ec);
            if (ec || (closed = wait_for_close(socket, 100ms).first)) break;
        }
        if (!closed) closed = wait_for_close(socket, 3s).first;
        const double after = seconds_since(start);
        CHECK(closed);
        CHECK(after < kHandshakeTimeoutS + 1.5);
        return "closed after " + std::to_string(after).substr(0, 3) + " s";
    });

    abuse("headers of 4 MB", [&] {
        const std::uint64_t before = metric(port, refusal("header_too_large"));
        tcp::socket socket = abuser_socket(ioc, port);
        std::thread writer([&] {
            std::string header = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
            for (int i = 0; header.size() < (4u << 20); ++i)
                header += "X-Big-" + std::to_string(i) + ": " + std::string(1000, 'b') + "\r\n";
            send_all(socket, header + "\r\n");  // fails once the server has closed: fine
        });
        const auto [closed, answer] = wait_for_close(socket, 5s);
        writer.join();
        CHECK(closed);
        CHECK(metric(port, refusal("header_too_large")) == before + 1);
        return std::string(answer.rfind("HTTP/1.1 431", 0) == 0 ? "431, then closed"
                                                                : "closed (431 sent)");
    });

    abuse("frame header declaring 65535x65535", [&] {
        RawClient raw(port, kAbuser);
        raw.welcomed_hello(kToken);
        net::FrameHeader header;
        header.width = 65535;
        header.height = 65535;
        raw.send_binary(net::encode_message(header, frames[0].jpeg));
        const auto [code, close] = raw.expect_refusal();
        CHECK(code == "too_large");
        CHECK(close == 1009);
        return "error " + code + ", close " + std::to_string(close);
    });

    abuse("JPEG bomb (a 640x480 frame whose JPEG declares 65000x65000)", [&] {
        RawClient raw(port, kAbuser);
        raw.welcomed_hello(kToken);
        JpegFrame bomb = frames[0];
        bomb.jpeg = jpeg_declaring(bomb.jpeg, 65000, 65000);
        bomb.width = 640;
        bomb.height = 480;
        raw.send_binary(frame_message(bomb));
        const auto [code, close] = raw.expect_refusal();
        CHECK(code == "too_large");  // over the pixel budget, known from the JPEG header alone
        CHECK(close == 1009);
        return "error " + code + " before decoding, close " + std::to_string(close);
    });

    abuse("a flood of 300 frames, answers unread", [&] {
        auto dropped = [&](const char* reason) {
            return metric(port,
                          std::string("faceswap_frames_dropped_total{reason=\"") + reason + "\"}");
        };
        const std::uint64_t window_before = dropped("over_window"),
                            rate_before = dropped("over_rate"),
                            replaced_before = dropped("replaced");
        RawClient raw(port, kAbuser);
        raw.welcomed_hello(kToken);
        for (int i = 0; i < 300; ++i)
            raw.send_binary(frame_message(frames[i % frames.size()], i + 1));
        // Every frame is answered one way or another (the answers wait unread); only a few are
        // decoded (max_frame_rate), the rest answered at once.
        std::uint64_t window = 0, rate = 0, replaced = 0;
        CHECK(wait_until([&] {
            window = dropped("over_window") - window_before;
            rate = dropped("over_rate") - rate_before;
            replaced = dropped("replaced") - replaced_before;
            return window + rate + replaced >= 280;
        }));
        CHECK(window + rate >= 250);
        return std::to_string(window + rate) + " answered at once without decoding (" +
               std::to_string(window) + " over the window, " + std::to_string(rate) +
               " over max_frame_rate), " + std::to_string(replaced) +
               " decoded and superseded by newer ones";
    });

    abuse("a thousand idle connections", [&] {
        const std::uint64_t before = metric(port, refusal("max_connections_per_address"));
        std::vector<tcp::socket> idle;
        for (int i = 0; i < 1000; ++i) {
            beast::error_code ec;
            try {
                idle.push_back(abuser_socket(ioc, port));
            } catch (const std::exception&) {
                break;  // our own descriptors ran out: enough
            }
        }
        // The admitted ones are closed at the handshake timeout, the rest at once.
        int closed = 0;
        for (auto& socket : idle) closed += wait_for_close(socket, 4s).first ? 1 : 0;
        const std::uint64_t refused = metric(port, refusal("max_connections_per_address")) - before;
        CHECK(closed == static_cast<int>(idle.size()));
        CHECK(refused >= idle.size() - 64);
        return std::to_string(refused) + " refused at accept (64 per address), the other " +
               std::to_string(idle.size() - refused) + " closed after " +
               std::to_string(kHandshakeTimeoutS) + " s";
    });

    abuse("half-open TCP (half an upgrade, then the write side shut)", [&] {
        tcp::socket socket = abuser_socket(ioc, port);
        send_all(socket, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n");
        socket.shutdown(tcp::socket::shutdown_send);
        const auto start = Clock::now();
        const bool closed = wait_for_close(socket, 3s).first;
        CHECK(closed);
        return "closed after " + std::to_string(seconds_since(start)).substr(0, 4) + " s";
    });

    abuse("a session gone silent (reads nothing, answers no ping)", [&] {
        const std::uint64_t before = metric(port, refusal("idle_timeout"));
        RawClient raw(port, kAbuser);
        raw.welcomed_hello(kToken);
        const bool dropped =
            wait_until([&] { return metric(port, refusal("idle_timeout")) > before; },
                       std::chrono::seconds(3 * kIdleTimeoutS));
        CHECK(dropped);
        return "dropped at the idle timeout (" + std::to_string(kIdleTimeoutS) + " s)";
    });

    abuse("TLS garbage on the plain port", [&] {
        tcp::socket socket = abuser_socket(ioc, port);
        std::string hello = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
        std::mt19937 rng(3);
        for (int i = 0; i < 500; ++i) hello += static_cast<char>(rng());
        send_all(socket, hello);
        const auto [closed, answer] = wait_for_close(socket, 3s);
        CHECK(closed);
        return std::string("closed") + (answer.empty() ? "" : " after an HTTP error");
    });

    abuse("plain text on the TLS port", [&] {
        tcp::socket socket = abuser_socket(ioc, tls_server.port());
        send_all(socket, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        const auto [closed, answer] = wait_for_close(socket, 3s);
        CHECK(closed);
        CHECK(answer.find("200") == std::string::npos);
        return std::string("TLS handshake failed, closed");
    });

    abuse("a wrong protocol version", [&] {
        RawClient raw(port, kAbuser);
        raw.send_text(R"({"type":"hello","protocol":2,"token":")" + kToken +
                      R"(","model":"demo","direction":"a2b","quality":85})");
        const auto [code, close] = raw.expect_refusal();
        CHECK(code == "unsupported_version");
        CHECK(close == 1003);
        return "error " + code + ", close " + std::to_string(close);
    });

    abuse("30 bad tokens in a row", [&] {
        int refused = 0;
        for (int i = 0; i < 30; ++i) {
            RawClient raw(port, kAbuser);
            raw.hello("guess-" + std::to_string(i));
            const auto [code, close] = raw.expect_refusal();
            refused += code == "unauthorized" && close == 1008 ? 1 : 0;
        }
        CHECK(refused == 30);
        return std::to_string(refused) + " refused unauthorized, close 1008";
    });

    abuse("model ids with ../", [&] {
        RawClient raw(port, kAbuser);
        raw.hello(kToken, "../../etc/passwd");
        const auto [code, close] = raw.expect_refusal();
        CHECK(code == "malformed");
        const auto get = http_exchange(port, "GET", "/v1/models/..%2F..%2Fetc%2Fpasswd",
                                       {{"Authorization", "Bearer " + kToken}}, "");
        const auto put = http_exchange(port, "PUT", "/v1/models/..",
                                       {{"Authorization", "Bearer " + kToken}}, "x");
        const auto slashes = http_exchange(port, "GET", "/v1/models/../../etc/passwd",
                                           {{"Authorization", "Bearer " + kToken}}, "");
        const auto remove = http_exchange(port, "DELETE", "/v1/models/..%2Fdemo",
                                          {{"Authorization", "Bearer " + kToken}}, "");
        CHECK(remove.first == 400);
        CHECK(fs::exists(models.path() / "demo.fsmodel"));
        CHECK(get.first == 400);
        CHECK(put.first == 400);
        CHECK(slashes.first == 404);
        CHECK_FALSE(fs::exists(models.path().parent_path() / "x"));
        return "hello: error " + code + "; GET, PUT, DELETE with %2F or ..: HTTP " +
               std::to_string(get.first) + ", " + std::to_string(put.first) + ", " +
               std::to_string(remove.first) + "; a path with ../: " + std::to_string(slashes.first);
    });

    abuse("concurrent uploads and deletes of one model", [&] {
        std::atomic<int> server_errors{0}, uploads_ok{0}, deletes_ok{0};
        std::vector<std::thread> workers;
        for (int w = 0; w < 4; ++w)
            workers.emplace_back([&, w] {
                const bool upload = w % 2 == 0;
                for (int i = 0; i < (upload ? 3 : 6); ++i) {
                    if (!upload) std::this_thread::sleep_for(150ms);  // between the uploads
                    const auto [status, body] =
                        upload
                            ? http_exchange(port, "PUT", "/v1/models/victim",
                                            {{"Authorization", "Bearer " + kToken}}, victim_bytes)
                            : http_exchange(port, "DELETE", "/v1/models/victim",
                                            {{"Authorization", "Bearer " + kToken}}, "");
                    if (status >= 500) ++server_errors;
                    if (status / 100 == 2) ++(upload ? uploads_ok : deletes_ok);
                }
            });
        for (auto& t : workers) t.join();
        CHECK(server_errors == 0);
        CHECK(uploads_ok > 0);
        // Whatever order they ran in: the model is there whole, or not there.
        const auto listing = nlohmann::json::parse(
            http_exchange(port, "GET", "/v1/models", {{"Authorization", "Bearer " + kToken}}, "")
                .second);
        bool listed = false;
        for (const auto& model : listing["models"])
            if (model["id"] == "victim") {
                listed = true;
                CHECK(model["sha256"] ==
                      net::sha256_of_file((models.path() / "demo.fsmodel").string()));
            }
        CHECK(listed == fs::exists(models.path() / "victim.fsmodel"));
        int leftovers = 0;
        for (const auto& entry : fs::directory_iterator(models.path()))
            leftovers += entry.path().filename().string().rfind('.', 0) == 0 ? 1 : 0;
        CHECK(leftovers == 0);
        return std::to_string(uploads_ok.load()) + " uploads and " +
               std::to_string(deletes_ok.load()) + " deletes answered 2xx, no 5xx; " +
               (listed ? "served whole" : "absent") + ", no partial files";
    });

    abuse("a 10 MB message", [&] {
        const std::string too_large = "faceswap_protocol_errors_total{code=\"too_large\"}";
        const std::uint64_t before = metric(port, too_large);
        RawClient raw(port, kAbuser);
        raw.welcomed_hello(kToken);
        try {
            raw.send_binary(std::vector<std::uint8_t>(10 << 20, 0x55));
        } catch (const std::exception&) {
            // The server stops reading at its limit and closes: the rest cannot be written.
        }
        CHECK(wait_until([&] { return metric(port, too_large) > before; }, 5s));
        return std::string("cut at the read limit (8 MiB), close 1009");
    });

    // The good clients: never disconnected, never refused, and at their rate.
    double abuse_seconds = 0;
    std::uint64_t abuse_results = 0;
    for (const auto& row : rows) {
        abuse_seconds += row.seconds;
        abuse_results += row.results;
    }
    const double abuse_fps = abuse_results / abuse_seconds;
    for (auto& g : good) {
        const auto stats = g->client->stats();
        CHECK(g->client->state() == net::ClientState::kConnected);
        CHECK(stats.connects == 1);
        CHECK(stats.errors == 0);
    }
    std::ostringstream table;
    table << "| kind | what the server did | good clients' FPS (baseline " << baseline_fps
          << ") |\n| --- | --- | --- |\n";
    for (const auto& row : rows)
        table << "| " << row.kind << " | " << row.outcome << " | " << row.results / row.seconds
              << " (" << static_cast<int>(100 * row.results / row.seconds / baseline_fps)
              << "%) |\n";
    table << "| all of the above, " << static_cast<int>(abuse_seconds) << " s | | " << abuse_fps
          << " (" << static_cast<int>(100 * abuse_fps / baseline_fps) << "%) |\n";
    table << "server memory: " << baseline_peak_kb / 1024 << " MB before the abuse, peak "
          << peak_kb / 1024 << " MB during it\n";
    std::cout << table.str();
    if (const char* out = std::getenv("FACESWAP_ABUSE_TABLE")) std::ofstream(out) << table.str();
    CHECK(abuse_fps >= 0.8 * baseline_fps);
    CHECK(peak_kb <= baseline_peak_kb + 256 * 1024);
}
