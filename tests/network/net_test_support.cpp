#include "net_test_support.h"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <opencv2/imgproc.hpp>

#include <cstdlib>
#include <map>
#include <mutex>
#include <stdexcept>

#include "faceswap/capture/media_reader.h"
#include "faceswap/net/jpeg.h"
#include "test_support.h"

namespace faceswap::test {

const std::vector<JpegFrame>& video_frames(int count, int width, int height) {
    static std::mutex mu;
    static std::map<std::tuple<int, int, int>, std::vector<JpegFrame>> cache;
    std::lock_guard lock(mu);
    auto& frames = cache[{count, width, height}];
    if (!frames.empty()) return frames;
    auto reader = capture::MediaReader::open((media_dir() / "franck.mp4").string());
    net::JpegCodec codec;
    capture::DecodedFrame frame;
    while (static_cast<int>(frames.size()) < count && reader->next(frame)) {
        cv::Mat bgr = frame.bgr;
        if (width > 0) cv::resize(frame.bgr, bgr, cv::Size(width, height), 0, 0, cv::INTER_AREA);
        if (!bgr.isContinuous()) bgr = bgr.clone();
        JpegFrame out;
        out.width = bgr.cols;
        out.height = bgr.rows;
        out.bgr.assign(bgr.data, bgr.data + bgr.total() * 3);
        codec.encode(bgr.data, bgr.cols, bgr.rows, static_cast<int>(bgr.step[0]),
                     net::PixelOrder::kBgr, 90, out.jpeg);
        frames.push_back(std::move(out));
    }
    if (static_cast<int>(frames.size()) < count) throw std::runtime_error("franck.mp4 too short");
    return frames;
}

server::ServerConfig test_server_config() {
    server::ServerConfig config;
    config.address = "127.0.0.1";
    config.port = 0;
    config.engine = "none";
    config.io_threads = 2;
    config.handshake_timeout_s = 5;
    config.drain_timeout_s = 5;
    return config;
}

TestServer::TestServer(server::ServerConfig config,
                       std::shared_ptr<server::ProcessorFactory> factory) {
    if (!factory) factory = server::make_passthrough_factory({"demo"});
    server_ = std::make_unique<server::Server>(std::move(config), std::move(factory));
    port_ = server_->start();
}

TestCertificate make_test_certificate(const std::string& dir) {
    TestCertificate files{dir + "/cert.pem", dir + "/key.pem"};
    std::string output;
    if (run_command("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
                    "-addext subjectAltName=IP:127.0.0.1 -keyout " +
                        files.key + " -out " + files.cert,
                    &output) != 0)
        throw std::runtime_error("openssl could not make a test certificate: " + output);
    return files;
}

bool wait_until(const std::function<bool()>& predicate, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!predicate()) {
        if (std::chrono::steady_clock::now() > deadline) return predicate();
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

std::pair<int, std::string> http_get(std::uint16_t port, const std::string& target) {
    return http_exchange(port, "GET", target, {}, "");
}

std::optional<int> http_status(std::uint16_t port, const std::string& target) {
    try {
        return http_get(port, target).first;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

std::pair<int, std::string> http_exchange(
    std::uint16_t port, const std::string& method, const std::string& target,
    const std::vector<std::pair<std::string, std::string>>& headers, const std::string& body) {
    namespace beast = boost::beast;
    namespace http = beast::http;
    namespace asio = boost::asio;
    asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    http::request<http::string_body> request(http::string_to_verb(method), target, 11);
    request.set(http::field::host, "127.0.0.1");
    for (const auto& [name, value] : headers) request.set(name, value);
    request.body() = body;
    if (!body.empty() || method == "PUT") request.prepare_payload();
    http::write(stream, request);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(stream, buffer, response);
    return {static_cast<int>(response.result_int()), response.body()};
}

double mean_abs_diff(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b,
                     int width, int x0, int y0, int x1, int y1) {
    const int height = static_cast<int>(a.size() / 3 / width);
    if (x1 < 0) x1 = width;
    if (y1 < 0) y1 = height;
    double sum = 0;
    std::size_t n = 0;
    for (int y = std::max(0, y0); y < std::min(height, y1); ++y)
        for (int x = std::max(0, x0) * 3; x < std::min(width, x1) * 3; ++x) {
            const std::size_t i = static_cast<std::size_t>(y) * width * 3 + x;
            sum += std::abs(int(a[i]) - int(b[i]));
            ++n;
        }
    return n ? sum / n : 0.0;
}

}  // namespace faceswap::test

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace faceswap::test {

ServerProcess::ServerProcess(const std::vector<std::string>& args)
    : ServerProcess(FACESWAP_SERVER, args) {}

ServerProcess::ServerProcess(const std::string& program, const std::vector<std::string>& args) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
    std::vector<std::string> argv_storage{program};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
        ::dup2(fds[1], 1);
        ::close(fds[0]);
        ::close(fds[1]);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(fds[1]);
    stdout_fd_ = fds[0];
    // Its stdout carries one line, "listening on port N", once it accepts connections.
    std::string seen;
    char c;
    while (seen.find('\n') == std::string::npos && ::read(stdout_fd_, &c, 1) == 1) seen += c;
    const auto at = seen.find("listening on port ");
    if (at == std::string::npos) {
        kill_hard();
        ::close(stdout_fd_);
        throw std::runtime_error(program + " did not start: '" + seen + "'");
    }
    port_ = static_cast<std::uint16_t>(std::stoi(seen.substr(at + 18)));
}

ServerProcess::~ServerProcess() {
    kill_hard();
    if (stdout_fd_ >= 0) ::close(stdout_fd_);
}

void ServerProcess::kill_hard() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
}

int ServerProcess::terminate() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace faceswap::test

#include <fcntl.h>
#include <spawn.h>

#include <filesystem>
#include <stdexcept>

extern char** environ;

namespace faceswap::test {

PipeWireSession::PipeWireSession() {
    std::filesystem::permissions(dir_.path(), std::filesystem::perms::owner_all);
    env_ = "XDG_RUNTIME_DIR=" + dir_.path().string();
    std::vector<std::string> args = {"dbus-run-session", "--", "sh", "-c",
                                     "pipewire & sleep 0.5; exec wireplumber"};
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    std::vector<std::string> environment = {env_};
    for (char** e = environ; *e; ++e)
        if (std::string(*e).rfind("XDG_RUNTIME_DIR=", 0) != 0) environment.push_back(*e);
    std::vector<char*> envp;
    for (auto& entry : environment) envp.push_back(entry.data());
    envp.push_back(nullptr);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSID);  // one process group to kill
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const std::string log = (dir_.path() / "session.log").string();
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    pid_t pid = -1;
    const int spawned =
        ::posix_spawnp(&pid, "dbus-run-session", &actions, &attributes, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    if (spawned != 0)
        throw std::runtime_error("cannot start dbus-run-session (scripts/setup.sh installs it)");
    pid_ = pid;
    if (!wait_until([&] { return listing("Client").find("\"WirePlumber\"") != std::string::npos; },
                    std::chrono::seconds(20)))
        throw std::runtime_error("pipewire and wireplumber did not come up within 20 s");
}

PipeWireSession::~PipeWireSession() {
    if (pid_ <= 0) return;
    ::kill(-pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 50 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ::kill(-pid_, SIGKILL);
    ::waitpid(pid_, &status, WNOHANG);
}

std::string PipeWireSession::listing(const std::string& type) const {
    std::string output;
    run_command(env_ + " timeout 5 pw-cli ls " + type + " 2>/dev/null", &output);
    return output;
}

}  // namespace faceswap::test
