// faceswap-stream-bench: the latency a stream output adds, measured end to end on this machine.
// Frames of 640x480 carrying their number (16 black or white blocks along the top) are pushed
// to a StreamOutput at a steady rate; ffmpeg, started with a player's low-delay flags, receives
// the UDP stream on 127.0.0.1 and decodes it to raw pixels on a pipe; the number read back from
// each decoded frame gives push-to-decoded latency. It includes the output's tick (up to one
// frame interval), the encoder, the network stack and the receiver's demuxing and decoding.
//
//   faceswap-stream-bench [SECONDS] [FPS] [udp|pipewire]   (default 20 s at 30 FPS, udp)
//
// pipewire: the PipeWire camera output instead, read by GStreamer's pipewiresrc (needs a
// PipeWire session with a session manager, as on a desktop).
#include <opencv2/core.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "faceswap/capture/stream_output.h"
#ifdef FACESWAP_HAVE_PIPEWIRE
#include "faceswap/capture/pipewire_output.h"
#endif
#include "faceswap/clock.h"
#include "faceswap/stats.h"

namespace {

constexpr int kWidth = 640, kHeight = 480, kBits = 16, kBlock = kWidth / kBits;

void draw_number(cv::Mat& frame, int number) {
    for (int bit = 0; bit < kBits; ++bit) {
        const bool one = (number >> bit) & 1;
        frame(cv::Rect(bit * kBlock, 0, kBlock, 40)).setTo(cv::Scalar::all(one ? 255 : 0));
    }
}

int read_number(const cv::Mat& frame) {
    int number = 0;
    for (int bit = 0; bit < kBits; ++bit) {
        const cv::Scalar mean = cv::mean(frame(cv::Rect(bit * kBlock + 8, 8, kBlock - 16, 24)));
        if (mean[0] > 128) number |= 1 << bit;
    }
    return number;
}

int free_udp_port() {
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    socklen_t length = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    ::close(fd);
    return ntohs(address.sin_port);
}

}  // namespace

int main(int argc, char** argv) {
    const double seconds = argc > 1 ? std::atof(argv[1]) : 20;
    const double fps = argc > 2 ? std::atof(argv[2]) : 30;
    const std::string kind = argc > 3 ? argv[3] : "udp";
    const int port = free_udp_port();

    std::mutex mutex;
    std::map<int, std::int64_t> pushed_at;  // frame number -> push time (us)
    std::vector<double> latencies_ms;
    std::int64_t decoded = 0;
    const std::string timeout = "timeout " + std::to_string(static_cast<int>(seconds + 20));
    const std::string receiver =
        kind == "pipewire"
            ? timeout + " gst-launch-1.0 -q pipewiresrc target-object=faceswap-bench num-buffers=" +
                  std::to_string(static_cast<int>((seconds - 1) * fps)) +
                  " ! videoconvert ! "
                  "video/x-raw,format=BGR,width=640,height=480 ! fdsink fd=1"
            : timeout +
                  " ffmpeg -hide_banner -loglevel fatal -fflags nobuffer -flags low_delay "
                  "-probesize 32 -analyzeduration 0 -threads 1 -i 'udp://127.0.0.1:" +
                  std::to_string(port) + "?timeout=5000000' -f rawvideo -pix_fmt bgr24 pipe:1";
    std::FILE* pipe = ::popen(receiver.c_str(), "r");
    if (!pipe) return 1;
    std::thread reader([&] {
        cv::Mat frame(kHeight, kWidth, CV_8UC3);
        while (std::fread(frame.data, 1, frame.total() * 3, pipe) == frame.total() * 3) {
            const std::int64_t now = faceswap::clock::now_us();
            const int number = read_number(frame);
            std::lock_guard lock(mutex);
            ++decoded;
            const auto found = pushed_at.find(number);
            if (found == pushed_at.end()) continue;  // a repeat of a frame already counted
            latencies_ms.push_back((now - found->second) / 1000.0);
            pushed_at.erase(found);
        }
    });
    std::unique_ptr<faceswap::capture::FrameOutput> output;
    if (kind == "pipewire") {
#ifdef FACESWAP_HAVE_PIPEWIRE
        faceswap::capture::PipeWireCameraOptions options;
        options.node_name = "faceswap-bench";
        options.width = kWidth;
        options.height = kHeight;
        options.fps = fps;
        output = std::make_unique<faceswap::capture::PipeWireOutput>(options);
#else
        std::fprintf(stderr, "this build has no PipeWire\n");
        return 2;
#endif
    } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the receiver listens
        faceswap::capture::StreamOptions options;
        options.url = "udp://127.0.0.1:" + std::to_string(port);
        options.width = kWidth;
        options.height = kHeight;
        options.fps = fps;
        output = std::make_unique<faceswap::capture::StreamOutput>(options);
    }
    faceswap::capture::FrameOutput& stream = *output;
    cv::Mat frame(kHeight, kWidth, CV_8UC3, cv::Scalar(90, 120, 150));
    cv::randu(frame(cv::Rect(0, 40, kWidth, kHeight - 40)), 0, 255);  // something to encode
    const auto period = std::chrono::duration<double>(1.0 / fps);
    const auto start = std::chrono::steady_clock::now();
    int number = 1;
    for (; std::chrono::steady_clock::now() - start < std::chrono::duration<double>(seconds);
         ++number) {
        draw_number(frame, number);
        {
            std::lock_guard lock(mutex);
            pushed_at[number] = faceswap::clock::now_us();
        }
        stream.push(frame);
        std::this_thread::sleep_until(start + number * period);
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));  // the last frames arrive
    const auto counters = stream.counters();
    stream.stop();
    reader.join();
    ::pclose(pipe);

    std::lock_guard lock(mutex);
    // The first second is the receiver finding the stream (it waits for a keyframe): skip it.
    const std::size_t skip = std::min(latencies_ms.size(), static_cast<std::size_t>(fps));
    const std::vector<double> steady(latencies_ms.begin() + static_cast<std::ptrdiff_t>(skip),
                                     latencies_ms.end());
    const faceswap::stats::Summary s = faceswap::stats::summarize(steady);
    std::printf(
        "%s (640x480, %.0f FPS pushed, %.0f s): %d frames pushed, %lld sent, %lld "
        "received, %zu matched\n",
        kind == "pipewire" ? "PipeWire camera, read by GStreamer's pipewiresrc"
                           : "stream output (MPEG-TS over UDP, decoded by ffmpeg)",
        fps, seconds, number - 1, static_cast<long long>(counters.sent),
        static_cast<long long>(decoded), latencies_ms.size());
    std::printf(
        "  push-to-received latency  p50 %.1f ms  p95 %.1f ms  max %.1f ms  (one frame "
        "interval: %.1f ms)\n",
        s.p50, s.p95, s.max, 1000.0 / fps);
    return steady.empty() ? 1 : 0;
}
