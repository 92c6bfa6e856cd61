// SwapModel (loading a trained autoencoder) and FaceSwapper (the per-frame swap pipeline:
// analyse -> aligned crops -> encode/decode -> masks and colour -> paste back).
#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <torch/nn/module.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <unordered_map>

#include "batching.h"
#include "device.h"
#include "expression_warp.h"
#include "face_models_impl.h"
#include "faceswap/clock.h"
#include "faceswap/identity.h"
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
const SwapModelInfo& SwapModel::info() const {
    return impl_->info;
}

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
    info.sources_a = get("sources_a");
    info.sources_b = get("sources_b");
    info.created = get("created");
    info.detail_stage_dims = shape.refiner_dims;
    return info;
}

}  // namespace detail

void SwapConfig::validate() const {
    auto check = [](bool ok, const std::string& message) {
        if (!ok) throw Error(ErrorCode::kInvalidArgument, "invalid swap setting: " + message);
    };
    auto got = [](float value) {
        char text[48];
        std::snprintf(text, sizeof text, " (got %g)", value);
        return std::string(text);
    };
    for (const FaceDetailSetting& setting : kFaceDetailSettings) {
        const float value = detail.*setting.value;
        std::string name = setting.name;
        std::replace(name.begin(), name.end(), '_', ' ');
        check(value >= 0.f && value <= 1.f, name + " must be 0 to 1" + got(value));
    }
    check(mask_erosion >= -0.5f && mask_erosion <= 0.5f, "mask erosion must be -0.5 to 0.5");
    check(mask_feather >= 0.f && mask_feather <= 0.5f, "mask feather must be 0 to 0.5");
    if (faces.mode == FaceChoiceMode::kPeople) {
        check(!faces.people.empty(), "choosing people to swap needs at least one reference face");
        check(faces.people.size() <= FaceChoice::kMaxPeople,
              "at most " + std::to_string(FaceChoice::kMaxPeople) + " people can be chosen (got " +
                  std::to_string(faces.people.size()) + ")");
        check(faces.max_distance > 0.f && faces.max_distance <= 2.f,
              "face match distance must be above 0 and at most 2" + got(faces.max_distance));
        for (const FaceDescriptor& person : faces.people)
            check(
                std::all_of(person.begin(), person.end(), [](float v) { return std::isfinite(v); }),
                "a reference face descriptor holds a value that is not a number");
    }
}

std::string detail_stage_note(const SwapModelInfo& info, const SwapConfig& config) {
    if (info.detail_stage_dims > 0 || config.detail.detail_strength <= 0) return {};
    return "note: " + info.path + " has no detail stage (format " +
           std::to_string(info.format_version) +
           "); swapping without it. 'faceswap train --resume --refine-from 0' adds one";
}

std::shared_ptr<const SwapModel> SwapModel::load(const std::string& path,
                                                 const EngineConfig& config) {
    if (!std::filesystem::is_regular_file(path))
        throw Error(ErrorCode::kModelMissing,
                    "swap model " + path +
                        " not found; train one with 'faceswap train' or use the demo model in "
                        "resources/models/");
    auto impl = std::make_unique<Impl>();
    impl->device = detail::select_device(config.device);
    const detail::ModelMetadata metadata =
        detail::read_metadata(detail::SwapAutoencoder::kKind, path);
    const detail::SwapNetShape shape =
        detail::SwapNetShape::from_attributes(metadata.attributes, path);
    impl->info = detail::swap_model_info(metadata, shape, path);
    impl->net = std::make_shared<detail::SwapAutoencoder>(shape);
    detail::load_module(*impl->net, detail::SwapAutoencoder::kKind, path);
    impl->net->to(impl->device);
    std::string precision_note;
    const at::ScalarType dtype =
        detail::resolve_precision(config.precision, impl->device, precision_note);
    if (dtype != at::kFloat) {
        // The whole net in that arithmetic, weights converted once (not per call), channels-last
        // on a CPU: on an AVX-512 BF16 CPU about 1.7x as fast as float32 at one thread, at
        // 43 dB PSNR to the float32 face (docs/live-speed.md).
        impl->net->set_compute_mode({dtype, impl->device.is_cpu()});
        const auto format =
            impl->device.is_cpu() ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
        for (auto& parameter : impl->net->parameters())
            parameter.set_data(parameter.dim() == 4 ? parameter.to(dtype).contiguous(format)
                                                    : parameter.to(dtype));
    } else if (impl->device.is_cpu()) {
        // oneDNN runs the decoders' convolutions ~1.5x faster on channels-last tensors; the
        // encoder (3-channel input) is faster as it is. Generation converts the code to match.
        for (auto& parameter : impl->net->named_parameters())
            if (parameter.value().dim() == 4 && (parameter.key().rfind("decoder", 0) == 0 ||
                                                 parameter.key().rfind("refiner", 0) == 0))
                parameter.value().set_data(
                    parameter.value().contiguous(at::MemoryFormat::ChannelsLast));
    }
    impl->info.precision = dtype == at::kBFloat16 ? "bfloat16" : "float32";
    impl->net->eval();
    return std::shared_ptr<const SwapModel>(new SwapModel(std::move(impl)));
}

// ---------------------------------------------------------------------------------------------
namespace {

using clock::Clock;
using clock::ms_since;

// The identity net, loaded once per model folder and device however many streams choose
// people (each stream asks on its first frame with a choice).
std::shared_ptr<const IdentityEmbedder> shared_identity_embedder(const EngineConfig& config) {
    static std::mutex mutex;
    static std::map<std::string, std::weak_ptr<const IdentityEmbedder>> loaded;
    const std::string key = config.model_dir + "\n" +
                            std::to_string(static_cast<int>(config.device)) + "\n" +
                            std::to_string(config.cpu_threads);
    std::lock_guard lock(mutex);
    if (auto embedder = loaded[key].lock()) return embedder;
    auto embedder = IdentityEmbedder::load(config);
    loaded[key] = embedder;
    return embedder;
}

// How often a tracked face's identity is checked again (a track can jump to a neighbour when
// two faces cross): about once a second at 30 frames/s.
constexpr int kRecheckTrackEveryNFrames = 30;

}  // namespace

struct FaceSwapper::Impl {
    std::shared_ptr<const FaceModels> face_models;  // the landmark net for expression following
    std::shared_ptr<const SwapModel> swap_model;
    EngineConfig config;
    SwapConfig swap_config;
    FaceAnalyzer analyzer;
    // Each track's usual eye closing, for expression following's blinks; updated by
    // complete().
    mutable detail::UsualEyeClosing usual_eye_closing;
    mutable detail::UsualShapeOffset usual_shape_offset;
    // Choosing people: the identity net, and per track whether it is a chosen person and how
    // many frames until it is checked again. Stage 1 only (like the analyzer).
    std::shared_ptr<const IdentityEmbedder> embedder;
    struct TrackChoice {
        int person = -1;       // the chosen person the face is, -1: none of them
        float distance = 0.f;  // from that person's reference
        int frames_until_check = 0;
    };
    std::unordered_map<int, TrackChoice> track_choices;

    // The faces of `faces` that are chosen people. A new track, an untracked face, and every
    // tracked face once in kRecheckTrackEveryNFrames is recognised; the rest keep their
    // track's answer. So a chosen person who leaves and comes back is found again by face,
    // whatever track id the tracker gives them. A person is in a frame once: when two faces
    // match one reference (look-alikes in a group photo), only the closer is swapped.
    std::vector<Face> chosen_people(const FrameView& frame, const std::vector<Face>& faces) {
        const FaceChoice& choice = swap_config.faces;
        const auto cached = [&](const Face& f) {
            const auto it = f.track_id >= 0 ? track_choices.find(f.track_id) : track_choices.end();
            return it != track_choices.end() && it->second.frames_until_check > 0 ? &it->second
                                                                                  : nullptr;
        };
        std::vector<Face> to_check;
        for (const Face& f : faces)
            if (!cached(f)) to_check.push_back(f);
        std::vector<FaceDescriptor> descriptors;
        if (!to_check.empty()) {
            // The embedder sets this thread's intra-op count from its own configuration; a
            // pipeline stage runs with its share of the cores and keeps it.
            const int stage_threads = at::get_num_threads();
            descriptors = embedder->embed(frame, to_check);
            if (at::get_num_threads() != stage_threads) at::set_num_threads(stage_threads);
        }

        std::vector<TrackChoice> decisions;
        std::unordered_map<int, TrackChoice> seen;
        size_t checked = 0;
        for (const Face& f : faces) {
            TrackChoice decision;
            if (const TrackChoice* known = cached(f)) {
                decision = *known;
                --decision.frames_until_check;
            } else {
                const FaceDescriptor& d = descriptors[checked++];
                const bool blank =
                    std::all_of(d.begin(), d.end(), [](float v) { return v == 0.f; });
                for (size_t p = 0; p < choice.people.size() && !blank; ++p) {
                    const float distance = descriptor_distance(d, choice.people[p]);
                    if (distance <= choice.max_distance &&
                        (decision.person < 0 || distance < decision.distance))
                        decision.person = static_cast<int>(p), decision.distance = distance;
                }
                decision.frames_until_check = kRecheckTrackEveryNFrames;
            }
            if (f.track_id >= 0) seen[f.track_id] = decision;
            decisions.push_back(decision);
        }
        track_choices = std::move(seen);  // tracks that ended are forgotten
        std::vector<Face> chosen;
        for (size_t i = 0; i < faces.size(); ++i) {
            const TrackChoice& mine = decisions[i];
            if (mine.person < 0) continue;
            bool closest = true;
            for (size_t j = 0; j < faces.size() && closest; ++j)
                closest = j == i || decisions[j].person != mine.person ||
                          decisions[j].distance > mine.distance ||
                          (decisions[j].distance == mine.distance && j > i);
            if (closest) chosen.push_back(faces[i]);
        }
        return chosen;
    }

    Impl(std::shared_ptr<const FaceModels> face_models, std::shared_ptr<const SwapModel> model,
         const EngineConfig& engine_config, const SwapConfig& swap)
        : face_models(face_models),
          swap_model(std::move(model)),
          config(aligned_for(engine_config, *swap_model)),
          swap_config(swap),
          analyzer(std::move(face_models), config) {
        load_embedder_if_needed();
    }

    // Choosing people needs the identity net: loaded when the choice is made, so that a
    // missing model file is an error when the stream opens, not on its first face.
    void load_embedder_if_needed() {
        if (swap_config.faces.mode == FaceChoiceMode::kPeople && !embedder)
            embedder = shared_identity_embedder(config);
    }

    // The analyzer must align faces exactly as the model's training faces were aligned.
    static EngineConfig aligned_for(EngineConfig config, const SwapModel& model) {
        config.aligned_size = model.info().resolution;
        config.coverage = model.info().coverage;
        return config;
    }
};

// Stage 1's output, stage 2's input: everything stage 2 needs, owned, so that stage 1 can move
// on to the next frame (the analyzer reuses its frame buffer) while stage 2 works on this one.
struct PreparedSwap {
    SwapResult result;        // analysis, the unchanged pixels, stage-1 timings
    std::vector<Face> faces;  // the faces to swap
    SwapConfig swap_config;   // as it was when the frame came in
    at::Tensor crops;         // [N, 3, R, R] aligned faces, 0..1
    at::Tensor code;          // the encoder's output for them
    // The decoders' faces, once decoded (by decode_batch, on whichever stage the pipeline
    // gave the decoder to).
    std::optional<detail::DecodedFace> decoded;
    std::vector<Landmarks68> crop_landmarks;
    Clock::time_point started;
};

namespace {

std::exception_ptr as_swap_error(std::exception_ptr error) {
    return detail::as_engine_error(std::move(error), "face swap");
}

// Stage 1 (after analysis): the job's unchanged pixels, its faces and their aligned crops.
// `owned`, when given, is the frame's own tightly packed buffer: it becomes the output.
void crop_faces(FaceSwapper::Impl& s, const FrameView& frame, PreparedSwap& job,
                std::vector<std::uint8_t>* owned = nullptr) {
    SwapResult& result = job.result;
    result.timings.analysis = result.analysis.timings;
    result.width = frame.width;
    result.height = frame.height;
    result.format = frame.format;
    const size_t row_bytes = static_cast<size_t>(frame.width) * 3;
    if (owned && owned->data() == frame.data && frame.stride_bytes == static_cast<int>(row_bytes) &&
        owned->size() == row_bytes * frame.height) {
        result.pixels = std::move(*owned);  // the analyzer has uploaded it: no copy needed
    } else {
        result.pixels.resize(row_bytes * frame.height);
        for (int y = 0; y < frame.height; ++y)
            std::memcpy(result.pixels.data() + y * row_bytes, frame.data + y * frame.stride_bytes,
                        row_bytes);
    }

    job.faces = result.analysis.faces;
    const auto start = Clock::now();
    if (job.swap_config.faces.mode == FaceChoiceMode::kLargest && job.faces.size() > 1) {
        job.faces = {*largest_face(job.faces)};
    } else if (job.swap_config.faces.mode == FaceChoiceMode::kPeople && !job.faces.empty()) {
        job.faces = s.chosen_people(frame, job.faces);
        result.timings.analysis.total_ms += ms_since(start);  // recognition is analysis
    }
    result.faces_swapped = static_cast<int>(job.faces.size());
    result.swapped_boxes.clear();
    for (const Face& face : job.faces) result.swapped_boxes.push_back(face.box);
    if (job.faces.empty()) return;
    // The analyzer's upload of the frame: read here, on stage 1, and never kept (stage 2
    // pastes into the output bytes), so the next frame may reuse it at once.
    const at::Tensor& frame_tensor = detail::uploaded_frame(s.analyzer);
    std::vector<Affine2x3> to_image;
    for (const Face& f : job.faces) {
        to_image.push_back(f.aligned_to_image);
        job.crop_landmarks.push_back(transform_landmarks(f.landmarks, f.image_to_aligned));
    }
    job.crops =
        detail::aligned_crops(frame_tensor, to_image, s.swap_model->info().resolution).div_(255.f);
    job.result.timings.generate_ms = ms_since(start);
}

// The rows of `whole` that belong to each job, in order (jobs[i] has `counts[i]` faces).
std::vector<at::Tensor> split_rows(const at::Tensor& whole, const std::vector<int64_t>& counts) {
    std::vector<at::Tensor> parts;
    int64_t row = 0;
    for (const int64_t n : counts) {
        parts.push_back(whole.narrow(0, row, n));
        row += n;
    }
    return parts;
}

// One tensor of the jobs' `part` rows (their faces), and how many rows each job gave.
std::pair<at::Tensor, std::vector<int64_t>> join_rows(std::span<PreparedSwap* const> jobs,
                                                      at::Tensor PreparedSwap::*part) {
    std::vector<at::Tensor> parts;
    std::vector<int64_t> counts;
    for (PreparedSwap* job : jobs) {
        parts.push_back(job->*part);
        counts.push_back((job->*part).size(0));
    }
    return {parts.size() == 1 ? parts[0] : at::cat(parts, 0), std::move(counts)};
}

// One encoder pass for the faces of several jobs on one model.
void encode_faces(const SwapModel& swap_model, std::span<PreparedSwap* const> jobs) {
    const auto& model = detail::Access::of(swap_model);
    const auto start = Clock::now();
    const auto [crops, counts] = join_rows(jobs, &PreparedSwap::crops);
    at::Tensor code = model.net->encode(crops);
    if (code.is_cpu()) code = code.contiguous(at::MemoryFormat::ChannelsLast);  // see load()
    const std::vector<at::Tensor> codes = split_rows(code, counts);
    const double ms = ms_since(start);
    for (size_t i = 0; i < jobs.size(); ++i) {
        jobs[i]->code = codes[i];
        jobs[i]->result.timings.generate_ms += ms;
    }
}

// One decoder pass for the faces of several jobs on one model and direction.
std::vector<detail::DecodedFace> decode_faces(const SwapModel& swap_model, SwapDirection direction,
                                              std::span<PreparedSwap* const> jobs) {
    const auto& model = detail::Access::of(swap_model);
    const auto start = Clock::now();
    const auto [code, counts] = join_rows(jobs, &PreparedSwap::code);
    detail::DecodedFace decoded =
        direction == SwapDirection::kAToB ? model.net->decode_b(code) : model.net->decode_a(code);
    // The detail stage, once for the batch, then each job's own strength.
    float most = 0.f;
    for (const PreparedSwap* job : jobs)
        most = std::max(most, job->swap_config.detail.detail_strength);
    if (model.net->has_refiners() && most > 0.f) {
        const at::Tensor refined = direction == SwapDirection::kAToB
                                       ? model.net->refine_b(decoded.rgb)
                                       : model.net->refine_a(decoded.rgb);
        std::vector<float> strengths;
        for (size_t i = 0; i < jobs.size(); ++i)
            strengths.insert(strengths.end(), counts[i],
                             jobs[i]->swap_config.detail.detail_strength);
        if (std::all_of(strengths.begin(), strengths.end(), [](float v) { return v >= 1.f; })) {
            decoded.rgb = refined;
        } else {
            const at::Tensor weight = at::tensor(strengths, decoded.rgb.options())
                                          .view({static_cast<int64_t>(strengths.size()), 1, 1, 1});
            decoded.rgb = decoded.rgb + weight * (refined - decoded.rgb);
        }
    }
    const std::vector<at::Tensor> rgb = split_rows(decoded.rgb, counts);
    const std::vector<at::Tensor> mask = split_rows(decoded.mask, counts);
    std::vector<detail::DecodedFace> out;
    const double ms = ms_since(start);
    for (size_t i = 0; i < jobs.size(); ++i) {
        out.push_back({rgb[i].contiguous(), mask[i].contiguous()});
        jobs[i]->result.timings.generate_ms += ms;
    }
    return out;
}

// The face's landmark-net box (image pixels) in its aligned crop: the same framing the net had
// on the frame, so the generated face is measured as the input was.
Box box_in_crop(const Face& face) {
    const Affine2x3& m = face.image_to_aligned;
    const float cx = face.box.x + face.box.width / 2, cy = face.box.y + face.box.height / 2;
    const float scale = std::hypot(m[0], m[3]);
    const float w = face.box.width * scale, h = face.box.height * scale;
    return {m[0] * cx + m[1] * cy + m[2] - w / 2, m[3] * cx + m[4] * cy + m[5] - h / 2, w, h};
}

// The landmark net reads a closing eyelid as barely moving (a blink the input's pixels show
// at EAR 0.12 by dlib's predictor reads 0.25; open eyes 0.30), on the input and on the warped
// face alike, so the eyes move three times the opening difference it reads (clamped per point
// to 0.6 of the warp's width). Measured on 300 held-out frames (with the eyes' whole shape
// moved, the first design), eye-opening r by the net / by dlib: gain 1 0.752 / 0.504,
// 2 0.766 / 0.661, 3 0.779 / 0.712, 5 0.781 / 0.731 (landmarks worse); the opening alone at
// gain 3: 0.739 / 0.726 (docs/detail-stage.md).
constexpr float kEyeGain = 3.0f;

// Following the input (expression_warp.h): the input's and the generated faces' landmarks, by
// one landmark pass over both; each generated face warped to the input's usual shape (jaw
// line, nose) by `detail.shape_follow`, then to the input's openings by
// `detail.expression_follow`; where an input eye closes further than the warp can follow, the
// input's own closed eye goes over it.
at::Tensor follow_input(const FaceModels::Impl& models, const PreparedSwap& job,
                        const at::Tensor& face, const FaceDetail& detail,
                        detail::UsualEyeClosing& usual_eye_closing,
                        detail::UsualShapeOffset& usual_shape_offset) {
    const float strength = detail.expression_follow;
    std::vector<Box> boxes;
    for (const Face& f : job.faces) boxes.push_back(box_in_crop(f));
    const int64_t n = face.size(0);
    const int size = static_cast<int>(face.size(3));
    std::vector<Box> both = boxes;
    both.insert(both.end(), boxes.begin(), boxes.end());
    const std::vector<Landmarks68> points = detail::landmarks_in_crops(
        models.landmarks, at::cat({job.crops, face.to(job.crops.scalar_type())}, 0), both);
    std::vector<at::Tensor> warped;
    std::vector<std::vector<Point2f>> eyes;  // per face: left, right
    std::vector<float> eye_shares;
    for (int64_t i = 0; i < n; ++i) {
        const Landmarks68& input = points[i];
        Landmarks68 generated = points[n + i];
        at::Tensor one = face.narrow(0, i, 1);
        if (detail.shape_follow > 0) {
            const auto usual = usual_shape_offset.usual(job.faces[i].track_id,
                                                        detail::shape_offset(generated, input));
            const Landmarks68 shaped = detail::shape_target(generated, usual, detail.shape_follow);
            one = detail::warp_face(one, generated, shaped, detail::shape_warp_sigma(generated));
            generated = shaped;
        }
        const double sigma = detail::expression_warp_sigma(generated);
        const Landmarks68 target =
            detail::expression_target(generated, input, strength * kEyeGain, strength, 0.6 * sigma);
        warped.push_back(detail::warp_face(one, generated, target, sigma));
        const auto closing = detail::eye_closing(generated, input);
        const auto usual = usual_eye_closing.usual(job.faces[i].track_id, closing);
        // A closing eye's region: where the input's eye is and where the warped generated
        // eye still shows (the hull of both).
        for (int eye = 0; eye < 2; ++eye) {
            const int first = 36 + 6 * eye;
            std::vector<Point2f> region(job.crop_landmarks[i].begin() + first,
                                        job.crop_landmarks[i].begin() + first + 6);
            region.insert(region.end(), target.begin() + first, target.begin() + first + 6);
            eyes.push_back(std::move(region));
            eye_shares.push_back(strength * detail::closed_eye_share(closing[eye] - usual[eye]));
        }
    }
    at::Tensor out = n == 1 ? warped[0] : at::cat(warped, 0);
    if (eye_shares.empty() || *std::max_element(eye_shares.begin(), eye_shares.end()) <= 0)
        return out;
    // Grown by a 64th of the face (4 px at 256: the net's points sit a little inside the
    // painted eye's edge, whose ghost showed at 2 px) and feathered by half that.
    const int grow = std::max(1, size / 64), feather = std::max(1, size / 128);
    const at::Tensor share = at::tensor(eye_shares).view({-1, 1, 1, 1}).to(out.device());
    const at::Tensor mask =
        (detail::erode_and_feather(detail::hull_masks(eyes, size, out.device()), -grow, feather) *
         share)
            .view({n, 2, 1, size, size})
            .amax(1);
    return out + mask.to(out.scalar_type()) * (job.crops.to(out.scalar_type()) - out);
}

// A rectangle of a packed 3-byte frame as [1, 3, h, w] float RGB on `device`.
at::Tensor read_rect(const std::vector<std::uint8_t>& pixels, int frame_width,
                     const detail::PixelRect& r, bool bgr, const c10::Device& device) {
    const int64_t row = static_cast<int64_t>(frame_width) * 3;
    auto* first = const_cast<std::uint8_t*>(pixels.data()) + r.y * row + r.x * 3;
    const at::Tensor bytes = at::from_blob(first, {r.height, r.width, 3}, {row, 3, 1}, at::kByte);
    at::Tensor rgb = bytes.to(device).permute({2, 0, 1}).to(at::kFloat).unsqueeze(0);
    return bgr ? rgb.flip(1) : rgb;
}

// [1, 3, h, w] float RGB (0..255) rounded into the rectangle `r` of a packed 3-byte frame.
void write_rect(const at::Tensor& rgb, std::vector<std::uint8_t>& pixels, int frame_width,
                const detail::PixelRect& r, bool bgr) {
    const at::Tensor ordered = bgr ? rgb[0].flip(0) : rgb[0];
    const at::Tensor bytes =
        ordered.round().clamp(0, 255).to(at::kByte).permute({1, 2, 0}).contiguous().cpu();
    const std::uint8_t* src = bytes.data_ptr<std::uint8_t>();
    const size_t row = static_cast<size_t>(frame_width) * 3, rect_row = size_t(r.width) * 3;
    for (int y = 0; y < r.height; ++y)
        std::memcpy(pixels.data() + (r.y + y) * row + r.x * 3, src + y * rect_row, rect_row);
}

// Stage 2 after decoding: colour-match, follow the input's expression, blend each face into
// the output bytes where its mask reaches.
void merge_faces(const FaceModels::Impl& face_models, const SwapModel& swap_model,
                 detail::UsualEyeClosing& usual_eye_closing,
                 detail::UsualShapeOffset& usual_shape_offset, PreparedSwap& job,
                 detail::DecodedFace decoded) {
    const auto& model = detail::Access::of(swap_model);
    const int size = swap_model.info().resolution;
    const SwapConfig& swap_config = job.swap_config;
    auto start = Clock::now();
    const c10::Device device = decoded.rgb.device();
    // Masks are smooth and colour statistics global: both are made at the decoders' working
    // size (a quarter of the pixels of an upscaling model's face) and only the face itself is
    // handled at full size.
    const int k = model.net->shape().output_upscale, work = size / k;
    std::vector<Landmarks68> work_landmarks = job.crop_landmarks;
    for (Landmarks68& points : work_landmarks)
        for (Point2f& p : points) p = {p.x / k, p.y / k};
    const at::Tensor hull = detail::face_hull_masks(work_landmarks, work, device);
    at::Tensor face = decoded.rgb;
    if (swap_config.color_transfer == ColorTransfer::kRct) {
        if (k == 1) {
            face = detail::reinhard_color_transfer(face, job.crops, hull);
        } else {
            // Colour transfer is a smooth change: computed on the faces averaged down to the
            // working size and added back as an upsampled correction, the full-size face keeps
            // its detail and the Lab round trip runs on a quarter of the pixels.
            const at::Tensor small = at::avg_pool2d(face, {k, k});
            const at::Tensor corrected =
                detail::reinhard_color_transfer(small, at::avg_pool2d(job.crops, {k, k}), hull);
            face = (face + at::upsample_bilinear2d(corrected - small, {size, size}, false))
                       .clamp(0, 1);
        }
    }
    // Expression first: the mouth interior and the texture below come from the input, whose
    // eyelids and lips are where the warp puts the generated face's.
    if (swap_config.detail.expression_follow > 0 || swap_config.detail.shape_follow > 0)
        face = follow_input(face_models, job, face, swap_config.detail, usual_eye_closing,
                            usual_shape_offset);
    if (swap_config.detail.mouth_interior > 0) {
        // The inner-lip polygon (landmarks 60-67) of the input, grown by a pixel at the working
        // size and feathered, at full size.
        std::vector<std::vector<Point2f>> lips;
        for (const Landmarks68& points : work_landmarks)
            lips.emplace_back(points.begin() + 60, points.begin() + 68);
        at::Tensor inside = detail::erode_and_feather(detail::hull_masks(lips, work, device), -1,
                                                      std::max(1, work / 64));
        if (k > 1) inside = at::upsample_bilinear2d(inside, {size, size}, false);
        face = face + swap_config.detail.mouth_interior * inside * (job.crops - face);
    }
    if (swap_config.detail.texture_transfer > 0) {
        // The input's fine band in luminance only (A's colour stays out), inside the face hull
        // shrunk and feathered so the jaw line and the background keep the generated face's.
        // It tops the face's finest detail up to the input's level and never beyond: per face,
        // the strength s that brings the face's Laplacian energy inside the hull, E(s) =
        // L_face + 2 s C + s^2 L_band (C: the face's and the band's Laplacians' product), to
        // the input's, at most 1 (the input's whole band). A face the decoder and the detail
        // stage already drew as detailed as the input gets none of the input's own texture,
        // which also carries the input's identity (docs/detail-stage.md).
        const double sigma = 1.5 * size / 256.0;
        const int radius = std::max(1, static_cast<int>(std::ceil(2 * sigma)));
        const at::Tensor luma = job.crops.mean(1, true);
        const at::Tensor band = luma - detail::gaussian_blur(luma, radius, sigma);
        at::Tensor inside = detail::erode_and_feather(hull, work / 32, work / 32);
        if (k > 1) inside = at::upsample_bilinear2d(inside, {size, size}, false);
        const at::Tensor area = inside.sum({1, 2, 3}).clamp_min(1);
        auto laplacian_of = [](const at::Tensor& one_channel) {
            return detail::laplacian(at::replication_pad2d(one_channel, {1, 1, 1, 1}));
        };
        auto mean_product = [&](const at::Tensor& a, const at::Tensor& b) {
            return (a * b * inside).sum({1, 2, 3}) / area;
        };
        const at::Tensor lap_face = laplacian_of(face.mean(1, true));
        const at::Tensor lap_band = laplacian_of(band), lap_input = laplacian_of(luma);
        const at::Tensor energy_band = mean_product(lap_band, lap_band).clamp_min(1e-12);
        const at::Tensor cross = mean_product(lap_face, lap_band);
        const at::Tensor missing =
            (mean_product(lap_input, lap_input) - mean_product(lap_face, lap_face)).clamp_min(0);
        const at::Tensor needed =
            ((cross.square() + energy_band * missing).sqrt() - cross) / energy_band;
        const at::Tensor strength =
            (swap_config.detail.texture_transfer * needed.clamp(0, 1)).view({-1, 1, 1, 1});
        face = (face + strength * inside * band).clamp(0, 1);
    }
    const at::Tensor learned = k > 1 ? at::avg_pool2d(decoded.mask, {k, k}) : decoded.mask;
    at::Tensor mask = swap_config.use_learned_mask ? at::minimum(hull, learned) : hull;
    mask = detail::erode_and_feather(mask, static_cast<int>(swap_config.mask_erosion * work),
                                     static_cast<int>(swap_config.mask_feather * work));
    if (k > 1) mask = at::upsample_bilinear2d(mask, {size, size}, false);

    SwapResult& result = job.result;
    const bool bgr = result.format == PixelFormat::BGR24;
    for (size_t i = 0; i < job.faces.size(); ++i) {
        // Only where the mask changes the frame: the crop's corners hold background the
        // mask leaves as it is, and at a close face they are half the crop's footprint.
        const detail::CropBox support = detail::support_box(mask[i][0], detail::kNoChangeAlpha, 3);
        if (support.empty()) continue;
        const detail::PixelRect rect = detail::crop_footprint(job.faces[i].aligned_to_image,
                                                              support, result.width, result.height);
        if (rect.width < 2 || rect.height < 2) continue;
        // Face and mask together, so one grid_sample moves both into the frame.
        const at::Tensor both = at::cat({face[i] * 255.f, mask[i]}, 0).unsqueeze(0);
        const at::Tensor in_frame =
            detail::crop_to_frame(both, job.faces[i].image_to_aligned, rect);
        // The frame under the rectangle, read from the output bytes (the input's, or an
        // earlier face's paste): only this rectangle is ever float on stage 2, and nothing of
        // the frame is copied between the stages.
        const at::Tensor roi = read_rect(result.pixels, result.width, rect, bgr, device);
        at::Tensor generated = in_frame.narrow(1, 0, 3);
        const at::Tensor alpha = in_frame.narrow(1, 3, 1).clamp(0, 1);  // bicubic overshoot
        if (swap_config.poisson_blend) generated = detail::poisson_blend(generated, roi, alpha, 60);
        write_rect(roi + (generated - roi) * alpha, result.pixels, result.width, rect, bgr);
    }
    result.timings.merge_ms = ms_since(start);
}

}  // namespace

int detail::prepare_batch(std::span<SwapSlot> slots) {
    std::vector<AnalysisSlot> analysis(slots.size());
    for (size_t i = 0; i < slots.size(); ++i)
        analysis[i] = {&Access::of(*slots[i].swapper).analyzer,
                       slots[i].frame,
                       slots[i].timestamp_s,
                       CropOutput::kNone,
                       {},
                       nullptr};
    const auto started = Clock::now();
    int splits = analyze_batch(analysis);

    at::NoGradGuard no_grad;
    at::InferenceMode inference;
    // Per model, the jobs whose faces go through its encoder together.
    std::vector<std::pair<const SwapModel*, std::vector<size_t>>> groups;
    for (size_t i = 0; i < slots.size(); ++i) {
        SwapSlot& slot = slots[i];
        if (analysis[i].error) {
            slot.error = analysis[i].error;
            continue;
        }
        try {
            FaceSwapper::Impl& s = Access::of(*slot.swapper);
            auto job = std::make_shared<PreparedSwap>();
            job->started = started;
            job->swap_config = s.swap_config;
            job->result.analysis = std::move(analysis[i].result);
            crop_faces(s, slot.frame, *job, slot.owned_pixels);
            slot.prepared = job;
            if (job->faces.empty()) continue;
            const SwapModel* model = s.swap_model.get();
            auto group = std::find_if(groups.begin(), groups.end(),
                                      [&](const auto& g) { return g.first == model; });
            if (group == groups.end()) group = groups.insert(groups.end(), {model, {}});
            group->second.push_back(i);
        } catch (...) {
            slot.error = as_swap_error(std::current_exception());
            slot.prepared.reset();
        }
    }
    for (const auto& [model, members] : groups) {
        std::vector<PreparedSwap*> jobs;
        for (size_t i : members) jobs.push_back(slots[i].prepared.get());
        auto pass = [&, model = model](size_t begin, size_t end) {
            encode_faces(*model, std::span(jobs).subspan(begin, end - begin));
        };
        auto fail = [&, &members = members](size_t m, std::exception_ptr error) {
            slots[members[m]].error = as_swap_error(std::move(error));
            slots[members[m]].prepared.reset();
        };
        splits += run_halving_on_failure("encode", 0, jobs.size(), pass, fail);
    }
    return splits;
}

bool detail::needs_decoding(const PreparedSwap& job) {
    return !job.faces.empty() && !job.decoded;
}

int detail::decode_batch(std::span<CompletionSlot> slots) {
    at::NoGradGuard no_grad;
    at::InferenceMode inference;
    using Key = std::pair<const SwapModel*, SwapDirection>;
    std::vector<std::pair<Key, std::vector<size_t>>> groups;
    for (size_t i = 0; i < slots.size(); ++i) {
        const PreparedSwap& job = *slots[i].prepared;
        if (!needs_decoding(job) || slots[i].error) continue;
        const Key key{detail::Access::of(*slots[i].swapper).swap_model.get(),
                      job.swap_config.direction};
        auto group = std::find_if(groups.begin(), groups.end(),
                                  [&](const auto& g) { return g.first == key; });
        if (group == groups.end()) group = groups.insert(groups.end(), {key, {}});
        group->second.push_back(i);
    }
    int splits = 0;
    for (const auto& [key, members] : groups) {
        std::vector<PreparedSwap*> jobs;
        for (size_t i : members) jobs.push_back(slots[i].prepared.get());
        auto pass = [&, &key = key](size_t begin, size_t end) {
            auto part =
                decode_faces(*key.first, key.second, std::span(jobs).subspan(begin, end - begin));
            for (size_t k = 0; k < part.size(); ++k) jobs[begin + k]->decoded = std::move(part[k]);
        };
        auto fail = [&, &members = members](size_t m, std::exception_ptr error) {
            slots[members[m]].error = as_swap_error(std::move(error));
        };
        splits += run_halving_on_failure("decode", 0, jobs.size(), pass, fail);
    }
    return splits;
}

int detail::complete_batch(std::span<CompletionSlot> slots) {
    const int splits = decode_batch(slots);
    at::NoGradGuard no_grad;
    at::InferenceMode inference;
    for (CompletionSlot& slot : slots) {
        if (slot.error) continue;
        PreparedSwap& job = *slot.prepared;
        try {
            if (job.decoded) {
                const FaceSwapper::Impl& swapper = detail::Access::of(*slot.swapper);
                merge_faces(detail::Access::of(*swapper.face_models), *swapper.swap_model,
                            swapper.usual_eye_closing, swapper.usual_shape_offset, job,
                            std::move(*job.decoded));
                job.decoded.reset();
            }
            SwapResult& result = job.result;
            result.timings.total_ms = ms_since(job.started);
            slot.result = std::move(result);
        } catch (...) {
            slot.error = as_swap_error(std::current_exception());
        }
    }
    return splits;
}

FaceSwapper::FaceSwapper(std::shared_ptr<const FaceModels> face_models,
                         std::shared_ptr<const SwapModel> swap_model, const EngineConfig& config,
                         const SwapConfig& swap_config)
    : impl_((swap_config.validate(),
             std::make_unique<Impl>(std::move(face_models), std::move(swap_model), config,
                                    swap_config))) {}
FaceSwapper::~FaceSwapper() = default;
FaceSwapper::FaceSwapper(FaceSwapper&&) noexcept = default;
FaceSwapper& FaceSwapper::operator=(FaceSwapper&&) noexcept = default;

void FaceSwapper::set_swap_config(const SwapConfig& swap_config) {
    swap_config.validate();
    if (swap_config.faces.mode == FaceChoiceMode::kPeople && !impl_->embedder)
        impl_->embedder = shared_identity_embedder(impl_->config);  // before the choice applies
    impl_->swap_config = swap_config;
    impl_->track_choices.clear();  // the chosen people may have changed
}
void FaceSwapper::reset() {
    impl_->analyzer.reset();
    impl_->usual_eye_closing.clear();
    impl_->usual_shape_offset.clear();
    impl_->track_choices.clear();
}

void detail::share_detection_worker(FaceSwapper& swapper, std::shared_ptr<DetectionWorker> worker) {
    share_detection_worker(Access::of(swapper).analyzer, std::move(worker));
}

std::shared_ptr<PreparedSwap> FaceSwapper::prepare(const FrameView& frame, double timestamp_s) {
    detail::use_cpu_threads(impl_->config.cpu_threads);
    detail::SwapSlot slot{this, frame, timestamp_s, nullptr, nullptr, nullptr};
    detail::prepare_batch({&slot, 1});
    if (slot.error) std::rethrow_exception(slot.error);
    return slot.prepared;
}

SwapResult FaceSwapper::complete(std::shared_ptr<PreparedSwap> job) const {
    detail::use_cpu_threads(impl_->config.cpu_threads);
    detail::CompletionSlot slot{this, std::move(job), {}, nullptr};
    detail::complete_batch({&slot, 1});
    if (slot.error) std::rethrow_exception(slot.error);
    return std::move(slot.result);
}

SwapResult FaceSwapper::process(const FrameView& frame, double timestamp_s) {
    return complete(prepare(frame, timestamp_s));
}

}  // namespace faceswap
