// faceswap engine: face detection, 68-point landmarks, alignment and tracking in LibTorch.
//
//   auto config = faceswap::EngineConfig::defaults();            // fill in, then hand over
//   config.model_dir = ".cache/models";
//   auto models = faceswap::FaceModels::load(config);            // weights load once, shared
//   faceswap::FaceAnalyzer analyzer(models, config);             // per-stream tracking state
//   faceswap::FrameView frame{pixels, 640, 480, 640 * 3, faceswap::PixelFormat::BGR24};
//   faceswap::FrameAnalysis result = analyzer.analyze(frame);
//   for (const faceswap::Face& face : result.faces) { /* face.landmarks, face.aligned_to_image */ }
//
// Threading: a FaceModels is immutable once loaded and may be shared by any number of threads;
// a FaceAnalyzer holds one video stream's state and must be used by one thread at a time.
//
// No Torch, OpenCV or Qt type appears here; errors are reported as faceswap::Error.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace faceswap {

namespace detail {
struct Access;  // the engine's own code reaches the private state through this
}

// What went wrong, so callers can react without parsing messages.
enum class ErrorCode {
    kInvalidArgument,  // a bad config value or frame
    kModelMissing,     // a model file is not where it should be
    kModelCorrupt,     // a model file is truncated, of the wrong kind, or has wrong shapes
    kModelVersion,     // a model file written by a newer format version
    kWeightsInvalid,   // a TensorFlow.js manifest or .bin file is malformed
    kDeviceUnavailable,
    kInternal,
};

// The one exception type the engine throws; the message is a single line a user can act on.
class Error : public std::runtime_error {
  public:
    Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
    ErrorCode code() const noexcept { return code_; }

  private:
    ErrorCode code_;
};

enum class PixelFormat { RGB24, BGR24 };

// A non-owning view of 8-bit interleaved pixels. The engine copies what it needs during the call.
struct FrameView {
    const std::uint8_t* data = nullptr;
    int width = 0;
    int height = 0;
    int stride_bytes = 0;  // bytes from one row to the next, >= width * 3
    PixelFormat format = PixelFormat::BGR24;
};

struct Point2f {
    float x = 0.f;
    float y = 0.f;
};

struct Box {
    float x = 0.f;  // left, image pixels
    float y = 0.f;  // top
    float width = 0.f;
    float height = 0.f;

    friend bool operator==(const Box&, const Box&) = default;
};

// Row-major 2x3 affine matrix: [x', y'] = [m0 m1 m2; m3 m4 m5] * [x, y, 1].
using Affine2x3 = std::array<float, 6>;

inline constexpr int kLandmarkCount = 68;
using Landmarks68 = std::array<Point2f, kLandmarkCount>;

struct Face {
    int track_id = -1;          // stable across frames while the face is tracked
    float detection_score = 0;  // detector score of the latest detection of this track
    Box box;                    // latest detector box, or the tracked crop box between detections
    Landmarks68 landmarks;      // smoothed over time (equal to raw_landmarks without tracking)
    Landmarks68 raw_landmarks;  // this frame's landmark-net output, image pixels
    Affine2x3 image_to_aligned{};  // image pixels -> aligned crop pixels (crop size from config)
    Affine2x3 aligned_to_image{};  // the inverse, kept for merging a generated face back
    float alignment_residual = 0;  // RMS landmark misfit to the template, in template units
    bool detected_this_frame = false;
};

struct StageTimings {
    double convert_ms = 0;    // frame upload + colour conversion
    double detect_ms = 0;     // resize, SSD, box decoding and NMS (0 on tracked frames)
    double landmarks_ms = 0;  // crops + landmark net + decoding
    double align_ms = 0;      // smoothing, similarity fit and (when asked) aligned crops
    double total_ms = 0;
};

// An aligned face crop, RGB24, size x size, row-major.
struct AlignedCrop {
    int track_id = -1;
    int size = 0;
    std::vector<std::uint8_t> rgb;
};

struct FrameAnalysis {
    std::vector<Face> faces;
    std::vector<AlignedCrop> crops;  // filled only when asked for, in the order of faces
    StageTimings timings;
    bool detector_ran = false;
};

enum class DeviceKind { kAuto, kCpu, kCuda };
enum class CropOutput { kNone, kAlignedRgb };

// The arithmetic of the detector and the swap model (the landmark net stays float32: bfloat16
// would save about 2.5 ms of its 5.5 ms pass but moves its points by up to 1 px of its 112-px
// input, and the tracker and the expression warp live on those points). kAuto: bfloat16 on a CPU
// that computes it natively (AVX-512 BF16, LibTorch with oneDNN), float32 elsewhere, CUDA included
// until the GPU suite has measured it (docs/live-speed.md). kBFloat16 on a CPU without native
// bfloat16 falls back to float32 and says so (FaceModels::precision_note).
enum class Precision { kAuto, kFloat32, kBFloat16 };
Precision parse_precision(const std::string& text);  // "auto", "fp32" or "bf16"; throws otherwise

// The CPU threads "0 = all cores" stands for: OMP_NUM_THREADS where the environment sets it (a
// deployment that limits the process; FaceModels::device_name then says so), else the cores the
// process may use: fewer than the machine's under an affinity mask or a container's CPU quota
// (docker --cpus, a Kubernetes CPU limit; device_name says that too).
int available_cpu_threads();

struct EngineConfig {
    std::string model_dir;  // holds ssd_mobilenetv1.fsmodel and landmarks68.fsmodel
    DeviceKind device = DeviceKind::kAuto;
    int cpu_threads = 0;  // 0 = all cores (LibTorch would otherwise default to one)
    Precision precision = Precision::kAuto;

    // Detector
    float detector_min_score = 0.5f;
    float detector_nms_iou = 0.5f;
    int max_faces = 10;
    float min_face_px = 24.f;   // smaller detections are ignored
    int max_frame_side = 8192;  // larger frames are refused with a clear error

    // Tracking: the detector runs every N frames or when a track is lost.
    bool tracking = true;
    int detect_every_n_frames = 12;
    // Run those periodic detections (looking for new faces while tracks hold) on a background
    // thread, merging their boxes a few frames later, instead of inline: live video then has no
    // slow frame every N (the detector costs several frames' time on a CPU). Detection when a
    // track is lost or none exists stays inline.
    bool background_detection = false;
    float max_alignment_residual = 0.12f;  // landmark-quality check; above this a track is lost
    float max_appearance_change = 0.08f;   // mean change of the crop's 16x16 grey thumbnail
                                           // between frames (0..1) above which a track is lost

    // One Euro smoothing of landmarks (time in seconds, positions in pixels).
    bool smoothing = true;
    float smoothing_min_cutoff_hz = 1.0f;
    float smoothing_beta = 10.0f;  // cut-off rise per (face-size unit / s) of speed
    float smoothing_derivative_cutoff_hz = 1.0f;

    // Alignment
    int aligned_size = 256;  // 64 to 512
    float coverage = 0.8f;   // fraction of the crop spanned by the canonical face; 0.3 to 1.5

    static EngineConfig defaults() { return EngineConfig{}; }
    void validate() const;  // throws Error(kInvalidArgument) naming the field
};

// The pretrained detector and landmark nets, loaded once and shared read-only. Each engine
// object runs its CPU work with its own EngineConfig::cpu_threads, on whichever thread calls it.

class FaceModels {
  public:
    static std::shared_ptr<const FaceModels> load(const EngineConfig& config);
    ~FaceModels();
    FaceModels(const FaceModels&) = delete;
    FaceModels& operator=(const FaceModels&) = delete;

    std::string device_name() const;  // "cpu (2 threads, bfloat16)", "cuda (float32)"
    // One line when bfloat16 was asked for (or auto) but cannot be had ("this CPU has no
    // native bfloat16 (AVX-512 BF16): the nets run in float32"); empty otherwise.
    std::string precision_note() const;

    struct Impl;

  private:
    friend struct detail::Access;
    explicit FaceModels(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// One video stream's face analysis: detection, landmarks, tracking, smoothing, alignment.
class FaceAnalyzer {
  public:
    FaceAnalyzer(std::shared_ptr<const FaceModels> models, const EngineConfig& config);
    ~FaceAnalyzer();
    FaceAnalyzer(FaceAnalyzer&&) noexcept;
    FaceAnalyzer& operator=(FaceAnalyzer&&) noexcept;

    // timestamp_s < 0 means "one frame after the previous one at 30 frames/s".
    FrameAnalysis analyze(const FrameView& frame, CropOutput crops = CropOutput::kNone,
                          double timestamp_s = -1.0);

    // Forget all tracks (a new video, a seek).
    void reset();

    struct Impl;

  private:
    friend struct detail::Access;
    std::unique_ptr<Impl> impl_;
};

// Canonical alignment template (five points: eye centres, nose tip, mouth corners) in
// aligned-crop pixels for the given crop size and coverage. Exposed for tests and merging.
std::array<Point2f, 5> alignment_template(int aligned_size, float coverage);

// Intersection over union of two boxes (0 when either is empty).
float intersection_over_union(const Box& a, const Box& b);

// The face with the largest detector box (the first of equals); nullptr when there is none.
const Face* largest_face(const std::vector<Face>& faces);

// Landmarks mapped through an affine, e.g. image -> aligned crop pixels with image_to_aligned.
Landmarks68 transform_landmarks(const Landmarks68& landmarks, const Affine2x3& m);

// The five alignment points derived from 68 landmarks (iBUG 300-W order).
std::array<Point2f, 5> alignment_points(const Landmarks68& landmarks);

// Expression from the 68 landmarks, NaN for a degenerate face (the eval scores them; the
// trainer balances its samples by them).
// Eye aspect ratio (Soukupova and Cech): the two vertical lid distances over the eye's width,
// each eye (36-41, 42-47), averaged. About 0.3 open, under 0.15 closed.
double eye_opening(const Landmarks68& landmarks);
// Inner-lip opening over mouth width: the inner-lip pairs (61-67, 62-66, 63-65) against the
// corners (48, 54). 0 for a closed mouth; about 0.3 when it is wide open.
double mouth_opening(const Landmarks68& landmarks);

}  // namespace faceswap
