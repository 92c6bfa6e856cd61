#include "faceswap/capture/stream_output.h"

#include <opencv2/imgproc.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "faceswap/capture/media_reader.h"
#include "faceswap/capture/video_writer.h"
#include "faceswap/capture/watermark.h"
#include "paced_sender.h"

extern char** environ;

namespace faceswap::capture {
namespace {

[[noreturn]] void bad_url(const std::string& url, const std::string& why) {
    throw MediaError("stream address '" + url + "': " + why +
                     "; use udp://HOST:PORT (for example udp://127.0.0.1:5000, which OBS and VLC "
                     "open as udp://@:5000) or srt://HOST:PORT");
}

// The last non-empty line of what ffmpeg wrote to its error pipe (without blocking).
std::string last_line_of(int fd) {
    std::string text;
    char buffer[4096];
    while (true) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n > 0) {
            text.append(buffer, static_cast<std::size_t>(n));
            if (text.size() > 65536) text.erase(0, text.size() - 65536);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        break;
    }
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    const std::size_t start = text.find_last_of('\n');
    return start == std::string::npos ? text : text.substr(start + 1);
}

}  // namespace

std::string checked_stream_url(const std::string& url) {
    std::string scheme;
    for (const char* known : {"udp://", "srt://"})
        if (url.rfind(known, 0) == 0) scheme = known;
    if (scheme.empty()) bad_url(url, "not a udp:// or srt:// address");
    const std::size_t query = url.find('?', scheme.size());
    const std::string authority = url.substr(scheme.size(), query - scheme.size());
    std::size_t colon = authority.rfind(':');
    std::string host = colon == std::string::npos ? "" : authority.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')  // [IPv6]
        host = host.substr(1, host.size() - 2);
    if (host.empty()) bad_url(url, "no host");
    if (host.find_first_of("/@ ") != std::string::npos) bad_url(url, "a malformed host");
    const std::string port = authority.substr(colon + 1);
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) < 1 ||
        std::stoi(port) > 65535)
        bad_url(url, "the port must be a number from 1 to 65535");
    if (scheme == "udp://" && query == std::string::npos) return url + "?pkt_size=1316";
    return url;
}

struct StreamOutput::Shared {
    StreamOptions options;
    std::string url;
    pid_t ffmpeg = -1;
    int input_fd = -1;  // ffmpeg's stdin
    int error_fd = -1;  // ffmpeg's stderr
    std::unique_ptr<PacedSender> sender;
    std::mutex stop_mutex;
    bool stopped = false;

    // One frame into ffmpeg's stdin; "" or why the stream stopped.
    std::string write_frame(const cv::Mat& frame);
};

StreamOutput::StreamOutput(const StreamOptions& options) : shared_(std::make_shared<Shared>()) {
    Shared& s = *shared_;
    s.options = options;
    s.url = checked_stream_url(options.url);
    if (options.width <= 0 || options.height <= 0 || options.width % 2 || options.height % 2)
        throw MediaError("stream size " + std::to_string(options.width) + "x" +
                         std::to_string(options.height) + ": width and height must be even");
    if (!(options.fps >= 1 && options.fps <= 240))
        throw MediaError("stream frame rate must be between 1 and 240");
    if (!ffmpeg_available())
        throw MediaError("streaming needs the ffmpeg program: install it (apt-get install ffmpeg)");

    const int fps = static_cast<int>(options.fps + 0.5);
    const std::string provenance =
        "AI-generated" + (options.provenance.empty() ? "" : " (" + options.provenance + ")");
    const bool srt = s.url.rfind("srt://", 0) == 0;
    std::vector<std::string> arguments = {
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s",
        std::to_string(options.width) + "x" + std::to_string(options.height), "-framerate",
        std::to_string(fps), "-i", "pipe:0",
        // Latency first: no look-ahead, no B-frames, a keyframe a second, bounded bit rate.
        "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-bf", "0", "-g",
        std::to_string(fps), "-crf", "21", "-maxrate", "8M", "-bufsize", "2M", "-pix_fmt",
        "yuv420p",
        // Provenance where MPEG-TS has room for it: the service description players show.
        "-metadata", "service_provider=faceswap", "-metadata", "service_name=" + provenance,
        "-flush_packets", "1", "-muxdelay", "0", "-f", "mpegts"};
    if (srt) arguments.insert(arguments.end(), {"-pkt_size", "1316"});
    arguments.push_back(s.url);

    int input[2], errors[2];
    if (::pipe2(input, O_CLOEXEC) != 0) throw MediaError("cannot start ffmpeg (no pipe)");
    if (::pipe2(errors, O_CLOEXEC) != 0) {
        ::close(input[0]);
        ::close(input[1]);
        throw MediaError("cannot start ffmpeg (no pipe)");
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, input[0], 0);
    posix_spawn_file_actions_adddup2(&actions, errors[1], 2);
    std::vector<char*> argv;
    for (auto& argument : arguments) argv.push_back(argument.data());
    argv.push_back(nullptr);
    const int spawned =
        ::posix_spawnp(&s.ffmpeg, "ffmpeg", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(input[0]);
    ::close(errors[1]);
    if (spawned != 0) {
        ::close(input[1]);
        ::close(errors[0]);
        throw MediaError(std::string("cannot start ffmpeg: ") + std::strerror(spawned));
    }
    s.input_fd = input[1];
    s.error_fd = errors[0];
    ::fcntl(s.input_fd, F_SETFL, O_NONBLOCK);
    ::fcntl(s.error_fd, F_SETFL, O_NONBLOCK);
    std::signal(SIGPIPE, SIG_IGN);  // a dead ffmpeg must be an error, not kill the process
    s.sender =
        std::make_unique<PacedSender>(options.width, options.height, options.fps, options.mark,
                                      watermark_payload(options.model_id),
                                      [&s](const cv::Mat& frame) { return s.write_frame(frame); });
}

StreamOutput::~StreamOutput() {
    stop();
}

void StreamOutput::push(const cv::Mat& bgr) {
    shared_->sender->push(bgr);
}

void StreamOutput::push_camera(const cv::Mat& bgr) {
    shared_->sender->push(bgr, /*generated=*/false);
}

std::string StreamOutput::Shared::write_frame(const cv::Mat& frame) {
    const auto* bytes = frame.data;
    std::size_t left = frame.total() * frame.elemSize();
    while (left > 0) {
        // ffmpeg's stdin is non-blocking: a stalled encoder (an SRT peer that does not answer)
        // must not keep stop() waiting.
        pollfd ready{input_fd, POLLOUT, 0};
        if (::poll(&ready, 1, 100) == 0) {
            if (sender->stopping()) return {};
            continue;
        }
        const ssize_t n = ::write(input_fd, bytes, left);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) {
            const std::string reason = last_line_of(error_fd);
            return "the stream to " + options.url + " stopped: ffmpeg " +
                   (reason.empty() ? "exited" : "says: " + reason);
        }
        bytes += n;
        left -= static_cast<std::size_t>(n);
    }
    return {};
}

std::string StreamOutput::error() const {
    return shared_->sender->error();
}

StreamCounters StreamOutput::counters() const {
    return shared_->sender->counters();
}

const std::string& StreamOutput::url() const {
    return shared_->url;
}

void StreamOutput::stop() {
    Shared& s = *shared_;
    std::lock_guard lock(s.stop_mutex);
    if (s.stopped) return;
    s.stopped = true;
    s.sender->stop();
    ::close(s.input_fd);  // end of input: ffmpeg flushes and exits
    int status = 0;
    for (int waited_ms = 0; ::waitpid(s.ffmpeg, &status, WNOHANG) == 0; waited_ms += 20) {
        if (waited_ms >= 2000) {
            ::kill(s.ffmpeg, SIGKILL);
            ::waitpid(s.ffmpeg, &status, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::close(s.error_fd);
}

}  // namespace faceswap::capture
