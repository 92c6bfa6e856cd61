// Maps face-api's TensorFlow.js tensors onto the engine's modules, converting TF layouts
// (HWIO convolutions, HWC1 depthwise filters, [in, out] dense weights) to PyTorch's.
#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <filesystem>
#include <map>
#include <regex>

#include "face_nets.h"
#include "faceswap/engine.h"
#include "faceswap/weights_import.h"
#include "model_file.h"
#include "recognition_net.h"

namespace faceswap {
namespace {

namespace fs = std::filesystem;

enum class Layout { kAsIs, kConv, kDepthwise, kDenseTransposed, kDropBatch };

struct Source {
    std::string tf_name;
    Layout layout;
};

// Which TF tensor feeds each SSD buffer (names as registered in SsdMobileNetV1).
Source ssd_source(const std::string& name) {
    std::smatch m;
    static const std::regex conv0(R"(conv0_(weight|bias))");
    static const std::regex dw(R"(dw(\d+)_(weight|gamma|beta|mean|variance))");
    static const std::regex pw(R"(pw(\d+)_(weight|bias))");
    static const std::regex extra(R"(extra(\d+)_(weight|bias))");
    static const std::regex predictor(R"((box|cls)(\d+)_(weight|bias))");
    auto conv_pair = [](const std::string& prefix, const std::string& part) {
        return part == "weight" ? Source{prefix + "/weights", Layout::kConv}
                                : Source{prefix + "/convolution_bn_offset", Layout::kAsIs};
    };
    if (std::regex_match(name, m, conv0)) return conv_pair("MobilenetV1/Conv2d_0_pointwise", m[1]);
    if (std::regex_match(name, m, pw))
        return conv_pair("MobilenetV1/Conv2d_" + m[1].str() + "_pointwise", m[2]);
    if (std::regex_match(name, m, extra))
        return conv_pair("Prediction/Conv2d_" + m[1].str() + "_pointwise", m[2]);
    if (std::regex_match(name, m, dw)) {
        const std::string prefix = "MobilenetV1/Conv2d_" + m[1].str() + "_depthwise";
        const std::string part = m[2];
        if (part == "weight") return {prefix + "/depthwise_weights", Layout::kDepthwise};
        const std::map<std::string, std::string> batch_norm = {{"gamma", "gamma"},
                                                               {"beta", "beta"},
                                                               {"mean", "moving_mean"},
                                                               {"variance", "moving_variance"}};
        return {prefix + "/BatchNorm/" + batch_norm.at(part), Layout::kAsIs};
    }
    if (std::regex_match(name, m, predictor)) {
        const std::string prefix = "Prediction/BoxPredictor_" + m[2].str() +
                                   (m[1] == "box" ? "/BoxEncodingPredictor" : "/ClassPredictor");
        return m[3] == "weight" ? Source{prefix + "/weights", Layout::kConv}
                                : Source{prefix + "/biases", Layout::kAsIs};
    }
    if (name == "priors") return {"Output/extra_dim", Layout::kDropBatch};
    throw Error(ErrorCode::kInternal, "no TF source for SSD tensor " + name);
}

// Which TF tensor feeds each landmark-net buffer (names as registered in LandmarkNet68).
Source landmark_source(const std::string& name) {
    std::smatch m;
    static const std::regex block(R"(dense(\d)_conv(\d)_(weight|bias|depthwise|pointwise))");
    if (std::regex_match(name, m, block)) {
        const std::string prefix = "dense" + m[1].str() + "/conv" + m[2].str();
        const std::string part = m[3];
        if (part == "weight") return {prefix + "/filters", Layout::kConv};
        if (part == "bias") return {prefix + "/bias", Layout::kAsIs};
        if (part == "depthwise") return {prefix + "/depthwise_filter", Layout::kDepthwise};
        return {prefix + "/pointwise_filter", Layout::kConv};
    }
    if (name == "fc_weight") return {"fc/weights", Layout::kDenseTransposed};
    if (name == "fc_bias") return {"fc/bias", Layout::kAsIs};
    throw Error(ErrorCode::kInternal, "no TF source for landmark tensor " + name);
}

// Which TF tensor feeds each recognition-net buffer (names as registered in FaceRecognitionNet):
// STAGE[_convK]_{filters,bias,scale_weights,scale_biases} <- STAGE[/convK]/{conv,scale}/...
Source recognition_source(const std::string& name) {
    std::smatch m;
    static const std::regex layer(R"((conv\d+_(?:down_out|down|\d))(?:_(conv[12]))?)"
                                  R"(_(filters|bias|scale_weights|scale_biases))");
    if (std::regex_match(name, m, layer)) {
        const std::string prefix = m[1].str() + (m[2].matched ? "/" + m[2].str() : "");
        const std::string part = m[3];
        if (part == "filters") return {prefix + "/conv/filters", Layout::kConv};
        if (part == "bias") return {prefix + "/conv/bias", Layout::kAsIs};
        if (part == "scale_weights") return {prefix + "/scale/weights", Layout::kAsIs};
        return {prefix + "/scale/biases", Layout::kAsIs};
    }
    if (name == "fc") return {"fc", Layout::kDenseTransposed};
    throw Error(ErrorCode::kInternal, "no TF source for recognition tensor " + name);
}

at::Tensor to_torch_layout(const TfjsTensor& tf, Layout layout) {
    at::Tensor t =
        at::from_blob(const_cast<float*>(tf.values.data()), at::IntArrayRef(tf.shape), at::kFloat)
            .clone();
    switch (layout) {
        case Layout::kAsIs:
            return t;
        case Layout::kConv:
            return t.dim() == 4 ? t.permute({3, 2, 0, 1}).contiguous() : t;
        case Layout::kDepthwise:
            return t.dim() == 4 ? t.permute({2, 3, 0, 1}).contiguous() : t;
        case Layout::kDenseTransposed:
            return t.dim() == 2 ? t.t().contiguous() : t;
        case Layout::kDropBatch:
            return t.dim() == 3 ? t.squeeze(0) : t;
    }
    return t;
}

template <typename SourceFn>
void convert(torch::nn::Module& module, const std::string& kind, const fs::path& manifest,
             SourceFn source_of, const fs::path& out) {
    std::map<std::string, const TfjsTensor*> by_name;
    const auto tensors = read_tfjs_weights(manifest.string());
    for (const auto& t : tensors) by_name[t.name] = &t;

    at::NoGradGuard no_grad;
    for (auto& item : module.named_buffers()) {
        const Source source = source_of(item.key());
        const auto found = by_name.find(source.tf_name);
        if (found == by_name.end())
            throw Error(ErrorCode::kWeightsInvalid,
                        manifest.string() + ": tensor '" + source.tf_name + "' is missing");
        const at::Tensor value = to_torch_layout(*found->second, source.layout);
        if (value.sizes() != item.value().sizes())
            throw Error(ErrorCode::kWeightsInvalid,
                        manifest.string() + ": tensor '" + source.tf_name + "' has shape " +
                            detail::shape_string(found->second->shape) + ", which does not fit " +
                            detail::shape_string(item.value().sizes()));
        item.value().copy_(value);
    }
    detail::ModelMetadata metadata;
    metadata.kind = kind;
    metadata.source = "@vladmandic/face-api@1.7.15 " + manifest.filename().string();
    detail::save_module(module, metadata, out.string());
}

}  // namespace

void import_face_api_weights(const std::string& face_api_model_dir, const std::string& out_dir) {
    const fs::path in(face_api_model_dir);
    const fs::path out(out_dir);
    std::error_code ec;
    fs::create_directories(out, ec);
    if (ec) throw Error(ErrorCode::kInternal, "cannot create " + out_dir + ": " + ec.message());

    detail::SsdMobileNetV1 detector;
    convert(detector, detail::SsdMobileNetV1::kKind,
            in / "ssd_mobilenetv1_model-weights_manifest.json", ssd_source,
            out / "ssd_mobilenetv1.fsmodel");
    detail::LandmarkNet68 landmarks;
    convert(landmarks, detail::LandmarkNet68::kKind,
            in / "face_landmark_68_model-weights_manifest.json", landmark_source,
            out / "landmarks68.fsmodel");
    detail::FaceRecognitionNet recognition;
    convert(recognition, detail::FaceRecognitionNet::kKind,
            in / "face_recognition_model-weights_manifest.json", recognition_source,
            out / "face_recognition.fsmodel");
}

}  // namespace faceswap
