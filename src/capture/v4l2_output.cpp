#include "faceswap/capture/v4l2_output.h"

#include <fcntl.h>
#include <linux/videodev2.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "faceswap/capture/media_reader.h"
#include "faceswap/capture/watermark.h"
#include "paced_sender.h"

namespace faceswap::capture {
namespace {

constexpr const char* kLoopbackDriver = "v4l2 loopback";

std::string text_of(const __u8* bytes, std::size_t size) {
    const auto* text = reinterpret_cast<const char*>(bytes);
    return std::string(text, strnlen(text, size));
}

// The device's capabilities, or false when it is not a V4L2 device.
bool query(int fd, v4l2_capability& capability) {
    std::memset(&capability, 0, sizeof capability);
    return ::ioctl(fd, VIDIOC_QUERYCAP, &capability) == 0;
}

unsigned char clamp_byte(int value) {
    return static_cast<unsigned char>(std::clamp(value, 0, 255));
}

}  // namespace

std::vector<LoopbackDevice> find_loopback_devices(const std::string& root) {
    std::vector<LoopbackDevice> devices;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind("video", 0) != 0) continue;
        const int fd = ::open(entry.path().c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) continue;
        v4l2_capability capability;
        if (query(fd, capability) &&
            text_of(capability.driver, sizeof capability.driver) == kLoopbackDriver)
            devices.push_back(
                {entry.path().string(), text_of(capability.card, sizeof capability.card)});
        ::close(fd);
    }
    std::sort(devices.begin(), devices.end(),
              [](const auto& a, const auto& b) { return a.path < b.path; });
    return devices;
}

std::string no_loopback_device_message() {
    return "no v4l2loopback device: install v4l2loopback-dkms and create one with 'sudo modprobe "
           "v4l2loopback exclusive_caps=1 card_label=\"faceswap camera\"', then try again";
}

void bgr_to_yuyv(const cv::Mat& bgr, std::vector<unsigned char>& yuyv) {
    yuyv.resize(static_cast<std::size_t>(bgr.cols) * bgr.rows * 2);
    unsigned char* out = yuyv.data();
    for (int y = 0; y < bgr.rows; ++y) {
        const unsigned char* row = bgr.ptr<unsigned char>(y);
        for (int x = 0; x + 1 < bgr.cols; x += 2, out += 4) {
            int luma[2], u = 0, v = 0;
            for (int i = 0; i < 2; ++i) {
                const int b = row[3 * (x + i)], g = row[3 * (x + i) + 1], r = row[3 * (x + i) + 2];
                luma[i] = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16;
                u += ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128;
                v += ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128;
            }
            out[0] = clamp_byte(luma[0]);
            out[1] = clamp_byte(u / 2);
            out[2] = clamp_byte(luma[1]);
            out[3] = clamp_byte(v / 2);
        }
    }
}

struct V4l2Output::Shared {
    std::string device;
    int fd = -1;
    std::vector<unsigned char> yuyv;
    std::unique_ptr<PacedSender> sender;
    bool stopped = false;
};

V4l2Output::V4l2Output(const VirtualCameraOptions& options) : shared_(std::make_unique<Shared>()) {
    Shared& s = *shared_;
    if (options.width <= 0 || options.height <= 0 || options.width % 2)
        throw MediaError("virtual camera size: the width must be even");
    s.device = options.device;
    if (s.device.empty()) {
        const auto devices = find_loopback_devices();
        if (devices.empty()) throw MediaError(no_loopback_device_message());
        s.device = devices.front().path;
    }
    s.fd = ::open(s.device.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (s.fd < 0)
        throw MediaError("cannot open the virtual camera " + s.device + ": " +
                         std::strerror(errno) +
                         (errno == ENOENT ? "; " + no_loopback_device_message() : ""));
    v4l2_capability capability;
    if (!query(s.fd, capability) ||
        text_of(capability.driver, sizeof capability.driver) != kLoopbackDriver) {
        ::close(s.fd);
        throw MediaError(s.device +
                         " is not a v4l2loopback device (a real camera cannot be "
                         "written to); " +
                         no_loopback_device_message());
    }
    v4l2_format format{};
    format.type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
    format.fmt.pix.width = static_cast<__u32>(options.width);
    format.fmt.pix.height = static_cast<__u32>(options.height);
    format.fmt.pix.pixelformat = V4L2_PIX_FMT_YUYV;
    format.fmt.pix.field = V4L2_FIELD_NONE;
    format.fmt.pix.bytesperline = static_cast<__u32>(options.width * 2);
    format.fmt.pix.sizeimage = static_cast<__u32>(options.width * options.height * 2);
    format.fmt.pix.colorspace = V4L2_COLORSPACE_SRGB;
    if (::ioctl(s.fd, VIDIOC_S_FMT, &format) != 0 ||
        format.fmt.pix.pixelformat != V4L2_PIX_FMT_YUYV ||
        format.fmt.pix.width != static_cast<__u32>(options.width) ||
        format.fmt.pix.height != static_cast<__u32>(options.height)) {
        const std::string why = std::strerror(errno);
        ::close(s.fd);
        throw MediaError(s.device + " does not take " + std::to_string(options.width) + "x" +
                         std::to_string(options.height) + " YUYV (" + why +
                         "): a program reading it may have fixed another format; close it, or "
                         "load v4l2loopback with exclusive_caps=1");
    }
    s.sender = std::make_unique<PacedSender>(
        options.width, options.height, options.fps, options.mark,
        watermark_payload(options.model_id), [&s](const cv::Mat& frame) {
            bgr_to_yuyv(frame, s.yuyv);
            const ssize_t n = ::write(s.fd, s.yuyv.data(), s.yuyv.size());
            if (n == static_cast<ssize_t>(s.yuyv.size())) return std::string();
            // A full buffer (a reader that does not keep up) loses the frame, never the swap.
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) return std::string();
            return "the virtual camera " + s.device +
                   " stopped: " + (n < 0 ? std::string(std::strerror(errno)) : "short write");
        });
}

V4l2Output::~V4l2Output() {
    stop();
}

void V4l2Output::push(const cv::Mat& bgr) {
    shared_->sender->push(bgr);
}

void V4l2Output::push_camera(const cv::Mat& bgr) {
    shared_->sender->push(bgr, /*generated=*/false);
}
std::string V4l2Output::error() const {
    return shared_->sender->error();
}
StreamCounters V4l2Output::counters() const {
    return shared_->sender->counters();
}
const std::string& V4l2Output::device() const {
    return shared_->device;
}

void V4l2Output::stop() {
    if (shared_->stopped) return;
    shared_->stopped = true;
    shared_->sender->stop();
    ::close(shared_->fd);
}

}  // namespace faceswap::capture

#ifdef FACESWAP_HAVE_PIPEWIRE
#include "faceswap/capture/pipewire_output.h"
#endif

namespace faceswap::capture {

std::unique_ptr<FrameOutput> open_virtual_camera(int width, int height, double fps, bool mark,
                                                 const std::string& model_id) {
    // A loopback device exists only when the user made one for this: it comes first (call
    // programs read /dev/video*); PipeWire next (browsers and OBS).
    if (!find_loopback_devices().empty()) {
        VirtualCameraOptions options;
        options.width = width;
        options.height = height;
        options.fps = fps;
        options.mark = mark;
        options.model_id = model_id;
        return std::make_unique<V4l2Output>(options);
    }
#ifdef FACESWAP_HAVE_PIPEWIRE
    try {
        PipeWireCameraOptions options;
        options.width = width;
        options.height = height;
        options.fps = fps;
        options.mark = mark;
        options.model_id = model_id;
        return std::make_unique<PipeWireOutput>(options);
    } catch (const MediaError& e) {
        throw MediaError("no virtual camera: " + std::string(e.what()) + "; and " +
                         no_loopback_device_message());
    }
#else
    throw MediaError("no virtual camera: " + no_loopback_device_message());
#endif
}

}  // namespace faceswap::capture
