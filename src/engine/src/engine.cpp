#include <sched.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <numeric>
#include <optional>
#include <span>
#include <thread>

#include "alignment.h"
#include "batching.h"
#include "detection.h"
#include "device.h"
#include "face_models_impl.h"
#include "face_nets.h"
#include "faceswap/clock.h"
#include "faceswap/engine.h"
#include "image_ops.h"
#include "model_file.h"
#include "swap_net.h"
#include "tracking.h"

namespace faceswap {

using detail::BackgroundDetector;
using detail::CropRect;
using detail::detect_faces;
using detail::Detection;
using detail::Track;

void EngineConfig::validate() const {
    auto check = [](bool ok, const std::string& message) {
        if (!ok) throw Error(ErrorCode::kInvalidArgument, "invalid engine setting: " + message);
    };
    check(cpu_threads >= 0, "cpu_threads must be >= 0 (0 = all cores)");
    check(detector_min_score > 0.f && detector_min_score < 1.f,
          "detector_min_score must be in (0, 1)");
    check(detector_nms_iou > 0.f && detector_nms_iou <= 1.f, "detector_nms_iou must be in (0, 1]");
    check(max_faces >= 1 && max_faces <= 100, "max_faces must be 1 to 100");
    check(min_face_px >= 0.f, "min_face_px must be >= 0");
    check(max_frame_side >= 16, "max_frame_side must be >= 16");
    check(detect_every_n_frames >= 1, "detect_every_n_frames must be >= 1");
    check(max_alignment_residual > 0.f, "max_alignment_residual must be > 0");
    check(max_appearance_change > 0.f, "max_appearance_change must be > 0");
    check(smoothing_min_cutoff_hz > 0.f && smoothing_derivative_cutoff_hz > 0.f &&
              smoothing_beta >= 0.f,
          "smoothing cut-offs must be > 0 and beta >= 0");
    check(aligned_size >= 64 && aligned_size <= 512, "aligned_size must be 64 to 512");
    check(coverage >= 0.3f && coverage <= 1.5f, "coverage must be 0.3 to 1.5");
}

// ---------------------------------------------------------------------------------------------
FaceModels::FaceModels(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FaceModels::~FaceModels() = default;

namespace {
// OMP_NUM_THREADS as a positive count, or 0 when it is unset or not one.
int threads_from_environment() {
    const char* text = std::getenv("OMP_NUM_THREADS");
    if (!text || !*text) return 0;
    char* end = nullptr;
    const long value = std::strtol(text, &end, 10);
    return *end == '\0' && value > 0 && value <= 4096 ? static_cast<int>(value) : 0;
}

// The CPUs this process may run on (its affinity mask: taskset, a cpuset), 0 if unknown.
int cpus_in_affinity() {
    cpu_set_t set;
    CPU_ZERO(&set);
    return ::sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 0;
}
}  // namespace

int detail::cpu_quota_threads(const std::filesystem::path& cgroup_root) {
    // A quota of Q microseconds per period P allows Q/P CPUs of time: round up, at least 1.
    const auto threads = [](double quota, double period) {
        return quota > 0 && period > 0 ? std::max(1, static_cast<int>(std::ceil(quota / period)))
                                       : 0;
    };
    // cgroup v2: cpu.max holds "QUOTA PERIOD" or "max PERIOD".
    if (std::ifstream v2(cgroup_root / "cpu.max"); v2) {
        std::string quota;
        double period = 0;
        if (v2 >> quota >> period && quota != "max")
            return threads(std::atof(quota.c_str()), period);
        return 0;
    }
    // cgroup v1: the cpu controller's CFS quota (-1: none) and period.
    std::ifstream quota_file(cgroup_root / "cpu" / "cpu.cfs_quota_us");
    std::ifstream period_file(cgroup_root / "cpu" / "cpu.cfs_period_us");
    double quota = -1, period = 0;
    if (quota_file >> quota && period_file >> period) return threads(quota, period);
    return 0;
}

std::string FaceModels::device_name() const {
    return detail::device_description(impl_->device, impl_->cpu_threads, impl_->detector_dtype);
}

std::string FaceModels::precision_note() const {
    return impl_->precision_note;
}

std::string detail::device_description(const c10::Device& device, int cpu_threads,
                                       at::ScalarType dtype) {
    const std::string arithmetic = dtype == at::kBFloat16 ? "bfloat16"
                                   : dtype == at::kHalf   ? "float16"
                                                          : "float32";
    if (device.is_cuda()) return "cuda (" + arithmetic + ")";
    const int forced = threads_from_environment();
    const int quota = detail::cpu_quota_threads("/sys/fs/cgroup");
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    std::string limit;
    if (forced > 0)
        limit = "; OMP_NUM_THREADS=" + std::to_string(forced) + " limits the engine";
    else if (quota > 0 && quota < cores)
        limit = "; a CPU quota of " + std::to_string(quota) + " of " + std::to_string(cores) +
                " cores limits the engine";
    return "cpu (" + std::to_string(cpu_threads) + (cpu_threads == 1 ? " thread, " : " threads, ") +
           arithmetic + limit + ")";
}

Precision parse_precision(const std::string& text) {
    if (text == "auto") return Precision::kAuto;
    if (text == "fp32" || text == "float32") return Precision::kFloat32;
    if (text == "bf16" || text == "bfloat16") return Precision::kBFloat16;
    throw Error(ErrorCode::kInvalidArgument,
                "unknown precision '" + text + "'; use 'auto', 'fp32' or 'bf16'");
}

at::ScalarType detail::resolve_precision(Precision asked, const c10::Device& device,
                                         std::string& note) {
    note.clear();
    if (asked == Precision::kFloat32) return at::kFloat;
    if (device.is_cuda()) return asked == Precision::kBFloat16 ? at::kBFloat16 : at::kFloat;
    // On a CPU, bfloat16 pays only where it is computed natively; emulated it is slower than
    // float32 (docs/live-speed.md).
    const bool native = cpu_has_native_bf16() && at::hasMKLDNN();
    if (native) return at::kBFloat16;
    note = std::string(asked == Precision::kBFloat16 ? "bfloat16 was asked for, but " : "") +
           (!at::hasMKLDNN()                   ? "this LibTorch has no oneDNN"
            : detail::cpu_capability_limited() ? "ATEN_CPU_CAPABILITY keeps AVX-512 out"
                                               : "this CPU has no native bfloat16 (AVX-512 BF16)") +
           ": the nets run in float32";
    return at::kFloat;
}

int available_cpu_threads() {
    const int forced = threads_from_environment();
    if (forced > 0) return forced;
    // The machine's cores, fewer where the process may use fewer: its affinity mask, or a
    // container's CPU quota (docker --cpus, a Kubernetes CPU limit). More threads than that
    // only get throttled.
    int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    if (const int affinity = cpus_in_affinity(); affinity > 0)
        threads = std::min(threads, affinity);
    if (const int quota = detail::cpu_quota_threads("/sys/fs/cgroup"); quota > 0)
        threads = std::min(threads, quota);
    return threads;
}

int detail::resolve_cpu_threads(int configured) {
    return configured > 0 ? configured : available_cpu_threads();
}

void detail::use_cpu_threads(int configured) {
    // LibTorch keeps the count per thread (a new thread starts from the last one set anywhere):
    // set it for this thread from this object's configuration.
    const int threads = resolve_cpu_threads(configured);
    if (at::get_num_threads() != threads) at::set_num_threads(threads);
}

c10::Device detail::select_device(DeviceKind kind) {
    const bool cuda = torch::cuda::is_available();
    if (kind == DeviceKind::kCuda && !cuda)
        throw Error(ErrorCode::kDeviceUnavailable,
                    "CUDA was requested but no CUDA device is available; use device 'cpu' or "
                    "'auto'");
    return (kind != DeviceKind::kCpu && cuda) ? c10::Device(c10::kCUDA) : c10::Device(c10::kCPU);
}

std::shared_ptr<const FaceModels> FaceModels::load(const EngineConfig& config) {
    config.validate();
    auto impl = std::make_unique<Impl>();
    impl->device = detail::select_device(config.device);
    impl->cpu_threads = detail::resolve_cpu_threads(config.cpu_threads);
    impl->detector_dtype =
        detail::resolve_precision(config.precision, impl->device, impl->precision_note);

    const std::filesystem::path dir(config.model_dir);
    detail::load_module(impl->detector, detail::SsdMobileNetV1::kKind,
                        (dir / "ssd_mobilenetv1.fsmodel").string());
    detail::load_module(impl->landmarks, detail::LandmarkNet68::kKind,
                        (dir / "landmarks68.fsmodel").string());
    impl->detector.to(impl->device);
    impl->landmarks.to(impl->device);
    // The detector in bfloat16 channels-last is 3.9x as fast as in float32 on an AVX-512 BF16
    // CPU (182 -> 47 ms a pass at one thread); the landmark net stays float32 (engine.h).
    impl->detector.prepare_for_inference(impl->detector_dtype);
    impl->landmarks.prepare_for_inference(at::kFloat);
    return std::shared_ptr<const FaceModels>(new FaceModels(std::move(impl)));
}

// ---------------------------------------------------------------------------------------------
namespace {

using clock::Clock;
using clock::ms_since;

// A landmark job: which crop to run the landmark net on, and for which track.
struct LandmarkJob {
    int track_index;  // index into tracks, or -1 for a new face
    Box box;          // the crop box (detector box, or the box predicted from the last landmarks)
    float detection_score;
    bool from_detector;
    CropRect crop;
};

// The crops of one frame that go to the landmark net (step 1 of tracking).
struct LandmarkPlan {
    std::vector<LandmarkJob> jobs;
    std::vector<CropRect> crops;  // jobs[i].crop, in the form the net's input wants
};

// The landmark net's answer for one plan (step 2).
struct LandmarkOutput {
    std::vector<Landmarks68> raw;                // image pixels
    std::vector<std::vector<float>> thumbnails;  // 16x16 grey, to notice a changed face
};

// The landmark net on the crops of several frames in one pass; one output per plan.
std::vector<LandmarkOutput> run_landmarks(const FaceModels::Impl& models,
                                          std::span<const at::Tensor* const> frames,
                                          std::span<const LandmarkPlan* const> plans) {
    std::vector<LandmarkOutput> outputs(plans.size());
    std::vector<at::Tensor> inputs;
    for (size_t p = 0; p < plans.size(); ++p)
        if (!plans[p]->crops.empty())
            inputs.push_back(
                detail::landmark_inputs(*frames[p], plans[p]->crops, detail::kLandmarkInputSize));
    if (inputs.empty()) return outputs;
    const at::Tensor input = inputs.size() == 1 ? inputs[0] : at::cat(inputs, 0);
    const at::Tensor out = models.landmarks.forward(input).to(at::kCPU).contiguous();
    // A 16x16 grey thumbnail of each crop, to notice when the pixels under a track change
    // abruptly (the face left, a cut, an occlusion) although its landmarks look fine.
    const at::Tensor thumbs = at::avg_pool2d(input.mean(1, true), {7, 7})
                                  .reshape({input.size(0), -1})
                                  .to(at::kCPU)
                                  .contiguous();
    const float* xy = out.data_ptr<float>();
    int64_t row = 0;
    for (size_t p = 0; p < plans.size(); ++p) {
        const LandmarkPlan& plan = *plans[p];
        LandmarkOutput& output = outputs[p];
        output.raw.resize(plan.jobs.size());
        output.thumbnails.resize(plan.jobs.size());
        for (size_t j = 0; j < plan.jobs.size(); ++j, ++row) {
            const float* t = thumbs[row].data_ptr<float>();
            output.thumbnails[j].assign(t, t + thumbs.size(1));
            output.raw[j] =
                detail::landmarks_in_image(plan.jobs[j].crop, xy + row * 2 * kLandmarkCount);
        }
    }
    return outputs;
}

}  // namespace

struct FaceAnalyzer::Impl {
    std::shared_ptr<const FaceModels> models;
    EngineConfig config;
    detail::FrameUploader uploader;
    detail::DetectorInput detector_input;
    std::vector<Track> tracks;
    int next_track_id = 0;
    std::int64_t frame_index = 0;
    double last_timestamp_s = 0.0;
    bool force_detection = true;
    std::unique_ptr<BackgroundDetector> background;

    // A frame between the steps of analysis: what begin() decided, for finish().
    struct Pending {
        FrameAnalysis result;
        const at::Tensor* rgb = nullptr;  // the uploader's frame
        bool detected = false;            // the detector ran inline on this frame
        double timestamp_s = 0;
        CropOutput crops = CropOutput::kNone;
        Clock::time_point started;
        LandmarkPlan plan;
    };
    Pending begin(const FrameView& frame, CropOutput crops, double timestamp_s);
    void finish(Pending& pending, LandmarkOutput&& landmarks);

    const FaceModels::Impl& nets() const { return detail::Access::of(*models); }
    // Runs the detector, records its time in result, and restarts the detection period.
    std::vector<Detection> run_detector(const at::Tensor& rgb, FrameAnalysis& result) {
        const auto start = Clock::now();
        std::vector<Detection> detections = detect_faces(nets(), config, rgb, detector_input);
        result.timings.detect_ms = ms_since(start);
        result.detector_ran = true;
        force_detection = false;
        frame_index = 1;  // this frame is the first of the next period
        return detections;
    }
    LandmarkPlan plan_landmarks(const at::Tensor& rgb, const std::vector<Detection>* detections);
    std::vector<Face> update_tracks(const LandmarkPlan& plan, LandmarkOutput&& landmarks,
                                    double timestamp_s, StageTimings& timings);
    // All three steps for one frame.
    std::vector<Face> track_faces(const at::Tensor& rgb, const std::vector<Detection>* detections,
                                  double timestamp_s, StageTimings& timings) {
        const LandmarkPlan plan = plan_landmarks(rgb, detections);
        const auto start = Clock::now();
        const at::Tensor* frames[] = {&rgb};
        const LandmarkPlan* plans[] = {&plan};
        std::vector<LandmarkOutput> out = run_landmarks(nets(), frames, plans);
        timings.landmarks_ms += ms_since(start);
        return update_tracks(plan, std::move(out[0]), timestamp_s, timings);
    }
};

// Step 1: decide each landmark crop: detector boxes matched to tracks, or predicted boxes.
LandmarkPlan FaceAnalyzer::Impl::plan_landmarks(const at::Tensor& rgb,
                                                const std::vector<Detection>* detections) {
    const int width = static_cast<int>(rgb.size(3)), height = static_cast<int>(rgb.size(2));
    if (!config.tracking) tracks.clear();

    std::vector<LandmarkJob> jobs;
    std::vector<bool> track_has_job(tracks.size(), false);
    std::vector<Box> predicted(tracks.size());
    // Keep a track's crop while the face stays inside a small tolerance of it: the landmark
    // net then sees identical pixels for a still face, which removes most landmark jitter.
    auto steady = [](const Box& current, const Box& candidate) {
        return detail::close_enough(current, candidate) ? current : candidate;
    };
    for (size_t t = 0; t < tracks.size(); ++t)
        predicted[t] = steady(
            tracks[t].box,
            detail::from_relative(tracks[t].box_in_face, detail::face_frame(tracks[t].smoothed)));
    if (detections) {
        std::vector<bool> used(detections->size(), false);
        // Greedy matching by IoU between detector boxes and where each track expects its face.
        for (;;) {
            float best = 0.3f;
            int best_t = -1, best_d = -1;
            for (size_t t = 0; t < tracks.size(); ++t) {
                if (track_has_job[t]) continue;
                for (size_t d = 0; d < detections->size(); ++d) {
                    if (used[d]) continue;
                    const float iou = intersection_over_union(predicted[t], (*detections)[d].box);
                    if (iou > best)
                        best = iou, best_t = static_cast<int>(t), best_d = static_cast<int>(d);
                }
            }
            if (best_t < 0) break;
            used[best_d] = track_has_job[best_t] = true;
            jobs.push_back({best_t,
                            steady(predicted[best_t], (*detections)[best_d].box),
                            (*detections)[best_d].score,
                            true,
                            {}});
        }
        for (size_t d = 0; d < detections->size(); ++d)
            if (!used[d])
                jobs.push_back({-1, (*detections)[d].box, (*detections)[d].score, true, {}});
    }
    for (size_t t = 0; t < tracks.size(); ++t) {
        if (track_has_job[t]) continue;
        if (detections && ++tracks[t].missed_detections >= 2)
            continue;  // the detector lost it twice
        jobs.push_back({static_cast<int>(t), predicted[t], tracks[t].detection_score, false, {}});
    }

    LandmarkPlan plan;
    for (LandmarkJob& job : jobs) {
        if (!detail::to_crop_rect(job.box, width, height, &job.crop)) continue;  // left the image
        plan.crops.push_back(job.crop);
        plan.jobs.push_back(job);
    }
    return plan;
}

// Step 3: quality check, track update, smoothing, alignment.
std::vector<Face> FaceAnalyzer::Impl::update_tracks(const LandmarkPlan& plan,
                                                    LandmarkOutput&& landmarks, double timestamp_s,
                                                    StageTimings& timings) {
    const auto start = Clock::now();
    const bool keep_tracks = config.tracking;
    const auto unit_template = alignment_template(1, 1.f);
    const auto crop_template = alignment_template(config.aligned_size, config.coverage);
    std::vector<Track> next_tracks;
    std::vector<Face> faces;
    for (size_t j = 0; j < plan.jobs.size(); ++j) {
        const LandmarkJob& job = plan.jobs[j];
        const Landmarks68& raw = landmarks.raw[j];
        const auto points = alignment_points(raw);
        double residual = 0;
        detail::fit_similarity(points.data(), unit_template.data(), 5, &residual);
        // Landmark-quality check for tracked crops: a face that left the crop gives a shape
        // that no longer fits the template, or landmarks far smaller than the crop.
        const Box bounds = detail::landmark_bounds(raw);
        const float crop_side = static_cast<float>(std::max(job.crop.width, job.crop.height));
        const bool plausible = residual <= config.max_alignment_residual &&
                               std::max(bounds.width, bounds.height) > 0.3f * crop_side;
        const bool same_look =
            job.track_index < 0 ||
            detail::appearance_change(tracks[job.track_index].thumbnail, landmarks.thumbnails[j]) <=
                config.max_appearance_change;
        if (!job.from_detector && !(plausible && same_look)) {
            force_detection = true;  // lost: the caller re-runs the detector on this frame
            continue;
        }
        Track track;
        if (job.track_index >= 0) {
            track = std::move(tracks[job.track_index]);
        } else {
            track.id = next_track_id++;
        }
        track.raw = raw;
        track.thumbnail = std::move(landmarks.thumbnails[j]);
        if (job.from_detector) {
            track.detection_score = job.detection_score;
            track.missed_detections = 0;
        }
        // Re-learn where the crop sits relative to the face whenever the crop changed.
        if (job.track_index < 0 || job.box != track.box)
            track.box_in_face = detail::to_relative(job.box, detail::face_frame(raw));
        track.box = job.box;
        if (keep_tracks && config.smoothing) {
            if (job.track_index < 0) track.smoother.reset();
            track.smoothed = track.smoother.apply(track.raw, timestamp_s, config);
        } else {
            track.smoothed = track.raw;
        }

        Face face;
        face.track_id = track.id;
        face.detection_score = track.detection_score;
        face.box = job.box;
        face.landmarks = track.smoothed;
        face.raw_landmarks = track.raw;
        face.alignment_residual = static_cast<float>(residual);
        face.detected_this_frame = job.from_detector;
        const auto smoothed_points = alignment_points(track.smoothed);
        const detail::Similarity to_aligned =
            detail::fit_similarity(smoothed_points.data(), crop_template.data(), 5);
        face.image_to_aligned = to_aligned.affine();
        face.aligned_to_image = to_aligned.inverse().affine();
        faces.push_back(face);
        next_tracks.push_back(std::move(track));
    }
    // Two tracks that converged on one face: keep the older.
    for (size_t a = 0; a < next_tracks.size(); ++a)
        for (size_t b = a + 1; b < next_tracks.size(); ++b)
            if (next_tracks[a].id >= 0 && next_tracks[b].id >= 0 &&
                intersection_over_union(detail::landmark_bounds(next_tracks[a].raw),
                                        detail::landmark_bounds(next_tracks[b].raw)) > 0.5f)
                (next_tracks[a].id < next_tracks[b].id ? next_tracks[b] : next_tracks[a]).id = -1;
    std::vector<Face> kept_faces;
    tracks.clear();
    for (size_t i = 0; i < next_tracks.size(); ++i) {
        if (next_tracks[i].id < 0) continue;
        kept_faces.push_back(faces[i]);
        if (keep_tracks) tracks.push_back(std::move(next_tracks[i]));
    }
    timings.align_ms += ms_since(start);
    return kept_faces;
}

FaceAnalyzer::FaceAnalyzer(std::shared_ptr<const FaceModels> models, const EngineConfig& config)
    : impl_(std::make_unique<Impl>()) {
    if (!models) throw Error(ErrorCode::kInvalidArgument, "FaceAnalyzer needs loaded models");
    config.validate();
    impl_->models = std::move(models);
    impl_->config = config;
    if (config.tracking && config.background_detection)
        impl_->background = std::make_unique<BackgroundDetector>(
            impl_->models, config, std::make_shared<detail::DetectionWorker>());
}

FaceAnalyzer::~FaceAnalyzer() = default;
FaceAnalyzer::FaceAnalyzer(FaceAnalyzer&&) noexcept = default;
FaceAnalyzer& FaceAnalyzer::operator=(FaceAnalyzer&&) noexcept = default;

void FaceAnalyzer::reset() {
    if (impl_->background) impl_->background->discard();
    impl_->tracks.clear();
    impl_->force_detection = true;
    impl_->frame_index = 0;
}

void detail::share_detection_worker(FaceAnalyzer& analyzer,
                                    std::shared_ptr<DetectionWorker> worker) {
    FaceAnalyzer::Impl& s = Access::of(analyzer);
    if (!s.config.tracking || !s.config.background_detection || !worker) return;
    s.background = std::make_unique<BackgroundDetector>(s.models, s.config, std::move(worker));
}

const at::Tensor& detail::uploaded_frame(const FaceAnalyzer& analyzer) {
    return Access::of(analyzer).uploader.last();
}

// Upload, the detector when this frame needs it, and the landmark crops.
FaceAnalyzer::Impl::Pending FaceAnalyzer::Impl::begin(const FrameView& frame, CropOutput crops,
                                                      double timestamp_s) {
    Pending p;
    p.started = Clock::now();
    p.crops = crops;
    const at::Tensor& rgb = uploader.upload(frame, nets().device, config.max_frame_side);
    p.rgb = &rgb;
    p.result.timings.convert_ms = ms_since(p.started);

    if (timestamp_s < 0) timestamp_s = last_timestamp_s + 1.0 / 30.0;
    last_timestamp_s = p.timestamp_s = timestamp_s;

    const bool periodic = frame_index % config.detect_every_n_frames == 0;
    p.detected = !config.tracking || force_detection || tracks.empty() || (periodic && !background);
    std::vector<Detection> detections;
    bool have_detections = p.detected;
    if (p.detected) {
        detections = run_detector(rgb, p.result);
    } else if (background) {
        // Boxes found a few frames ago: close enough to match the tracks (IoU > 0.3) and to
        // start tracks for new faces.
        if (auto found = background->take()) {
            detections = std::move(*found);
            have_detections = true;
        }
        if (periodic && !background->busy()) {
            background->submit(rgb.clone());
            frame_index = 1;
        } else {
            ++frame_index;
        }
    } else {
        ++frame_index;
    }
    p.plan = plan_landmarks(rgb, have_detections ? &detections : nullptr);
    return p;
}

// Track update, the inline detector if a track was lost, and the aligned crops when asked.
void FaceAnalyzer::Impl::finish(Pending& p, LandmarkOutput&& landmarks) {
    FrameAnalysis& result = p.result;
    const at::Tensor& rgb = *p.rgb;
    result.faces = update_tracks(p.plan, std::move(landmarks), p.timestamp_s, result.timings);
    if (!p.detected && force_detection) {
        // A track was lost on a frame without detection: detect now rather than show a frame
        // without that face (or with a ghost of it). Surviving tracks are matched again; their
        // smoothers ignore the repeated timestamp.
        const std::vector<Detection> detections = run_detector(rgb, result);
        result.faces = track_faces(rgb, &detections, p.timestamp_s, result.timings);
    }

    if (p.crops == CropOutput::kAlignedRgb && !result.faces.empty()) {
        const auto start = Clock::now();
        std::vector<Affine2x3> transforms;
        for (const Face& face : result.faces) transforms.push_back(face.aligned_to_image);
        const at::Tensor images = detail::aligned_crops(rgb, transforms, config.aligned_size)
                                      .round_()
                                      .clamp_(0, 255)
                                      .to(at::kByte)
                                      .permute({0, 2, 3, 1})
                                      .contiguous()
                                      .cpu();
        const int size = config.aligned_size;
        for (size_t i = 0; i < result.faces.size(); ++i) {
            AlignedCrop crop{result.faces[i].track_id, size, {}};
            const std::uint8_t* px = images[i].data_ptr<std::uint8_t>();
            crop.rgb.assign(px, px + static_cast<size_t>(size) * size * 3);
            result.crops.push_back(std::move(crop));
        }
        result.timings.align_ms += ms_since(start);
    }
    result.timings.total_ms = ms_since(p.started);
}

namespace {

std::exception_ptr analysis_error() {
    return detail::as_engine_error(std::current_exception(), "face analysis");
}

}  // namespace

FrameAnalysis FaceAnalyzer::analyze(const FrameView& frame, CropOutput crops, double timestamp_s) {
    detail::use_cpu_threads(impl_->config.cpu_threads);
    detail::AnalysisSlot slot{this, frame, timestamp_s, crops, {}, nullptr};
    detail::analyze_batch({&slot, 1});
    if (slot.error) std::rethrow_exception(slot.error);
    return std::move(slot.result);
}

int detail::analyze_batch(std::span<AnalysisSlot> slots) {
    at::NoGradGuard no_grad;
    at::InferenceMode inference;
    using Pending = FaceAnalyzer::Impl::Pending;
    std::vector<Pending> pending(slots.size());
    std::vector<size_t> live;  // slots that reached the landmark net
    for (size_t i = 0; i < slots.size(); ++i) {
        try {
            pending[i] = Access::of(*slots[i].analyzer)
                             .begin(slots[i].frame, slots[i].crops, slots[i].timestamp_s);
            live.push_back(i);
        } catch (...) {
            slots[i].error = analysis_error();
        }
    }
    if (live.empty()) return 0;

    std::vector<const at::Tensor*> frames;
    std::vector<const LandmarkPlan*> plans;
    for (size_t i : live) {
        frames.push_back(pending[i].rgb);
        plans.push_back(&pending[i].plan);
    }
    std::vector<LandmarkOutput> landmarks(live.size());
    const auto& nets = Access::of(*slots[live[0]].analyzer).nets();
    const auto start = Clock::now();
    auto pass = [&](size_t begin, size_t end) {
        auto part = run_landmarks(nets, {frames.begin() + begin, frames.begin() + end},
                                  {plans.begin() + begin, plans.begin() + end});
        std::move(part.begin(), part.end(), landmarks.begin() + begin);
    };
    auto fail = [&](size_t k, std::exception_ptr error) {
        slots[live[k]].error = detail::as_engine_error(std::move(error), "face analysis");
    };
    const int splits = run_halving_on_failure("landmarks", 0, live.size(), pass, fail);
    const double landmarks_ms = ms_since(start);  // shared by the batch

    for (size_t k = 0; k < live.size(); ++k) {
        const size_t i = live[k];
        if (slots[i].error) continue;
        try {
            pending[i].result.timings.landmarks_ms += landmarks_ms;
            Access::of(*slots[i].analyzer).finish(pending[i], std::move(landmarks[k]));
            slots[i].result = std::move(pending[i].result);
        } catch (...) {
            slots[i].error = analysis_error();
        }
    }
    return splits;
}

}  // namespace faceswap
