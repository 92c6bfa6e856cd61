// The browser client served by faceswap-server, in a real browser: Debian's Chromium, headless,
// with a fake camera playing franck.mp4, opens the page of a real server on 127.0.0.1, streams
// over the WebSocket protocol and shows swapped frames. The test drives the browser through the
// DevTools protocol (Chromium's --remote-debugging-port) and checks the page's own figures and
// its pixels: the swapped view differs from the camera inside the face, matches it on the
// background, and carries the AI-generated mark.
#include <catch2/catch.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "faceswap/paths.h"
#include "net_test_support.h"
#include "test_support.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
namespace beast = boost::beast;
namespace asio = boost::asio;
using json = nlohmann::json;

std::vector<unsigned char> base64_decode(const std::string& text) {
    std::vector<unsigned char> out;
    int bits = 0, value = 0;
    for (const char c : text) {
        int digit;
        if (c >= 'A' && c <= 'Z')
            digit = c - 'A';
        else if (c >= 'a' && c <= 'z')
            digit = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            digit = c - '0' + 52;
        else if (c == '+')
            digit = 62;
        else if (c == '/')
            digit = 63;
        else
            continue;  // padding
        value = value << 6 | digit;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<unsigned char>(value >> bits & 0xFF));
        }
    }
    return out;
}

// Chromium, headless, with a fake camera; killed when the test ends.
class Browser {
  public:
    // ignore_certificate: for a server with the tests' self-signed certificate.
    Browser(const fs::path& profile, const fs::path& camera_y4m, bool ignore_certificate) {
        std::vector<std::string> args = {"chromium",
                                         "--headless=new",
                                         "--no-sandbox",  // the tests may run as root
                                         "--disable-gpu",
                                         "--no-first-run",
                                         "--user-data-dir=" + profile.string(),
                                         "--remote-debugging-port=0",
                                         "--use-fake-ui-for-media-stream",
                                         "--use-fake-device-for-media-stream",
                                         "--use-file-for-fake-video-capture=" + camera_y4m.string(),
                                         "--window-size=1100,700"};
        if (ignore_certificate) args.push_back("--ignore-certificate-errors");
        args.push_back("about:blank");
        std::vector<char*> argv;
        for (auto& arg : args) argv.push_back(arg.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
        REQUIRE(::posix_spawnp(&pid_, "chromium", &actions, nullptr, argv.data(), environ) == 0);
        posix_spawn_file_actions_destroy(&actions);
        // Chromium writes the port it chose and the browser's DevTools path here, not in one
        // step: the file can exist empty for a moment (seen once in a full suite run), so wait
        // for both lines.
        const fs::path active = profile / "DevToolsActivePort";
        REQUIRE(faceswap::test::wait_until(
            [&] {
                std::ifstream in(active);
                port_.clear();
                browser_path_.clear();
                std::getline(in, port_);
                std::getline(in, browser_path_);
                return !port_.empty() && !browser_path_.empty();
            },
            std::chrono::seconds(30)));
    }
    ~Browser() {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
    const std::string& port() const { return port_; }
    const std::string& browser_path() const { return browser_path_; }

  private:
    pid_t pid_ = -1;
    std::string port_, browser_path_;
};

// A DevTools protocol session with one page (flat sessions over the browser's WebSocket).
class DevTools {
  public:
    explicit DevTools(const Browser& browser) : socket_(io_) {
        asio::ip::tcp::resolver resolver(io_);
        asio::connect(socket_.next_layer(), resolver.resolve("127.0.0.1", browser.port()));
        timeval timeout{30, 0};  // no call waits longer (a hung browser fails the test)
        ::setsockopt(socket_.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout,
                     sizeof timeout);
        socket_.handshake("127.0.0.1:" + browser.port(), browser.browser_path());
        socket_.read_message_max(64 << 20);  // screenshots
    }

    json call(const std::string& method, json params = json::object(),
              const std::string& session = {}) {
        const int id = next_id_++;
        json message = {{"id", id}, {"method", method}, {"params", std::move(params)}};
        if (!session.empty()) message["sessionId"] = session;
        socket_.write(asio::buffer(message.dump()));
        while (true) {
            beast::flat_buffer buffer;
            socket_.read(buffer);
            const json reply = json::parse(beast::buffers_to_string(buffer.data()));
            if (!reply.contains("id") || reply["id"] != id) continue;  // an event
            if (reply.contains("error")) FAIL(method << ": " << reply["error"].dump());
            return reply["result"];
        }
    }

    // Opens url in a new page and returns its session id.
    std::string open_page(const std::string& url) {
        const std::string target = call("Target.createTarget", {{"url", url}})["targetId"];
        return call("Target.attachToTarget",
                    {{"targetId", target}, {"flatten", true}})["sessionId"];
    }

    json evaluate(const std::string& session, const std::string& expression) {
        return call("Runtime.evaluate", {{"expression", expression}, {"returnByValue", true}},
                    session)["result"]["value"];
    }

  private:
    asio::io_context io_;
    beast::websocket::stream<asio::ip::tcp::socket> socket_;
    int next_id_ = 1;
};

double mean_difference(const cv::Mat& a, const cv::Mat& b) {
    cv::Mat difference;
    cv::absdiff(a, b, difference);
    const cv::Scalar mean = cv::mean(difference);
    return (mean[0] + mean[1] + mean[2]) / 3;
}

}  // namespace

namespace {

// Opens the page of a real server (https:// and wss:// with `tls`) in Chromium with the fake
// camera and checks the page's figures and pixels; as a benchmark, compares with the native
// client on the same server.
void check_browser_client(bool tls) {
    if (std::system("command -v chromium > /dev/null 2>&1") != 0)
        FAIL("chromium is not installed: run scripts/setup.sh (it installs Debian's chromium)");
    faceswap::test::TempDir dir;
    const fs::path camera = dir.path() / "camera.y4m";
    REQUIRE(faceswap::test::run_command("ffmpeg -hide_banner -loglevel error -y -i " +
                                            (faceswap::test::media_dir() / "franck.mp4").string() +
                                            " -t 8 -pix_fmt yuv420p " + camera.string(),
                                        nullptr) == 0);

    std::vector<std::string> args = {"--address",    "127.0.0.1",
                                     "--port",       "0",
                                     "--log-level",  "warn",
                                     "--swap-model", faceswap::paths::swap_model(),
                                     "--model-dir",  faceswap::test::model_dir().string()};
    if (tls) {
        const auto certificate = faceswap::test::make_test_certificate(dir.path().string());
        args.insert(args.end(), {"--tls-cert", certificate.cert, "--tls-key", certificate.key});
    }
    faceswap::test::ServerProcess server(args);
    // As a benchmark (FACESWAP_BROWSER_BENCH_SECONDS=N): first the native client on this server
    // for N s (before the browser exists, so that neither takes cores from the other), then N
    // more seconds of the page once it swaps.
    const char* bench = tls ? nullptr : std::getenv("FACESWAP_BROWSER_BENCH_SECONDS");
    std::string native;
    if (bench)
        faceswap::test::run_command(
            std::string(FACESWAP_CLI) + " live --mode remote --server ws://127.0.0.1:" +
                std::to_string(server.port()) + "/ --source demo --size 360x288 --duration " +
                bench + " --stats-interval " + bench + " 2>&1 | grep -E 'FPS swapped|done'",
            &native);
    Browser browser(dir.path() / "profile", camera, tls);
    DevTools devtools(browser);
    const std::string page = devtools.open_page(std::string(tls ? "https" : "http") +
                                                "://127.0.0.1:" + std::to_string(server.port()) +
                                                "/?autostart=1&model=demo");

    // Within 15 s the page shows swapped frames and its own figures.
    json stats;
    const bool swapping = faceswap::test::wait_until(
        [&] {
            stats = devtools.evaluate(page, "window.faceswapStats || null");
            return stats.is_object() && stats["frames"].get<int>() >= 20 &&
                   stats["fps"].get<double>() > 0;
        },
        std::chrono::seconds(15));
    INFO("page message: " << devtools.evaluate(page,
                                               "document.getElementById('message').textContent"));
    INFO("page stats: " << stats.dump());
    REQUIRE(swapping);

    std::printf("browser client: %.1f FPS, latency p50 %.1f ms, p95 %.1f ms, %d frames\n",
                stats["fps"].get<double>(), stats["p50"].get<double>(), stats["p95"].get<double>(),
                stats["frames"].get<int>());

    // The two views as the page shows them (480x360 each, the 360x288 video letterboxed in both).
    const json shot = devtools.call("Page.captureScreenshot", {{"format", "png"}}, page);
    const auto png = base64_decode(shot["data"].get<std::string>());
    const cv::Mat screen = cv::imdecode(png, cv::IMREAD_COLOR);
    REQUIRE(screen.cols == 1100);
    const fs::path screenshot = faceswap::test::source_dir() / "build" /
                                (tls ? "browser-client-tls.png" : "browser-client.png");
    cv::imwrite(screenshot.string(), screen);
    const auto pane = [&](const char* id) {
        const json box = devtools.evaluate(
            page, std::string("(() => { const r = document.getElementById('") + id +
                      "').getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; })()");
        return cv::Rect(box[0].get<int>(), box[1].get<int>(), box[2].get<int>(), box[3].get<int>());
    };
    const cv::Mat camera_view = screen(pane("camera"));
    const cv::Mat swapped_view = screen(pane("swapped"));
    REQUIRE(camera_view.size() == swapped_view.size());
    const int w = camera_view.cols, h = camera_view.rows;
    // franck.mp4 at 360x288 fills 450x360 of each 480x360 pane: x 15 to 465.
    const cv::Rect background(30, 20, 80, 60);  // blue screen, top left of the picture
    const cv::Rect face(w * 45 / 100, h * 35 / 100, w * 14 / 100, h * 30 / 100);
    const cv::Rect mark(w - 110, h - 30, 90, 22);
    const double background_difference =
        mean_difference(camera_view(background), swapped_view(background));
    const double face_difference = mean_difference(camera_view(face), swapped_view(face));
    const double mark_difference = mean_difference(camera_view(mark), swapped_view(mark));
    INFO("background " << background_difference << ", face " << face_difference << ", mark "
                       << mark_difference << "; screenshot " << screenshot);
    CHECK(background_difference < 8.0);
    CHECK(face_difference > background_difference + 6.0);
    CHECK(mark_difference > 25.0);

    if (bench) {
        const int seconds = std::atoi(bench);
        std::this_thread::sleep_for(std::chrono::seconds(seconds));
        stats = devtools.evaluate(page, "window.faceswapStats");
        std::printf("same server, %d s each, 2-core CPU, one after the other\n", seconds);
        std::printf("  native client (faceswap live --mode remote, the demo video at 360x288):\n%s",
                    native.c_str());
        std::printf(
            "  browser client (Chromium, fake camera at franck.mp4's 25 FPS, 360x288): "
            "%.1f FPS, latency p50 %.1f ms, p95 %.1f ms, %d frames swapped\n",
            stats["fps"].get<double>(), stats["p50"].get<double>(), stats["p95"].get<double>(),
            stats["frames"].get<int>());
    }
}

}  // namespace

TEST_CASE("the browser client swaps a fake camera through a real server", "[browser]") {
    check_browser_client(/*tls=*/false);
}

TEST_CASE("the browser client works over https and wss", "[browser]") {
    check_browser_client(/*tls=*/true);
}
