// SwapModel (loading a trained autoencoder) and FaceSwapper (the per-frame swap pipeline:
// analyse -> aligned crops -> encode/decode -> masks and colour -> paste back).
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <chrono>
#include <cstring>
#include <filesystem>

#include "device.h"
#include "faceswap/swap.h"
#include "image_ops.h"
#include "model_file.h"
#include "swap_merge.h"
#include "swap_net.h"

namespace faceswap {

SwapDirection parse_swap_direction(const std::string& text) {
    if (text == "a2b") return SwapDirection::kAToB;
    if (text == "b2a") return SwapDirection::kBToA;
    throw Error(ErrorCode::kInvalidArgument,
                "unknown swap direction '" + text + "'; use 'a2b' or 'b2a'");
}

struct SwapModel::Impl {
    c10::Device device{c10::kCPU};
    std::shared_ptr<detail::SwapAutoencoder> net;
    SwapModelInfo info;
};

SwapModel::SwapModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SwapModel::~SwapModel() = default;
const SwapModelInfo& SwapModel::info() const { return impl_->info; }

namespace detail {

SwapModelInfo swap_model_info(const ModelMetadata& metadata, const SwapNetShape& shape,
                              const std::string& path) {
    SwapModelInfo info;
    info.path = path;
    info.resolution = shape.resolution;
    info.architecture = shape.describe();
    info.format_version = metadata.format_version;
    auto get = [&](const char* key) {
        auto it = metadata.attributes.find(key);
        return it == metadata.attributes.end() ? std::string() : it->second;
    };
    try {
        info.coverage = std::stof(get("coverage"));
        info.training_steps = std::stoll(get("training_steps"));
        info.last_loss = get("last_loss").empty() ? 0.0 : std::stod(get("last_loss"));
    } catch (const std::exception&) {
        throw Error(ErrorCode::kModelCorrupt,
                    path + ": swap model metadata (coverage, training_steps) is damaged");
    }
    info.identity_a = get("identity_a");
    info.identity_b = get("identity_b");
    return info;
}

}  // namespace detail

std::shared_ptr<const SwapModel> SwapModel::load(const std::string& path,
                                                 const EngineConfig& config) {
    if (!std::filesystem::is_regular_file(path))
        throw Error(ErrorCode::kModelMissing,
                    "swap model " + path +
                        " not found; train one with 'faceswap train' or use the demo model in "
                        "resources/models/");
    auto impl = std::make_unique<Impl>();
    impl->device = detail::select_device(config.device, config.cpu_threads);
    const detail::ModelMetadata metadata =
        detail::read_metadata(detail::SwapAutoencoder::kKind, path);
    const detail::SwapNetShape shape =
        detail::SwapNetShape::from_attributes(metadata.attributes, path);
    impl->info = detail::swap_model_info(metadata, shape, path);
    impl->net = std::make_shared<detail::SwapAutoencoder>(shape);
    detail::load_module(*impl->net, detail::SwapAutoencoder::kKind, path);
    impl->net->to(impl->device);
    if (impl->device.is_cpu()) {
        // oneDNN runs the decoders' convolutions ~1.5x faster on channels-last tensors; the
        // encoder (3-channel input) is faster as it is. Generation converts the code to match.
        for (auto& parameter : impl->net->named_parameters())
            if (parameter.value().dim() == 4 && parameter.key().rfind("decoder", 0) == 0)
                parameter.value().set_data(
                    parameter.value().contiguous(at::MemoryFormat::ChannelsLast));
    }
    impl->net->eval();
    return std::shared_ptr<const SwapModel>(new SwapModel(std::move(impl)));
}

// ---------------------------------------------------------------------------------------------
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

float face_area(const Face& f) { return f.box.width * f.box.height; }

}  // namespace

struct FaceSwapper::Impl {
    std::shared_ptr<const SwapModel> swap_model;
    EngineConfig config;
    SwapConfig swap_config;
    FaceAnalyzer analyzer;

    Impl(std::shared_ptr<const FaceModels> face_models, std::shared_ptr<const SwapModel> model,
         const EngineConfig& engine_config, const SwapConfig& swap)
        : swap_model(std::move(model)),
          config(aligned_for(engine_config, *swap_model)),
          swap_config(swap),
          analyzer(std::move(face_models), config) {}

    // The analyzer must align faces exactly as the model's training faces were aligned.
    static EngineConfig aligned_for(EngineConfig config, const SwapModel& model) {
        config.aligned_size = model.info().resolution;
        config.coverage = model.info().coverage;
        return config;
    }

    void swap_faces(at::Tensor& canvas, const std::vector<Face>& faces, SwapTimings& timings,
                    std::vector<detail::PixelRect>& changed);
};

void FaceSwapper::Impl::swap_faces(at::Tensor& canvas, const std::vector<Face>& faces,
                                   SwapTimings& timings,
                                   std::vector<detail::PixelRect>& changed) {
    const auto& model = swap_model->impl();
    const int size = swap_model->info().resolution;
    auto start = Clock::now();
    std::vector<Affine2x3> to_image;
    std::vector<Landmarks68> crop_landmarks;
    for (const Face& f : faces) {
        to_image.push_back(f.aligned_to_image);
        crop_landmarks.push_back(transform_landmarks(f.landmarks, f.image_to_aligned));
    }
    const at::Tensor crops = detail::aligned_crops(canvas, to_image, size).div_(255.f);
    at::Tensor code = model.net->encode(crops);
    if (code.is_cpu()) code = code.contiguous(at::MemoryFormat::ChannelsLast);  // see load()
    detail::DecodedFace decoded = swap_config.direction == SwapDirection::kAToB
                                      ? model.net->decode_b(code)
                                      : model.net->decode_a(code);
    decoded.rgb = decoded.rgb.contiguous();
    decoded.mask = decoded.mask.contiguous();
    timings.generate_ms = ms_since(start);

    start = Clock::now();
    const at::Tensor hull = detail::face_hull_masks(crop_landmarks, size, canvas.device());
    at::Tensor face = decoded.rgb;
    if (swap_config.color_transfer == ColorTransfer::kRct)
        face = detail::reinhard_color_transfer(face, crops, hull);
    at::Tensor mask = swap_config.use_learned_mask ? at::minimum(hull, decoded.mask) : hull;
    mask = detail::erode_and_feather(mask, static_cast<int>(swap_config.mask_erosion * size),
                                     static_cast<int>(swap_config.mask_feather * size));

    const int width = static_cast<int>(canvas.size(3)), height = static_cast<int>(canvas.size(2));
    for (size_t i = 0; i < faces.size(); ++i) {
        const detail::PixelRect rect =
            detail::crop_footprint(faces[i].aligned_to_image, size, width, height);
        if (rect.width < 2 || rect.height < 2) continue;
        // Face and mask together, so one grid_sample moves both into the frame.
        const at::Tensor both = at::cat({face[i] * 255.f, mask[i]}, 0).unsqueeze(0);
        const at::Tensor in_frame = detail::crop_to_frame(both, faces[i].image_to_aligned, rect);
        at::Tensor roi = canvas.narrow(2, rect.y, rect.height).narrow(3, rect.x, rect.width);
        at::Tensor generated = in_frame.narrow(1, 0, 3);
        const at::Tensor alpha = in_frame.narrow(1, 3, 1);
        if (swap_config.poisson_blend)
            generated = detail::poisson_blend(generated, roi, alpha, 60);
        roi.copy_(roi + (generated - roi) * alpha);
        changed.push_back(rect);
    }
    timings.merge_ms = ms_since(start);
}

FaceSwapper::FaceSwapper(std::shared_ptr<const FaceModels> face_models,
                         std::shared_ptr<const SwapModel> swap_model, const EngineConfig& config,
                         const SwapConfig& swap_config)
    : impl_(std::make_unique<Impl>(std::move(face_models), std::move(swap_model), config,
                                   swap_config)) {}
FaceSwapper::~FaceSwapper() = default;
FaceSwapper::FaceSwapper(FaceSwapper&&) noexcept = default;
FaceSwapper& FaceSwapper::operator=(FaceSwapper&&) noexcept = default;

void FaceSwapper::set_swap_config(const SwapConfig& swap_config) {
    impl_->swap_config = swap_config;
}
void FaceSwapper::reset() { impl_->analyzer.reset(); }

SwapResult FaceSwapper::process(const FrameView& frame, double timestamp_s) {
    Impl& s = *impl_;
    const auto total_start = Clock::now();
    SwapResult result;
    result.analysis = s.analyzer.analyze(frame, CropOutput::kNone, timestamp_s);
    result.timings.analysis = result.analysis.timings;
    result.width = frame.width;
    result.height = frame.height;
    result.format = frame.format;
    const size_t row_bytes = static_cast<size_t>(frame.width) * 3;
    result.pixels.resize(row_bytes * frame.height);
    for (int y = 0; y < frame.height; ++y)
        std::memcpy(result.pixels.data() + y * row_bytes, frame.data + y * frame.stride_bytes,
                    row_bytes);

    std::vector<Face> faces = result.analysis.faces;
    if (s.swap_config.largest_face_only && faces.size() > 1) {
        auto largest = std::max_element(faces.begin(), faces.end(), [](auto& a, auto& b) {
            return face_area(a) < face_area(b);
        });
        faces = {*largest};
    }
    if (faces.empty()) {
        result.timings.total_ms = ms_since(total_start);
        return result;
    }
    try {
        at::NoGradGuard no_grad;
        at::InferenceMode inference;
        // The analyzer's uploaded frame is scratch until its next call: paste into it.
        at::Tensor canvas = detail::uploaded_frame(s.analyzer);
        std::vector<detail::PixelRect> changed;
        s.swap_faces(canvas, faces, result.timings, changed);

        const auto start = Clock::now();
        const bool bgr = frame.format == PixelFormat::BGR24;
        for (const detail::PixelRect& r : changed) {
            at::Tensor roi = canvas.narrow(2, r.y, r.height).narrow(3, r.x, r.width)[0];
            if (bgr) roi = roi.flip(0);
            const at::Tensor bytes =
                roi.round().clamp(0, 255).to(at::kByte).permute({1, 2, 0}).contiguous().cpu();
            const std::uint8_t* src = bytes.data_ptr<std::uint8_t>();
            for (int y = 0; y < r.height; ++y)
                std::memcpy(result.pixels.data() + (r.y + y) * row_bytes + r.x * 3,
                            src + static_cast<size_t>(y) * r.width * 3,
                            static_cast<size_t>(r.width) * 3);
        }
        result.timings.merge_ms += ms_since(start);
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        std::string what = e.what();
        throw Error(ErrorCode::kInternal, "face swap failed: " + what.substr(0, what.find('\n')));
    }
    result.timings.total_ms = ms_since(total_start);
    return result;
}

}  // namespace faceswap
