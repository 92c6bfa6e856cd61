// The faceswap subcommands; each returns the process exit code.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "faceswap/face_pack.h"
#include "faceswap/swap.h"
#include "faceswap/train.h"

class QGuiApplication;

namespace faceswap::cli {

struct ExtractOptions {
    std::string input;       // video file, image file or image folder
    std::string output_dir;  // receives faces/*.png and faces.json
    std::string model_dir;
    int size = 256;
    float coverage = 0.8f;
    int every_nth_frame = 1;
    std::int64_t end_frame = -1;  // stop before this frame (-1: read to the end)
    bool largest_face_only = false;
    int threads = 0;
    std::string device = "auto";
    std::string precision = "auto";  // EngineConfig::precision: auto, fp32 or bf16
};
int run_extract(const ExtractOptions& options);

struct BenchOptions {
    std::string video;  // default: franck.mp4 from the cache
    std::string model_dir;
    std::string dlib_predictor;  // default: /usr/share/dlib/shape_predictor_68_face_landmarks.dat
    int frames = 240;
    int width = 640;
    int height = 480;
    int detect_every = 12;
    int threads = 0;
    std::string device = "auto";
    std::string precision = "auto";  // EngineConfig::precision: auto, fp32 or bf16
    bool skip_dlib = false;
    std::string dump_frames;  // write the scaled frames for faceswap-engine-bench and stop
};
int run_bench(const BenchOptions& options);

struct EvalOptions {
    std::string input, output;               // the original video and its converted version
    std::string ref_a, ref_b;                // video, image or image folder of each identity
    std::string ref_a_frames, ref_b_frames;  // "START:END" of a reference video (END exclusive)
    int ref_samples = 32;                    // frames per reference, spread over its range
    std::int64_t start_frame = 0;
    std::int64_t frames = 0;  // 0 = to the end
    std::string json_path;
    bool require_pass = false;  // exit code 3 when the quality bar is missed
    // dlib's 68-point predictor as a second opinion on eye and mouth opening ("" = none; the
    // default where the build has dlib: Debian's libdlib-data file).
    std::string cross_check_predictor = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";
    std::string model_dir;
    int threads = 0;
    std::string device = "auto";
    std::string precision = "auto";  // EngineConfig::precision: auto, fp32 or bf16
};
int run_eval(const EvalOptions& options);

struct TrainOptions {
    std::string set_a, set_b;    // face set folders from 'faceswap extract'
    std::string name_a, name_b;  // identity names (default: the folder names)
    std::string out;             // the model file; also OUT.train, OUT.preview.png, OUT.log.csv
    bool resume = false;
    std::int64_t total_steps = 100000;
    int save_every = 500;
    int preview_every = 100;
    int preview_rows = 4;
    bool half_precision = false;
    TrainConfig config;
    // The recipe (docs/swap-model.md): random warp until this fraction of the run, then warp
    // off with learning-rate dropout; 1 keeps the warp on throughout.
    double warp_until = 0.6;
    float lr_dropout = 0.3f;
    // From this fraction of the run on (1 = never), the sharpen phase adds a patch
    // discriminator of weight gan_weight (TrainPhase::gan_weight).
    double gan_from = 1.0;
    float gan_weight = 0.1f;
    // From this fraction of the run on (1 = never), only the detail stage trains
    // (TrainPhase::refine); a model without one gets one of config.refine.dims.
    double refine_from = 1.0;
    std::string time_budget;  // "2h30m": train for this long (quality checks not counted)
    // Quality checks on held-out frames of A (empty eval_video: none).
    std::string eval_video, eval_frames;  // a video and "START:END" of it
    int eval_clips = 3, eval_clip_frames = 8;
    double eval_every_s = 600;
    std::string eval_ref_a, eval_ref_b;  // default: the face sets' crops
    int eval_ref_samples = 16;
    std::string eval_model_dir;
    // Architecture flags the user gave (e.g. {"--resolution", "256"}): a resumed model must
    // match them, since its shape comes from its file.
    std::vector<std::pair<std::string, int>> architecture_flags;
};
int run_train(const TrainOptions& options);
// Whether run_train ended early on SIGINT/SIGTERM (it saves and returns 0 then).
bool training_was_stopped();

struct MakeModelOptions {
    std::string source_a, source_b;  // a video, a photo or a folder of photos each
    std::string name_a, name_b;      // identity names (default: from the sources' names)
    std::string out;                 // NAME.fsmodel; its work folder is NAME.fsmodel.work/
    std::string time_budget = "2h";  // training time (quality checks not counted)
    // "standard" (128 px, the default recipe) or "quick" (a small 64 px model: a first look
    // in minutes, and what the tests train).
    std::string recipe = "standard";
    int max_faces = 1500;      // per identity, spread over the source
    float min_face_px = 48.f;  // faces narrower than this in the frame are dropped
    std::string model_dir;
    int threads = 0;
    bool progress_json = false;  // JSON lines on stdout (cli_common.h's progress_event)
    double record_seconds = 60;  // --a camera: how long to record
};
int run_make_model(const MakeModelOptions& options);

// The Qt application live and `--a camera` need for their sources, offscreen where there is no
// display (live.cpp).
std::unique_ptr<QGuiApplication> headless_gui_application();

// make-model's `--a camera` / `camera:ID` (record_camera.cpp): records the user into
// work_dir/camera-DATE.mp4 with prompts on stderr, and returns its path; a recording an earlier
// run of the same model prepared is reused. Throws Error when there is no camera or it fails.
bool is_camera_source(const std::string& source);
std::string record_camera(const std::string& source, const std::filesystem::path& work_dir,
                          double seconds, const std::string& model_dir);

struct VerifyOptions {
    std::vector<std::string> files;  // photos and videos
    int frames = 60;                 // frames looked at per video, spread over it
    std::vector<std::string> trust;  // certificates (PEM) whose signatures count as trusted
};
int run_verify(const VerifyOptions& options);

struct PackOptions {
    std::string set_dir, out, name;
    int jpeg_quality = 92;
    bool raw = false;   // uncompressed RGB (large; what a machine without a JPEG codec reads)
    int max_faces = 0;  // 0: all; else that many, evenly spaced over the set
};
int run_pack(const PackOptions& options);

struct ConvertOptions {
    std::string input, output;
    std::string model;  // default: the demo model
    std::string model_dir;
    SwapConfig swap;
    std::vector<std::string> faces;  // --faces: all, largest or reference photos
    float face_distance = -1;        // --face-distance (< 0: the default)
    bool ai_mark = true;
    // Who signs the photos' Content Credentials: the user's PEM files, else the installation's
    // own identity (capture::default_signing_dir()).
    std::string sign_cert, sign_key;
    std::int64_t start_frame = 0;
    std::int64_t frames = -1;
    int threads = 0;
    std::string device = "auto";
    std::string precision = "auto";  // EngineConfig::precision: auto, fp32 or bf16
};
int run_convert(const ConvertOptions& options);

enum class ModelsAction { kList, kPull, kPush, kDelete, kCheck, kInfo };
struct ModelsOptions {
    ModelsAction action = ModelsAction::kList;
    std::string server;      // list, push, delete: http(s)://host:port (ws:// works too)
    std::string source;      // pull: SERVER/ID or a model file URL
    std::string out;         // pull: the file to write (default: ID.fsmodel here)
    std::string sha256;      // pull: expected content
    std::string model_file;  // push
    std::vector<std::string> check_files;  // check, info: local model files
    std::string id;         // push: the id to serve it under (default: file stem); delete
    std::string token;      // default: $FACESWAP_TOKEN
    bool insecure = false;  // skip TLS certificate checks
    std::string ca_file;
};
int run_models(const ModelsOptions& options);

struct LiveOptions {
    std::string source = "camera";  // camera[:id], demo, pattern, file:<path> or a path
    std::string mode = "local";     // local or remote
    std::string model;              // local: .fsmodel (default: the demo model); remote: model id
    std::string model_dir;          // local: face-analysis nets
    std::string server = "ws://127.0.0.1:8080/", token;
    std::string direction = "a2b";
    FaceDetail detail;               // the detail stage, mouth interior, texture transfer
    std::vector<std::string> faces;  // --faces: all, largest or reference photos
    float face_distance = -1;        // --face-distance (< 0: the default)
    std::string precision = "auto";  // local: EngineConfig::precision
    int width = 640, height = 480;
    double fps = 30;                   // capture and stream rate
    double file_fps = 0;               // a video file's pace (0: its own)
    std::vector<std::string> streams;  // udp:// or srt:// addresses
    std::string virtual_camera;        // a v4l2loopback device, "auto" for the first, "" none
    bool pipewire_camera = false;      // publish a PipeWire camera node
    bool ai_mark = true;
    double duration_s = 0;  // 0: until Ctrl-C
    double stats_interval_s = 1;
};
int run_live(const LiveOptions& options);

}  // namespace faceswap::cli
