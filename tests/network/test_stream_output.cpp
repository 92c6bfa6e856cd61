// The MPEG-TS stream output, read back by real players on 127.0.0.1: ffmpeg decodes the frames
// (the picture matches what was pushed, with the AI-generated mark), ffprobe reads the
// provenance, and a bad address or a vanished ffmpeg is a one-line error, never a stall.
#include <catch2/catch.hpp>

#include <opencv2/imgproc.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "faceswap/capture/media_reader.h"
#include "faceswap/capture/stream_output.h"
#include "faceswap/capture/watermark.h"
#include "net_test_support.h"
#include "test_support.h"

extern char** environ;

using faceswap::capture::checked_stream_url;
using faceswap::capture::MediaError;
using faceswap::capture::StreamOptions;
using faceswap::capture::StreamOutput;
using faceswap::capture::Watermark;
using faceswap::capture::watermark_payload;

namespace {

// A UDP port on 127.0.0.1 that nothing uses right now.
int free_udp_port() {
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    socklen_t length = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    ::close(fd);
    return ntohs(address.sin_port);
}

// The 40th frame of franck.mp4 at 640x480: a real face, as the app would stream it.
cv::Mat demo_frame() {
    auto reader =
        faceswap::capture::MediaReader::open((faceswap::test::media_dir() / "franck.mp4").string());
    faceswap::capture::DecodedFrame frame;
    for (int i = 0; i < 40; ++i) REQUIRE(reader->next(frame));
    cv::Mat resized;
    cv::resize(frame.bgr, resized, {640, 480});
    return resized;
}

// ffmpeg listening on the port, decoding `count` frames of 640x480 BGR (at most 20 s).
std::vector<cv::Mat> receive_frames(int port, int count) {
    const std::string command =
        "timeout 20 ffmpeg -hide_banner -loglevel fatal -i 'udp://127.0.0.1:" +
        std::to_string(port) + "?timeout=10000000' -frames:v " + std::to_string(count) +
        " -f rawvideo -pix_fmt bgr24 -s 640x480 pipe:1";
    std::FILE* pipe = ::popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::vector<cv::Mat> frames;
    while (static_cast<int>(frames.size()) < count) {
        cv::Mat frame(480, 640, CV_8UC3);
        if (std::fread(frame.data, 1, frame.total() * 3, pipe) != frame.total() * 3) break;
        frames.push_back(frame);
    }
    ::pclose(pipe);
    return frames;
}

double mean_difference(const cv::Mat& a, const cv::Mat& b, const cv::Rect& area) {
    cv::Mat difference;
    cv::absdiff(a(area), b(area), difference);
    const cv::Scalar mean = cv::mean(difference);
    return (mean[0] + mean[1] + mean[2]) / 3;
}

// Pushes `frame` at 25 fps until `done` is ready or `seconds` pass.
template <typename Future>
void stream_until(StreamOutput& stream, const cv::Mat& frame, Future& done, double seconds) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (done.wait_for(std::chrono::milliseconds(40)) != std::future_status::ready &&
           std::chrono::steady_clock::now() < end)
        stream.push(frame);
}

}  // namespace

TEST_CASE("a stream address is checked before anything starts") {
    CHECK(checked_stream_url("udp://127.0.0.1:5000") == "udp://127.0.0.1:5000?pkt_size=1316");
    CHECK(checked_stream_url("udp://239.0.0.1:1234?ttl=2") == "udp://239.0.0.1:1234?ttl=2");
    CHECK(checked_stream_url("srt://[::1]:9000") == "srt://[::1]:9000");
    for (const char* bad :
         {"http://127.0.0.1:5000", "udp://:5000", "udp://127.0.0.1", "udp://127.0.0.1:0",
          "udp://127.0.0.1:70000", "udp://a b:5000", "127.0.0.1:5000", "udp://127.0.0.1:50x0"}) {
        INFO(bad);
        try {
            checked_stream_url(bad);
            FAIL("accepted");
        } catch (const MediaError& e) {
            CHECK_THAT(std::string(e.what()), Catch::Contains("use udp://HOST:PORT"));
        }
    }
    StreamOptions odd;
    odd.url = "udp://127.0.0.1:5000";
    odd.width = 641;
    CHECK_THROWS_WITH(StreamOutput(odd), Catch::Contains("must be even"));
}

TEST_CASE(
    "ffmpeg decodes the UDP stream: the picture pushed with the AI-generated mark and ffprobe "
    "reads its provenance") {
    const cv::Mat frame = demo_frame();
    const int port = free_udp_port();
    StreamOptions options;
    options.url = "udp://127.0.0.1:" + std::to_string(port);
    options.provenance = "faceswap test";
    options.model_id = "stream test model";
    StreamOutput stream(options);

    auto received = std::async(std::launch::async, [port] { return receive_frames(port, 30); });
    stream_until(stream, frame, received, 20);
    const std::vector<cv::Mat> frames = received.get();
    REQUIRE(frames.size() == 30);
    CHECK(stream.error().empty());

    // The mark sits in the bottom-right corner; the rest is the pushed picture (H.264 at crf 21
    // keeps it within a few levels).
    const cv::Rect picture(0, 0, 640, 400), corner(500, 440, 140, 40);
    const cv::Mat& last = frames.back();
    CHECK(mean_difference(last, frame, picture) < 4.0);
    CHECK(mean_difference(last, frame, corner) > 20.0);
    // And the invisible watermark, read from one decoded frame, names the model and this run.
    const auto reading = Watermark().detect(last);
    CHECK(reading.found);
    CHECK(reading.payload == watermark_payload("stream test model"));

    // The service description players show says what this is.
    auto probed = std::async(std::launch::async, [port] {
        std::string output;
        faceswap::test::run_command(
            "timeout 20 ffprobe -hide_banner -v error -show_entries program_tags=service_name,"
            "service_provider -of default=nw=1 'udp://127.0.0.1:" +
                std::to_string(port) + "?timeout=10000000'",
            &output);
        return output;
    });
    stream_until(stream, frame, probed, 20);
    const std::string tags = probed.get();
    CHECK_THAT(tags, Catch::Contains("service_name=AI-generated (faceswap test)"));
    CHECK_THAT(tags, Catch::Contains("service_provider=faceswap"));

    const auto counters = stream.counters();
    CHECK(counters.sent >= 30);
    stream.stop();
}

TEST_CASE("without the mark the whole picture is the one pushed") {
    const cv::Mat frame = demo_frame();
    const int port = free_udp_port();
    StreamOptions options;
    options.url = "udp://127.0.0.1:" + std::to_string(port);
    options.mark = false;
    StreamOutput stream(options);
    auto received = std::async(std::launch::async, [port] { return receive_frames(port, 10); });
    stream_until(stream, frame, received, 20);
    const auto frames = received.get();
    REQUIRE(frames.size() == 10);
    CHECK(mean_difference(frames.back(), frame, cv::Rect(0, 0, 640, 480)) < 4.0);
    // The watermark stays: --no-ai-mark turns off the visible mark only.
    const auto reading = Watermark().detect_together(frames);
    CHECK(reading.found);
    CHECK(reading.payload == watermark_payload(""));
}

TEST_CASE("camera frames shown while nothing is swapped are sent unmarked") {
    const cv::Mat frame = demo_frame();
    const int port = free_udp_port();
    StreamOptions options;
    options.url = "udp://127.0.0.1:" + std::to_string(port);
    StreamOutput stream(options);
    auto received = std::async(std::launch::async, [port] { return receive_frames(port, 10); });
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (received.wait_for(std::chrono::milliseconds(40)) != std::future_status::ready &&
           std::chrono::steady_clock::now() < end)
        stream.push_camera(frame);
    const auto frames = received.get();
    REQUIRE(frames.size() == 10);
    // No visible mark in the corner, and no watermark: nothing in these frames was generated.
    CHECK(mean_difference(frames.back(), frame, cv::Rect(0, 0, 640, 480)) < 4.0);
    CHECK_FALSE(Watermark().detect_together(frames).found);
}

TEST_CASE(
    "a stream whose ffmpeg cannot reach its address is a one-line error and push never blocks") {
    StreamOptions options;
    options.url = "udp://no-such-host.invalid:5000";
    StreamOutput stream(options);
    const cv::Mat frame(480, 640, CV_8UC3, cv::Scalar(40, 80, 120));
    const auto start = std::chrono::steady_clock::now();
    REQUIRE(faceswap::test::wait_until([&] {
        stream.push(frame);
        return !stream.error().empty();
    }));
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
    const std::string error = stream.error();
    CHECK_THAT(error, Catch::Contains("udp://no-such-host.invalid:5000") &&
                          Catch::Contains("stopped: ffmpeg"));
    CHECK(error.find('\n') == std::string::npos);
    for (int i = 0; i < 100; ++i) stream.push(frame);  // still returns at once
    stream.stop();
}

namespace {

// franck.mp4's first frames at 160x120, to find which input frame a received frame shows.
std::vector<cv::Mat> small_demo_frames(int count) {
    auto reader =
        faceswap::capture::MediaReader::open((faceswap::test::media_dir() / "franck.mp4").string());
    std::vector<cv::Mat> frames;
    faceswap::capture::DecodedFrame frame;
    while (static_cast<int>(frames.size()) < count && reader->next(frame)) {
        cv::Mat small;
        cv::resize(frame.bgr, small, {160, 120}, 0, 0, cv::INTER_AREA);
        frames.push_back(small);
    }
    return frames;
}

// Frames from `from` on, received from an output of `faceswap live --source demo`: each one
// matched to the input frame it came from shows that input outside the head, something else
// inside the face (the swap), and the mark in the corner.
void check_swapped_frames(const std::vector<cv::Mat>& frames, std::size_t from) {
    const std::vector<cv::Mat> inputs = small_demo_frames(900);
    // At 160x120: the inner face of franck.mp4 (eyes to chin), and the mark's corner.
    const cv::Rect face(68, 38, 44, 56), corner(126, 110, 34, 10);
    cv::Mat outside_mask(120, 160, CV_8U, cv::Scalar(255));
    outside_mask(cv::Rect(45, 15, 85, 95)) = 0;  // the whole head, where the blend may reach
    outside_mask(corner) = 0;
    int checked = 0;
    for (std::size_t i = from; i < frames.size(); i += 10) {
        cv::Mat small;
        cv::resize(frames[i], small, {160, 120}, 0, 0, cv::INTER_AREA);
        // The input frame it came from: the one that matches best outside the head.
        double best = 1e9;
        std::size_t best_index = 0;
        for (std::size_t k = 0; k < inputs.size(); ++k) {
            cv::Mat difference;
            cv::absdiff(small, inputs[k], difference);
            const cv::Scalar mean = cv::mean(difference, outside_mask);
            const double d = (mean[0] + mean[1] + mean[2]) / 3;
            if (d < best) best = d, best_index = k;
        }
        const cv::Mat& input = inputs[best_index];
        INFO("frame " << i << " matches input frame " << best_index
                      << " outside the head: " << best);
        CHECK(best < 4.0);
        CHECK(mean_difference(small, input, face) > best + 4.0);
        CHECK(mean_difference(small, input, corner) > 20.0);
        ++checked;
    }
    CHECK(checked == static_cast<int>((frames.size() - from + 9) / 10));
}
}  // namespace

// The headless path end to end: the demo video through the local engine and the demo model to
// a UDP stream, decoded by ffmpeg. Outside the face the picture is the input's; inside it is
// not (the swap); the mark is in the corner.
TEST_CASE("faceswap live streams swapped frames over UDP that ffmpeg decodes", "[live]") {
    const int port = free_udp_port();
    // 150 frames: the first ones show the camera while the models load (the outputs never stop).
    auto received = std::async(std::launch::async, [port] { return receive_frames(port, 150); });
    std::string output;
    const int status = faceswap::test::run_command(
        std::string("OMP_WAIT_POLICY=PASSIVE timeout 120 ") + FACESWAP_CLI +
            " live --source demo --duration 12 --stats-interval 5 --stream udp://127.0.0.1:" +
            std::to_string(port) + " 2>&1",
        &output);
    INFO(output);
    CHECK(status == 0);
    CHECK_THAT(output, Catch::Contains("swap running") && Catch::Contains("frames swapped"));
    const std::vector<cv::Mat> frames = received.get();
    REQUIRE(frames.size() == 150);

    check_swapped_frames(frames, 100);
    // The swapped frames carry the invisible watermark (its payload is that process's own).
    CHECK(Watermark().detect_together({frames.begin() + 100, frames.end()}).found);
}

// The PipeWire camera: faceswap live publishes the node, GStreamer's pipewiresrc (a real
// PipeWire client, as browsers and OBS are) reads 150 frames from it.
TEST_CASE("faceswap live publishes a PipeWire camera that pipewiresrc reads", "[live][pipewire]") {
    faceswap::test::PipeWireSession session;
    auto live = std::async(std::launch::async, [&] {
        std::string output;
        const int status = faceswap::test::run_command(
            session.env() + " OMP_WAIT_POLICY=PASSIVE timeout 120 " + FACESWAP_CLI +
                " live --source demo --duration 14 --stats-interval 5 --pipewire 2>&1",
            &output);
        return std::pair{status, output};
    });
    REQUIRE(faceswap::test::wait_until(
        [&] { return session.listing("Node").find("faceswap-camera") != std::string::npos; },
        std::chrono::seconds(20)));
    const std::string raw = (std::filesystem::temp_directory_path() /
                             ("pipewire-frames-" + std::to_string(::getpid()) + ".raw"))
                                .string();
    const int read = faceswap::test::run_command(
        session.env() +
            " timeout 40 gst-launch-1.0 -q pipewiresrc target-object=faceswap-camera "
            "num-buffers=150 ! videoconvert ! video/x-raw,format=BGR,width=640,height=480 ! "
            "filesink location=" +
            raw + " 2>&1",
        nullptr);
    const auto [status, output] = live.get();
    INFO(output);
    CHECK(read == 0);
    CHECK(status == 0);
    CHECK_THAT(output, Catch::Contains("PipeWire camera 'faceswap camera'"));
    std::vector<cv::Mat> frames;
    {
        std::ifstream in(raw, std::ios::binary);
        while (true) {
            cv::Mat frame(480, 640, CV_8UC3);
            if (!in.read(reinterpret_cast<char*>(frame.data), frame.total() * 3)) break;
            frames.push_back(frame);
        }
    }
    std::filesystem::remove(raw);
    REQUIRE(frames.size() == 150);
    check_swapped_frames(frames, 100);
}
