#include "result_marking.h"

#include "faceswap/capture/watermark.h"

namespace faceswap::server {

std::uint32_t result_watermark_payload(const std::string& model, const std::string& version) {
    return capture::watermark_payload(model + "@" + version);
}

std::string watermark_payload_text(std::uint32_t payload) {
    return capture::watermark_payload_text(payload);
}

void mark_result(std::vector<std::uint8_t>& bgr, int width, int height, std::uint32_t payload) {
    if (bgr.size() != static_cast<std::size_t>(width) * height * 3) return;
    thread_local const capture::Watermark watermark;  // caches the frame-sized pattern
    cv::Mat frame(height, width, CV_8UC3, bgr.data());
    watermark.embed(frame, payload);
}

}  // namespace faceswap::server
