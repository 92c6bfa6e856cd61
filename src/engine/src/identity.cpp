// IdentityEmbedder: face crops as face-api cuts them, through the face recognition net.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <torch/cuda.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <thread>

#include "device.h"
#include "faceswap/identity.h"
#include "image_ops.h"
#include "model_file.h"
#include "recognition_net.h"

namespace faceswap {

struct IdentityEmbedder::Impl {
    at::Device device{at::kCPU};
    int max_frame_side = 0;
    int cpu_threads = 0;  // EngineConfig::cpu_threads
    detail::FaceRecognitionNet net;
};

IdentityEmbedder::IdentityEmbedder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
IdentityEmbedder::~IdentityEmbedder() = default;

std::string IdentityEmbedder::device_name() const {
    return impl_->device.is_cuda() ? "cuda" : "cpu";
}

std::shared_ptr<const IdentityEmbedder> IdentityEmbedder::load(const EngineConfig& config) {
    config.validate();
    auto impl = std::make_unique<Impl>();
    impl->max_frame_side = config.max_frame_side;
    // The same device rule as FaceModels::load, so both nets see frames on one device.
    impl->device = detail::select_device(config.device);
    impl->cpu_threads = config.cpu_threads;

    detail::load_module(
        impl->net, detail::FaceRecognitionNet::kKind,
        (std::filesystem::path(config.model_dir) / "face_recognition.fsmodel").string());
    impl->net.to(impl->device);
    impl->net.prepare_for_inference();
    return std::shared_ptr<const IdentityEmbedder>(new IdentityEmbedder(std::move(impl)));
}

namespace {

// face-api's toBatchTensor(150, centred): pad the crop to a square with zeros (the odd pixel
// after), then TF resizeBilinear without half-pixel centres, whose source index is
// dst * in / out clamped at the last pixel; grid_sample with align_corners and border
// padding computes exactly that on the padded square.
at::Tensor recognition_input(const at::Tensor& rgb, const detail::CropRect& c) {
    const at::Tensor region = rgb.narrow(2, c.y, c.height).narrow(3, c.x, c.width);
    const int diff = std::abs(c.width - c.height);
    const int after = static_cast<int>(std::floor(diff * 0.5 + 0.5));  // JS Math.round
    const int before = diff - after;
    const bool pad_width = c.height > c.width;
    const at::Tensor square =
        at::constant_pad_nd(region,
                            pad_width ? std::vector<int64_t>{before, after, 0, 0}
                                      : std::vector<int64_t>{0, 0, before, after},
                            0);
    const int side = std::max(c.width, c.height);
    constexpr int size = detail::kRecognitionInputSize;
    if (side == size) return square;
    const auto options = at::TensorOptions(rgb.device()).dtype(at::kDouble);
    const at::Tensor steps =
        (at::arange(size, options) * (static_cast<double>(side) / size) * (2.0 / (side - 1)) - 1.0)
            .to(at::kFloat);
    const at::Tensor grid = at::stack({steps.view({1, size}).expand({size, size}),
                                       steps.view({size, 1}).expand({size, size})},
                                      2)
                                .unsqueeze(0);
    return at::grid_sampler(square, grid, /*bilinear*/ 0, /*border*/ 1, /*align_corners=*/true);
}

std::array<double, 2> centre(const Landmarks68& p, int first, int last) {
    double x = 0, y = 0;
    for (int i = first; i < last; ++i) x += p[i].x, y += p[i].y;
    return {x / (last - first), y / (last - first)};
}

}  // namespace

std::vector<FaceDescriptor> IdentityEmbedder::embed_boxes(const FrameView& frame,
                                                          const std::vector<Box>& boxes) const {
    detail::use_cpu_threads(impl_->cpu_threads);
    std::vector<FaceDescriptor> descriptors(boxes.size(), FaceDescriptor{});
    if (boxes.empty()) return descriptors;
    at::NoGradGuard no_grad;
    at::InferenceMode inference;
    try {
        detail::FrameUploader uploader;
        const at::Tensor& rgb = uploader.upload(frame, impl_->device, impl_->max_frame_side);
        std::vector<at::Tensor> inputs;
        std::vector<size_t> which;
        for (size_t i = 0; i < boxes.size(); ++i) {
            detail::CropRect rect;
            if (!detail::to_crop_rect(boxes[i], frame.width, frame.height, &rect)) continue;
            inputs.push_back(recognition_input(rgb, rect));
            which.push_back(i);
        }
        if (inputs.empty()) return descriptors;
        const at::Tensor out = impl_->net.forward(at::cat(inputs, 0)).to(at::kCPU).contiguous();
        for (size_t j = 0; j < which.size(); ++j) {
            const float* values = out[static_cast<int64_t>(j)].data_ptr<float>();
            std::copy(values, values + kDescriptorSize, descriptors[which[j]].begin());
        }
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        const std::string what = e.what();
        throw Error(ErrorCode::kInternal,
                    "identity embedding failed: " + what.substr(0, what.find('\n')));
    }
    return descriptors;
}

std::vector<FaceDescriptor> IdentityEmbedder::embed(const FrameView& frame,
                                                    const std::vector<Face>& faces) const {
    std::vector<Box> boxes;
    for (const Face& face : faces)
        boxes.push_back(identity_crop_box(face, frame.width, frame.height));
    return embed_boxes(frame, boxes);
}

Box identity_crop_box(const Face& face, int image_width, int image_height) {
    detail::CropRect crop;
    if (!detail::to_crop_rect(face.box, image_width, image_height, &crop)) return {};
    // face-api places landmarks by the unfloored box corner although its landmark net saw the
    // floored crop (see test_golden); shift ours alike so that the floors below land alike.
    const double shift_x = double(face.box.x) - crop.x;
    const double shift_y = double(face.box.y) - crop.y;
    // In double, as face-api computes in JavaScript numbers.
    const Landmarks68& p = face.raw_landmarks;
    auto [lx, ly] = centre(p, 36, 42);
    auto [rx, ry] = centre(p, 42, 48);
    auto [mx, my] = centre(p, 48, 68);
    lx += shift_x, rx += shift_x, mx += shift_x;
    ly += shift_y, ry += shift_y, my += shift_y;
    const double eye_to_mouth = (std::hypot(mx - lx, my - ly) + std::hypot(mx - rx, my - ry)) / 2;
    const double size = std::floor(eye_to_mouth / 0.45);
    const double x = std::floor(std::max(0.0, (lx + rx + mx) / 3 - 0.5 * size));
    const double y = std::floor(std::max(0.0, (ly + ry + my) / 3 - 0.43 * size));
    // face-api caps the size by the landmark crop's dimensions plus the corner (see header).
    const double width = std::min({size, crop.width + x, image_width - x});
    const double height = std::min({size, crop.height + y, image_height - y});
    if (!(width >= 1 && height >= 1)) return {};
    return {static_cast<float>(x), static_cast<float>(y), static_cast<float>(std::floor(width)),
            static_cast<float>(std::floor(height))};
}

float descriptor_distance(const FaceDescriptor& a, const FaceDescriptor& b) {
    double sum = 0;
    for (int i = 0; i < kDescriptorSize; ++i) sum += double(a[i] - b[i]) * (a[i] - b[i]);
    return static_cast<float>(std::sqrt(sum));
}

FaceDescriptor mean_descriptor(const std::vector<FaceDescriptor>& descriptors) {
    if (descriptors.empty())
        throw Error(ErrorCode::kInvalidArgument, "mean_descriptor needs at least one descriptor");
    std::array<double, kDescriptorSize> sum{};
    for (const auto& d : descriptors)
        for (int i = 0; i < kDescriptorSize; ++i) sum[i] += d[i];
    FaceDescriptor mean;
    for (int i = 0; i < kDescriptorSize; ++i)
        mean[i] = static_cast<float>(sum[i] / descriptors.size());
    return mean;
}

}  // namespace faceswap
