// Scale-out tests' common parts (failover_support.h).
#include "failover_support.h"

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <regex>
#include <sstream>
#include <thread>

#include "faceswap/clock.h"
#include "faceswap/net/client.h"
#include "net_test_support.h"
#include "test_support.h"

namespace faceswap::test {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr int kClients = 4;
constexpr auto kFramePeriod = 33ms;  // a 30 FPS camera

// The shipped configuration with this test's replicas in the upstream and its own listen port.
std::string site_config(const std::vector<std::uint16_t>& replicas, std::uint16_t listen_port) {
    std::ifstream in(source_dir() / "packaging/nginx/faceswap.conf");
    std::stringstream text;
    text << in.rdbuf();
    std::string config = text.str();
    const std::regex server_line(R"(\n(\s*)server \S+:\d+ ([^;]*);)");
    std::smatch first;
    REQUIRE(std::regex_search(config, first, server_line));
    std::string servers;
    for (auto port : replicas)
        servers += "\n" + first[1].str() + "server 127.0.0.1:" + std::to_string(port) + " " +
                   first[2].str() + ";";
    config = std::regex_replace(config, server_line, "");
    config.insert(config.find("least_conn;") + 11, servers);
    const std::regex listen_line(R"(listen \d+;)");
    REQUIRE(std::regex_search(config, listen_line));
    return std::regex_replace(config, listen_line,
                              "listen 127.0.0.1:" + std::to_string(listen_port) + ";");
}

}  // namespace

std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
    socklen_t length = sizeof(address);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    ::close(fd);
    return ntohs(address.sin_port);
}

Nginx::Nginx(const fs::path& dir, const std::vector<std::uint16_t>& replicas)
    : dir_(dir), port_(free_port()) {
    std::ofstream(dir / "faceswap.conf") << site_config(replicas, port_);
    std::ofstream(dir / "nginx.conf")
        << "daemon off;\nworker_processes 1;\npid " << (dir / "nginx.pid").string()
        << ";\nerror_log " << (dir / "error.log").string() << " info;\n"
        << "events { worker_connections 256; }\nhttp {\n"
        << "    access_log " << (dir / "access.log").string() << ";\n"
        << "    client_body_temp_path " << (dir / "body").string() << ";\n"
        << "    proxy_temp_path " << (dir / "proxy").string() << ";\n"
        << "    fastcgi_temp_path " << (dir / "fastcgi").string() << ";\n"
        << "    uwsgi_temp_path " << (dir / "uwsgi").string() << ";\n"
        << "    scgi_temp_path " << (dir / "scgi").string() << ";\n"
        << "    include " << (dir / "faceswap.conf").string() << ";\n}\n";
    REQUIRE(fs::exists("/usr/sbin/nginx"));
    pid_ = ::fork();
    if (pid_ == 0) {
        const std::string prefix = dir.string() + "/", conf = (dir / "nginx.conf").string(),
                          log = (dir / "error.log").string();
        ::execl("/usr/sbin/nginx", "nginx", "-p", prefix.c_str(), "-c", conf.c_str(), "-e",
                log.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    // Ready once a request reaches a replica through it.
    const bool up = wait_until([&] { return http_status(port_, "/healthz") == 200; }, 10s);
    INFO("nginx did not come up; its log:\n" << log());
    REQUIRE(up);
}

Nginx::~Nginx() {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
}

std::string Nginx::log() const {
    std::ifstream in(dir_ / "error.log");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

namespace {

std::int64_t sessions_on(std::uint16_t replica_port) {
    const std::string metrics = http_get(replica_port, "/metrics").second;
    std::smatch match;
    REQUIRE(std::regex_search(metrics, match, std::regex("\nfaceswap_sessions ([0-9]+)")));
    return std::stoll(match[1]);
}

// One streaming client and what it saw around the failure. Both callbacks run on the client's
// network thread, so "reconnected" is always recorded before the results that follow it.
struct StreamingClient {
    std::atomic<std::int64_t> stop_us{-1};         // when the replica was stopped (clock::now_us)
    std::atomic<std::int64_t> reconnected_us{-1};  // welcome on the next connection
    std::atomic<std::int64_t> first_result_after_us{-1};  // first result on that connection
    std::atomic<std::uint64_t> results_after{0};          // results on that connection
    std::unique_ptr<net::Client> client;

    StreamingClient(const std::string& url, const std::string& token) {
        net::ClientConfig config;
        config.url = url;
        config.token = token;
        config.reconnect_max = 2s;
        client = std::make_unique<net::Client>(
            config,
            [this](net::ResultFrame&&) {
                if (reconnected_us < 0) return;
                std::int64_t unset = -1;
                first_result_after_us.compare_exchange_strong(unset, clock::now_us());
                ++results_after;
            },
            [this](const net::ClientEvent& event) {
                if (stop_us < 0 || event.state != net::ClientState::kConnected) return;
                std::int64_t unset = -1;
                reconnected_us.compare_exchange_strong(unset, clock::now_us());
            });
        client->start();
    }
};

}  // namespace

FailoverFigures run_failover(const std::vector<std::unique_ptr<Replica>>& replicas, StopKind how,
                             const std::string& token) {
    REQUIRE(replicas.size() == 2);
    const auto& frames = video_frames(48, 640, 480);
    TempDir dir;
    Nginx nginx(dir.path(), {replicas[0]->port(), replicas[1]->port()});
    const std::string url = "ws://127.0.0.1:" + std::to_string(nginx.port()) + "/";

    std::vector<std::unique_ptr<StreamingClient>> clients;
    for (int i = 0; i < kClients; ++i)
        clients.push_back(std::make_unique<StreamingClient>(url, token));
    std::atomic<bool> feeding{true};
    std::thread camera([&] {
        for (std::size_t n = 0; feeding; ++n) {
            const auto& frame = frames[n % frames.size()];
            for (auto& c : clients) c->client->submit_jpeg(frame.jpeg, frame.width, frame.height);
            std::this_thread::sleep_for(kFramePeriod);
        }
    });
    const StopAndJoin stop_camera{feeding, camera};

    REQUIRE(wait_until(
        [&] {
            return std::all_of(clients.begin(), clients.end(),
                               [](auto& c) { return c->client->stats().received >= 10; });
        },
        15s));
    // least_conn spread the sessions over both replicas.
    const std::int64_t on_stopped = sessions_on(replicas[0]->port());
    CHECK(on_stopped + sessions_on(replicas[1]->port()) == kClients);
    REQUIRE(on_stopped >= 1);
    std::vector<net::ClientStats> before;
    for (auto& c : clients) before.push_back(c->client->stats());

    const std::int64_t stopped_at = clock::now_us();
    for (auto& c : clients) c->stop_us = stopped_at;
    if (how == StopKind::kKill) {
        replicas[0]->kill_hard();
    } else {
        CHECK(replicas[0]->terminate() == 0);  // returns once it has drained and exited
    }

    // The stopped replica's clients stream again, through nginx, on the surviving replica; the
    // others never stopped.
    const bool recovered = wait_until(
        [&] {
            int moved_and_streaming = 0;
            bool others_streaming = true;
            for (std::size_t i = 0; i < clients.size(); ++i) {
                if (clients[i]->results_after >= 10) ++moved_and_streaming;
                if (clients[i]->reconnected_us < 0)
                    others_streaming = others_streaming && clients[i]->client->stats().received >
                                                               before[i].received + 10;
            }
            return moved_and_streaming == on_stopped && others_streaming;
        },
        20s);
    INFO("nginx log:\n" << nginx.log());
    REQUIRE(recovered);
    CHECK(sessions_on(replicas[1]->port()) == kClients);

    // A newcomer after the failure gets in at the first try (nginx retries the dead replica's
    // refusal on the live one, and then leaves it out for fail_timeout).
    StreamingClient newcomer(url, token);
    REQUIRE(wait_until([&] { return newcomer.client->stats().connects == 1; }, 10s));
    CHECK(newcomer.client->stats().errors == 0);

    FailoverFigures figures;
    figures.clients = kClients;
    for (std::size_t i = 0; i < clients.size(); ++i) {
        const net::ClientStats after = clients[i]->client->stats();
        CHECK(after.errors == before[i].errors);  // never refused on the way
        if (after.connects == before[i].connects) {
            // The other replica's clients noticed nothing and kept streaming.
            CHECK(after.lost == before[i].lost);
            CHECK(after.received > before[i].received + 10);
            continue;
        }
        CHECK(after.connects == before[i].connects + 1);
        ++figures.moved;
        figures.reconnect_ms.push_back((clients[i]->reconnected_us - stopped_at) / 1000.0);
        figures.first_result_ms.push_back((clients[i]->first_result_after_us - stopped_at) /
                                          1000.0);
        figures.lost += after.lost - before[i].lost;
        figures.dropped += after.dropped - before[i].dropped;
    }
    CHECK(figures.moved == on_stopped);
    return figures;
}

namespace {

std::string range_ms(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    std::ostringstream out;
    out << std::fixed << std::setprecision(0) << values.front() << "-" << values.back() << " ms";
    return out.str();
}

}  // namespace

void report_failover(const std::string& what, const FailoverFigures& figures) {
    std::cout << "nginx failover, " << what << ": " << figures.moved << " of " << figures.clients
              << " clients moved; stop -> reconnected " << range_ms(figures.reconnect_ms)
              << ", stop -> first result from the other replica "
              << range_ms(figures.first_result_ms) << "; frames lost (sent, never answered) "
              << figures.lost << ", dropped in the client while away " << figures.dropped
              << " (camera 30 FPS)" << std::endl;
}

}  // namespace faceswap::test
