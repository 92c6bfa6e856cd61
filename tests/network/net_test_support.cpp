#include "net_test_support.h"

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

bool wait_until(const std::function<bool()>& predicate, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!predicate()) {
        if (std::chrono::steady_clock::now() > deadline) return predicate();
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
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
