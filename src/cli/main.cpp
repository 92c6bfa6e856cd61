// faceswap: the command-line tool for the offline stages (import-weights, detect, extract, bench).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cstdio>
#include <filesystem>

#include "cli_common.h"
#include "commands.h"
#include "faceswap/capture/media_reader.h"
#include "faceswap/engine.h"
#include "faceswap/identity.h"
#include "faceswap/weights_import.h"

namespace {

using namespace faceswap;

int run_import(const std::string& face_api_dir, const std::string& out_dir) {
    std::printf("converting face-api weights from %s into %s\n", face_api_dir.c_str(),
                out_dir.c_str());
    import_face_api_weights(face_api_dir, out_dir);
    // Prove the written files load back before calling it done.
    EngineConfig config = EngineConfig::defaults();
    config.model_dir = out_dir;
    config.device = DeviceKind::kCpu;
    FaceModels::load(config);
    IdentityEmbedder::load(config);
    std::printf(
        "wrote ssd_mobilenetv1.fsmodel, landmarks68.fsmodel and face_recognition.fsmodel"
        " in %s\n",
        out_dir.c_str());
    return 0;
}

// Boxes, the 68 landmarks and the track id drawn over the image, for a look at the result.
void draw_faces(cv::Mat& image, const FrameAnalysis& analysis) {
    const int thickness = std::max(1, image.cols / 500);
    for (const Face& f : analysis.faces) {
        cv::rectangle(image, cv::Rect2f(f.box.x, f.box.y, f.box.width, f.box.height),
                      cv::Scalar(0, 200, 255), thickness);
        for (const auto& p : f.raw_landmarks)
            cv::circle(image, cv::Point2f(p.x, p.y), thickness + 1, cv::Scalar(80, 255, 80), -1);
        cv::putText(image, cv::format("%.2f", f.detection_score),
                    cv::Point2f(f.box.x, std::max(12.f, f.box.y - 4)), cv::FONT_HERSHEY_SIMPLEX,
                    0.4 * thickness, cv::Scalar(0, 200, 255), thickness);
    }
}

int run_detect(const std::vector<std::string>& images, const std::string& model_dir,
               float min_score, const std::string& draw_dir) {
    EngineConfig config = EngineConfig::defaults();
    config.model_dir = cli::resolve_model_dir(model_dir);
    config.tracking = false;
    config.detector_min_score = min_score;
    auto models = FaceModels::load(config);
    nlohmann::json out = nlohmann::json::object();
    int failures = 0;
    for (const auto& path : images) {
        try {
            auto reader = capture::MediaReader::open(path);
            capture::DecodedFrame frame;
            if (!reader->next(frame)) throw capture::MediaError(path + ": no image");
            FaceAnalyzer analyzer(models, config);
            const FrameAnalysis analysis = analyzer.analyze(cli::view_of(frame.bgr));
            if (!draw_dir.empty()) {
                std::filesystem::create_directories(draw_dir);
                const std::string out =
                    (std::filesystem::path(draw_dir) /
                     (std::filesystem::path(path).stem().string() + "_faces.jpg"))
                        .string();
                draw_faces(frame.bgr, analysis);
                if (!cv::imwrite(out, frame.bgr)) throw std::runtime_error("cannot write " + out);
            }
            nlohmann::json faces = nlohmann::json::array();
            for (const Face& f : analysis.faces) {
                nlohmann::json landmarks = nlohmann::json::array();
                for (const auto& p : f.raw_landmarks) landmarks.push_back({p.x, p.y});
                faces.push_back({{"score", f.detection_score},
                                 {"alignment_residual", f.alignment_residual},
                                 {"box", {f.box.x, f.box.y, f.box.width, f.box.height}},
                                 {"landmarks", landmarks}});
            }
            out[std::filesystem::path(path).filename().string()] = {
                {"width", frame.bgr.cols},
                {"height", frame.bgr.rows},
                {"faces", faces},
                {"ms", analysis.timings.total_ms}};
        } catch (const std::exception& e) {
            std::fprintf(stderr, "error: %s\n", e.what());
            ++failures;
        }
    }
    std::printf("%s\n", out.dump(1).c_str());
    return failures ? 1 : 0;
}

// --precision, on every command that runs the engine's nets for frames.
void add_precision_option(CLI::App& command, std::string& precision) {
    command
        .add_option("--precision", precision,
                    "The nets' arithmetic: auto (bfloat16 where the CPU has AVX-512 BF16), fp32 "
                    "or bf16")
        ->check(CLI::IsMember({"auto", "fp32", "bf16"}));
}

// --cpu-threads and --device, the same on every command that runs the engine, and named as in
// faceswap-server. --threads, the earlier name, is still taken (hidden) for older scripts.
void add_device_options(CLI::App& command, int& threads, std::string& device) {
    command.add_option("--cpu-threads", threads, "engine CPU threads (0 = all cores)");
    command.add_option("--threads", threads)->group("");
    command.add_option("--device", device, "auto, cpu or cuda")
        ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
}

// --faces and --face-distance (docs/face-choice.md), the same on convert and live.
void add_face_choice_options(CLI::App& command, std::vector<std::string>& faces,
                             float& face_distance) {
    command.add_option("--faces", faces,
                       "Whose face to swap: all (default), largest, or one or more photos (or "
                       "folders of photos) of the person to swap; other faces stay untouched");
    command
        .add_option("--face-distance", face_distance,
                    "With photos: how close a face must be to them to be swapped (identity "
                    "distance, default 0.5; lower is stricter)")
        ->check(CLI::Range(0.05, 2.0));
}

// --detail-strength, --mouth-interior, --texture-transfer, --expression-follow and --shape-follow
// (docs/detail-stage.md), the same on convert and live.
void add_detail_options(CLI::App& command, FaceDetail& detail) {
    command.add_option("--detail-strength", detail.detail_strength,
                       "How much of the model's detail stage to apply, 0 to 1 (default 1)");
    command.add_option("--mouth-interior", detail.mouth_interior,
                       "Blend the input's own mouth interior over the swap, 0 to 1 (default 0)");
    command.add_option("--texture-transfer", detail.texture_transfer,
                       "Add the input's own fine texture inside the face, 0 to 1, never past "
                       "the input's own level of detail (default 1)");
    command.add_option("--expression-follow", detail.expression_follow,
                       "Warp the swapped face's eyelids and lips to the input's opening, 0 to 1 "
                       "(default 1)");
    command.add_option("--shape-follow", detail.shape_follow,
                       "Move the swapped face's jaw line and nose tip to where the input's usually "
                       "are, 0 (the model's face shape) to 1 (the input's) (default 0)");
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"faceswap: face extraction, benchmarking and model tools"};
    app.set_version_flag("--version", std::string("faceswap ") + FACESWAP_VERSION);
    app.require_subcommand(1);

    std::string face_api_dir, import_out;
    auto* import_cmd = app.add_subcommand(
        "import-weights", "Convert face-api's pretrained TensorFlow.js weights into model files");
    import_cmd->add_option("--face-api", face_api_dir, "face-api package's model/ folder")
        ->required();
    import_cmd->add_option("--out", import_out, "Output folder")->required();

    std::vector<std::string> detect_images;
    std::string detect_models;
    float detect_min_score = 0.5f;
    std::string detect_draw_dir;
    auto* detect_cmd =
        app.add_subcommand("detect", "Print faces and 68 landmarks of images as JSON");
    detect_cmd->add_option("images", detect_images, "Image files")->required();
    detect_cmd->add_option("--models", detect_models, "Model folder");
    detect_cmd->add_option("--min-score", detect_min_score, "Detector score threshold")
        ->check(CLI::Range(0.01, 0.99));
    detect_cmd->add_option("--draw", detect_draw_dir,
                           "Also write each image with boxes and landmarks drawn into this folder");

    cli::ExtractOptions extract;
    auto* extract_cmd = app.add_subcommand(
        "extract", "Video or images in, aligned face set (PNG + faces.json) out");
    extract_cmd->add_option("input", extract.input, "Video file, image, or folder of images")
        ->required();
    extract_cmd->add_option("output", extract.output_dir, "Output folder")->required();
    extract_cmd->add_option("--size", extract.size, "Aligned crop size in pixels")
        ->check(CLI::Range(64, 512));
    extract_cmd->add_option("--coverage", extract.coverage, "Face coverage of the crop")
        ->check(CLI::Range(0.3, 1.5));
    extract_cmd->add_option("--every", extract.every_nth_frame, "Use every Nth frame")
        ->check(CLI::PositiveNumber);
    extract_cmd->add_option("--end-frame", extract.end_frame,
                            "Stop before this frame (hold the rest of a video out of training)");
    extract_cmd->add_flag("--largest-only", extract.largest_face_only,
                          "Keep only the largest face of each frame");
    extract_cmd->add_option("--models", extract.model_dir, "Model folder");
    add_device_options(*extract_cmd, extract.threads, extract.device);
    add_precision_option(*extract_cmd, extract.precision);

    cli::BenchOptions bench;
    auto* bench_cmd = app.add_subcommand(
        "bench", "Per-stage timings and FPS of face analysis, against dlib on the same frames");
    bench_cmd->add_option("--video", bench.video, "Video (default: franck.mp4 from the cache)");
    bench_cmd->add_option("--frames", bench.frames, "Frames to time")
        ->check(CLI::Range(10, 100000));
    bench_cmd->add_option("--width", bench.width, "Frame width")->check(CLI::Range(64, 4096));
    bench_cmd->add_option("--height", bench.height, "Frame height")->check(CLI::Range(64, 4096));
    bench_cmd->add_option("--detect-every", bench.detect_every, "Detector period with tracking")
        ->check(CLI::PositiveNumber);
    bench_cmd->add_option("--models", bench.model_dir, "Model folder");
    bench_cmd->add_option("--dlib-predictor", bench.dlib_predictor,
                          "dlib shape_predictor_68_face_landmarks.dat");
    bench_cmd->add_flag("--no-dlib", bench.skip_dlib, "Skip the dlib comparison");
    bench_cmd->add_option("--dump-frames", bench.dump_frames,
                          "Write the scaled frames for faceswap-engine-bench, then stop");
    add_device_options(*bench_cmd, bench.threads, bench.device);
    add_precision_option(*bench_cmd, bench.precision);

    cli::MakeModelOptions make;
    auto* make_cmd = app.add_subcommand(
        "make-model",
        "From two videos or photo folders to a trained model in one step (run again to resume)");
    make_cmd
        ->add_option("--a", make.source_a,
                     "Identity A (swapped away, you): video, photo, folder, or camera")
        ->required();
    make_cmd->add_option("--b", make.source_b, "Identity B (swapped in): video, photo or folder")
        ->required();
    make_cmd->add_option("--out", make.out, "The model file to make (NAME.fsmodel)")->required();
    make_cmd->add_option("--name-a", make.name_a, "Identity name of A (default: from the source)");
    make_cmd->add_option("--name-b", make.name_b, "Identity name of B");
    make_cmd->add_option("--time-budget", make.time_budget,
                         "Training time, e.g. 45m, 2h (default 2h; each run adds this much)");
    make_cmd->add_option("--recipe", make.recipe, "standard, or quick (a small model in minutes)")
        ->check(CLI::IsMember({"standard", "quick"}));
    make_cmd->add_option("--max-faces", make.max_faces, "Faces per identity, spread over it")
        ->check(CLI::Range(32, 100000));
    make_cmd->add_option("--min-face", make.min_face_px, "Drop faces narrower than this (px)")
        ->check(CLI::Range(16.0, 4096.0));
    make_cmd->add_option("--models", make.model_dir, "Face-analysis model folder");
    make_cmd->add_option("--cpu-threads", make.threads, "engine CPU threads (0 = all cores)");
    make_cmd->add_option("--record-seconds", make.record_seconds,
                         "--a camera: how long to record you (prompts say what to do)");
    make_cmd->add_flag("--progress-json", make.progress_json,
                       "Also print progress and events as JSON lines on stdout (for the app)");

    cli::TrainOptions train;
    auto* train_cmd =
        app.add_subcommand("train", "Train a swap model on two face sets (Ctrl-C saves and stops)");
    train_cmd
        ->add_option("--a", train.set_a,
                     "Face set of identity A (a folder from 'faceswap extract', or a pack)")
        ->required();
    train_cmd->add_option("--b", train.set_b, "Face set of identity B")->required();
    train_cmd->add_option("--out", train.out, "Model file to write (with .train checkpoint)")
        ->required();
    train_cmd->add_option("--name-a", train.name_a, "Identity name of A (default: folder name)");
    train_cmd->add_option("--name-b", train.name_b, "Identity name of B");
    train_cmd->add_flag("--resume", train.resume, "Continue training an existing model exactly");
    train_cmd->add_option("--steps", train.total_steps, "Train until this many steps in total")
        ->check(CLI::PositiveNumber);
    train_cmd->add_option("--batch", train.config.batch_size, "Faces per identity per step")
        ->check(CLI::Range(1, 512));
    train_cmd->add_option("--lr", train.config.learning_rate, "Adam learning rate");
    train_cmd->add_option("--resolution", train.config.resolution,
                          "Face size of a new model (multiple of 16, 64-512; the sets must match)");
    train_cmd->add_option("--encoder-dims", train.config.encoder_dims, "New model: encoder width");
    train_cmd->add_option("--bottleneck-dims", train.config.bottleneck_dims,
                          "New model: dense code width");
    train_cmd->add_option("--inter-dims", train.config.inter_dims, "New model: shared map width");
    train_cmd->add_option("--decoder-dims", train.config.decoder_dims, "New model: decoder width");
    train_cmd->add_option("--mask-dims", train.config.mask_dims, "New model: mask decoder width");
    train_cmd
        ->add_option("--output-upscale", train.config.output_upscale,
                     "New model: 2 renders the face at twice the decoders' size "
                     "(depth-to-space output stage), 1 as format 1")
        ->check(CLI::IsMember({1, 2}));
    std::string train_loss = "multiscale";
    train_cmd
        ->add_option("--loss", train_loss,
                     "Reconstruction loss: multiscale (DSSIM at two scales, Laplacian "
                     "pyramid) or classic (format 1's)")
        ->check(CLI::IsMember({"multiscale", "classic"}));
    train_cmd->add_option("--init-from", train.config.init_from,
                          "New model: copy the matching weights of this model file first");
    train_cmd->add_option("--time-budget", train.time_budget,
                          "Train for this long (45m, 2h30m), moving through the recipe's phases");
    train_cmd
        ->add_option("--warp-until", train.warp_until,
                     "Fraction of the run with random warp; then warp off with "
                     "learning-rate dropout (1 = warp throughout)")
        ->check(CLI::Range(0.0, 1.0));
    train_cmd
        ->add_option("--lr-dropout", train.lr_dropout,
                     "After the warp phase: probability each weight update is applied")
        ->check(CLI::Range(0.01, 1.0));
    train_cmd
        ->add_option("--gan-from", train.gan_from,
                     "Fraction of the run from which a patch discriminator sharpens the faces "
                     "(GAN phase; at or after --warp-until; 1 = no GAN phase)")
        ->check(CLI::Range(0.0, 1.0));
    train_cmd
        ->add_option("--gan-weight", train.gan_weight,
                     "Weight of the discriminator's term in the GAN phase")
        ->check(CLI::Range(0.001, 10.0));
    train_cmd
        ->add_option("--refine-from", train.refine_from,
                     "Fraction of the run from which only the detail stage trains (the "
                     "autoencoder frozen; 0 on a finished model: refine only; 1 = never)")
        ->check(CLI::Range(0.0, 1.0));
    train_cmd
        ->add_option("--refiner-dims", train.config.refine.dims,
                     "Width of the detail stage given to a model that has none")
        ->check(CLI::Range(4, 128));
    train_cmd
        ->add_option("--refine-patch", train.config.refine.patch,
                     "Detail stage: training patch size in pixels (0: 96, or the face size)")
        ->check(CLI::Range(0, 512));
    train_cmd
        ->add_option("--refine-gan-weight", train.config.refine.gan_weight,
                     "Detail stage: weight of the patch discriminator's term (0 = off)")
        ->check(CLI::Range(0.0, 10.0));
    train_cmd->add_option("--eval-video", train.eval_video,
                          "Held-out video of A: score the model on it while training");
    train_cmd->add_option("--eval-frames", train.eval_frames,
                          "START:END of --eval-video to sample (END exclusive)");
    train_cmd->add_option("--eval-clips", train.eval_clips, "Clips per quality check")
        ->check(CLI::Range(1, 100));
    train_cmd->add_option("--eval-clip-frames", train.eval_clip_frames, "Frames per clip")
        ->check(CLI::Range(2, 1000));
    train_cmd
        ->add_option("--eval-every", train.eval_every_s,
                     "Seconds of training between quality checks")
        ->check(CLI::PositiveNumber);
    train_cmd->add_option("--eval-ref-a", train.eval_ref_a,
                          "Identity reference of A (default: set A's crops)");
    train_cmd->add_option("--eval-ref-b", train.eval_ref_b,
                          "Identity reference of B (default: set B's crops)");
    train_cmd
        ->add_option("--eval-ref-samples", train.eval_ref_samples,
                     "Frames or images sampled per identity reference")
        ->check(CLI::Range(1, 10000));
    train_cmd->add_option("--models", train.eval_model_dir, "Face model folder (quality checks)");
    train_cmd->add_option("--warp", train.config.warp_amount, "Random warp strength (0 = off)");
    train_cmd->add_option("--color-jitter", train.config.color_jitter, "Colour jitter (0 = off)");
    train_cmd
        ->add_option("--eyes-mouth-weight", train.config.eyes_mouth_weight,
                     "Weight of the L1 term on the eyes and mouth (DeepFaceLab: 300)")
        ->check(CLI::Range(0.0, 1000.0));
    train_cmd
        ->add_option("--expression-balance", train.config.expression_balance,
                     "0 to 1: draw blinks, wide eyes and wide mouths as often as common "
                     "expressions (1) or as often as they occur (0)")
        ->check(CLI::Range(0.0, 1.0));
    train_cmd->add_option("--seed", train.config.seed, "Random seed");
    train_cmd->add_option("--save-every", train.save_every, "Checkpoint every N steps");
    train_cmd->add_option("--preview-every", train.preview_every,
                          "Write OUT.preview.png every N steps");
    train_cmd->add_flag("--half", train.half_precision,
                        "Store the model's weights as float16 (half the size)");
    std::string train_precision = "auto";
    train_cmd
        ->add_option("--precision", train_precision,
                     "Arithmetic of the training passes: auto (bfloat16 where the CPU or GPU "
                     "has it natively), fp32 or bf16 (fp32-cl, bf16-nchw: to measure the "
                     "layout apart)")
        ->check(CLI::IsMember({"auto", "fp32", "bf16", "fp32-cl", "bf16-nchw"}));
    std::string train_device = "auto";
    add_device_options(*train_cmd, train.config.cpu_threads, train_device);

    cli::PackOptions pack;
    auto* pack_cmd = app.add_subcommand(
        "pack",
        "Pack a face set into one compact file (JPEG faces + landmarks) for another machine");
    pack_cmd->add_option("set", pack.set_dir, "Face set folder from 'faceswap extract'")
        ->required();
    pack_cmd->add_option("out", pack.out, "Pack file to write (.fspack)")->required();
    pack_cmd->add_option("--name", pack.name, "Identity name (default: the folder name)");
    pack_cmd->add_option("--quality", pack.jpeg_quality, "JPEG quality")
        ->check(CLI::Range(50, 100));
    pack_cmd->add_flag("--raw", pack.raw, "Store raw RGB instead of JPEG (large)");
    pack_cmd
        ->add_option("--max-faces", pack.max_faces,
                     "Keep at most this many faces, evenly spaced over the set (a small pack "
                     "for a benchmark)")
        ->check(CLI::PositiveNumber);

    cli::ConvertOptions convert;
    std::string convert_direction = "a2b", convert_color = "rct";
    auto* convert_cmd =
        app.add_subcommand("convert", "Swap the faces of a video or photos with a trained model");
    convert_cmd->add_option("input", convert.input, "Video file, photo, or folder of photos")
        ->required();
    convert_cmd
        ->add_option("output", convert.output,
                     "Video file (.mp4, .mkv or .mov); for photos also a photo or a folder (the "
                     "swapped photos under their own names and formats)")
        ->required();
    convert_cmd->add_option("--model", convert.model, "Swap model (default: the demo model)");
    convert_cmd->add_option("--direction", convert_direction, "a2b or b2a")
        ->check(CLI::IsMember({"a2b", "b2a"}));
    convert_cmd->add_option("--color", convert_color, "Colour transfer: rct or none")
        ->check(CLI::IsMember({"rct", "none"}));
    convert_cmd->add_option("--erosion", convert.swap.mask_erosion,
                            "Blend mask shrink, fraction of the face crop (negative grows)");
    convert_cmd->add_option("--feather", convert.swap.mask_feather,
                            "Blend mask edge blur, fraction of the face crop");
    convert_cmd->add_flag("--poisson", convert.swap.poisson_blend, "Seamless (Poisson) blending");
    add_detail_options(*convert_cmd, convert.swap.detail);
    convert_cmd->add_flag(
        "--hull-mask-only", [&](std::int64_t) { convert.swap.use_learned_mask = false; },
        "Blend with the landmark hull alone, not the learned mask");
    add_face_choice_options(*convert_cmd, convert.faces, convert.face_distance);
    convert_cmd->add_flag(
        "--largest-only", [&](std::int64_t) { convert.faces = {"largest"}; },
        "The same as --faces largest");
    convert_cmd->add_flag(
        "--no-ai-mark", [&](std::int64_t) { convert.ai_mark = false; },
        "Leave out the visible AI-generated mark (metadata is still written)");
    auto* sign_cert = convert_cmd->add_option(
        "--sign-cert", convert.sign_cert,
        "Sign the Content Credentials with this certificate chain (PEM) rather than the "
        "installation's own (docs/provenance.md)");
    auto* sign_key = convert_cmd->add_option("--sign-key", convert.sign_key,
                                             "The private key of --sign-cert (PEM)");
    sign_cert->needs(sign_key);
    sign_key->needs(sign_cert);
    convert_cmd->add_option("--start-frame", convert.start_frame, "First frame to convert");
    convert_cmd->add_option("--frames", convert.frames, "Number of frames to convert");
    convert_cmd->add_option("--models", convert.model_dir, "Face-analysis model folder");
    add_device_options(*convert_cmd, convert.threads, convert.device);
    add_precision_option(*convert_cmd, convert.precision);

    cli::EvalOptions eval;
    auto* eval_cmd = app.add_subcommand(
        "eval", "Score a converted video against its input: identity, pose, detail, flicker");
    eval_cmd->add_option("--input", eval.input, "The original video")->required();
    eval_cmd->add_option("--output", eval.output, "Its converted version (same size)")->required();
    eval_cmd->add_option("--ref-a", eval.ref_a, "Identity A: video, image or image folder")
        ->required();
    eval_cmd->add_option("--ref-b", eval.ref_b, "Identity B: video, image or image folder")
        ->required();
    eval_cmd->add_option("--ref-a-frames", eval.ref_a_frames,
                         "START:END frames of the A video to sample (END exclusive)");
    eval_cmd->add_option("--ref-b-frames", eval.ref_b_frames,
                         "START:END frames of the B video to sample (END exclusive)");
    eval_cmd->add_option("--ref-samples", eval.ref_samples, "Frames sampled per reference")
        ->check(CLI::Range(1, 10000));
    eval_cmd->add_option("--start-frame", eval.start_frame, "First frame to score")
        ->check(CLI::NonNegativeNumber);
    eval_cmd->add_option("--frames", eval.frames, "Frames to score (default: to the end)")
        ->check(CLI::NonNegativeNumber);
    eval_cmd->add_option("--json", eval.json_path, "Also write per-frame figures as JSON");
    eval_cmd->add_flag("--require-pass", eval.require_pass,
                       "Exit with code 3 when the quality bar is missed");
    eval_cmd->add_option("--models", eval.model_dir, "Model folder");
    eval_cmd->add_option("--cross-check-predictor", eval.cross_check_predictor,
                         "dlib 68-point predictor that re-measures eye and mouth opening beside "
                         "the bar ('' = none)");
    add_device_options(*eval_cmd, eval.threads, eval.device);
    add_precision_option(*eval_cmd, eval.precision);

    cli::VerifyOptions verify;
    auto* verify_cmd = app.add_subcommand(
        "verify", "What marks a photo or video as made here: the invisible watermark, metadata");
    verify_cmd->add_option("files", verify.files, "Photos and videos")->required();
    verify_cmd->add_option("--frames", verify.frames, "Frames looked at per video")
        ->check(CLI::Range(1, 100000));
    verify_cmd->add_option("--trust", verify.trust,
                           "A certificate (PEM) whose C2PA signatures count as trusted, beside "
                           "this installation's own");

    cli::ModelsOptions models;
    auto* models_cmd = app.add_subcommand(
        "models", "Swap models over HTTP(S): list a server's, pull, push (docs/model-api.md)");
    models_cmd->require_subcommand(1);
    auto add_http_options = [&](CLI::App& command) {
        command.add_option("--token", models.token, "Server token (default: $FACESWAP_TOKEN)");
        command.add_flag("--insecure", models.insecure, "Do not verify TLS certificates");
        command.add_option("--ca-file", models.ca_file, "PEM CA bundle for TLS");
    };
    auto* models_list = models_cmd->add_subcommand("list", "The models a server offers");
    models_list->add_option("server", models.server, "http(s)://HOST:PORT")->required();
    add_http_options(*models_list);
    auto* models_pull = models_cmd->add_subcommand(
        "pull", "Download a model (resumes a cut download; verified, then renamed into place)");
    models_pull
        ->add_option("source", models.source,
                     "SERVER/ID (http://host:8080/demo) or a model file URL")
        ->required();
    models_pull->add_option("-o,--out", models.out, "File to write (default: ID.fsmodel)");
    models_pull->add_option("--sha256", models.sha256, "Expected sha256 (refused otherwise)");
    add_http_options(*models_pull);
    auto* models_push = models_cmd->add_subcommand(
        "push", "Upload a model to a server, which serves it once it has loaded it");
    models_push->add_option("server", models.server, "http(s)://HOST:PORT")->required();
    models_push->add_option("model", models.model_file, "The .fsmodel file")
        ->required()
        ->check(CLI::ExistingFile);
    models_push->add_option("--id", models.id, "Serve it as this id (default: the file stem)");
    add_http_options(*models_push);
    auto* models_delete = models_cmd->add_subcommand("delete", "Stop serving a model");
    models_delete->add_option("server", models.server, "http(s)://HOST:PORT")->required();
    models_delete->add_option("id", models.id, "Model id")->required();
    add_http_options(*models_delete);
    auto* models_check = models_cmd->add_subcommand(
        "check", "Load local model files as the server would: OK, or what is wrong with each");
    models_check->add_option("files", models.check_files, "The .fsmodel files")->required();
    auto* models_info = models_cmd->add_subcommand(
        "info", "What a local model file says about itself: identities, training, provenance");
    models_info->add_option("files", models.check_files, "The .fsmodel files")->required();

    cli::LiveOptions live;
    std::string live_size = "640x480";
    auto* live_cmd = app.add_subcommand(
        "live",
        "Swap live without a window: camera, video or test pattern to streams (Ctrl-C stops)");
    live_cmd->add_option("--source", live.source,
                         "camera, camera:<hex id>, demo, pattern, or a video file (default: the "
                         "first camera, else the demo video)");
    live_cmd->add_option("--mode", live.mode, "local (the engine here) or remote (a server)")
        ->check(CLI::IsMember({"local", "remote"}));
    live_cmd->add_option("--model", live.model,
                         "local: .fsmodel file (default: the demo model); remote: a model id");
    live_cmd->add_option("--models", live.model_dir, "local: face-analysis model folder");
    live_cmd->add_option("--server", live.server, "remote: ws:// or wss:// URL");
    live_cmd->add_option("--token", live.token, "remote: auth token");
    add_detail_options(*live_cmd, live.detail);
    add_face_choice_options(*live_cmd, live.faces, live.face_distance);
    add_precision_option(*live_cmd, live.precision);
    live_cmd->add_option("--direction", live.direction, "a2b or b2a")
        ->check(CLI::IsMember({"a2b", "b2a"}));
    live_cmd->add_option("--size", live_size, "capture and stream size, WIDTHxHEIGHT");
    live_cmd->add_option("--fps", live.fps, "capture and stream frame rate")
        ->check(CLI::Range(1.0, 120.0));
    live_cmd->add_option("--file-fps", live.file_fps, "a video file's pace (default: its own)");
    live_cmd->add_option("--stream", live.streams,
                         "send MPEG-TS to udp://HOST:PORT or srt://HOST:PORT (repeatable); OBS "
                         "and VLC open udp://@:PORT");
    live_cmd->add_option("--virtual-camera", live.virtual_camera,
                         "write to a v4l2loopback camera: its /dev/videoN, or auto for the first");
    live_cmd->add_flag("--pipewire", live.pipewire_camera,
                       "publish a PipeWire camera node, \"faceswap camera\" (browsers, OBS)");
    live_cmd->add_flag(
        "--no-ai-mark", [&](std::int64_t) { live.ai_mark = false; },
        "Leave out the visible AI-generated mark on the outputs (the streams' metadata still "
        "says AI-generated)");
    live_cmd->add_option("--duration", live.duration_s, "stop after this many seconds");
    live_cmd
        ->add_option("--stats-interval", live.stats_interval_s, "seconds between statistics lines")
        ->check(CLI::Range(0.1, 3600.0));

    CLI11_PARSE(app, argc, argv);
    if (*live_cmd) {
        int w = 0, h = 0;
        char tail = 0;
        if (std::sscanf(live_size.c_str(), "%dx%d%c", &w, &h, &tail) != 2 || w < 64 || h < 48 ||
            w > 7680 || h > 4320 || w % 2 || h % 2) {
            std::fprintf(stderr, "error: --size takes an even WIDTHxHEIGHT, e.g. 640x480\n");
            return 2;
        }
        live.width = w;
        live.height = h;
    }
    models.action = *models_pull     ? cli::ModelsAction::kPull
                    : *models_push   ? cli::ModelsAction::kPush
                    : *models_delete ? cli::ModelsAction::kDelete
                    : *models_check  ? cli::ModelsAction::kCheck
                    : *models_info   ? cli::ModelsAction::kInfo
                                     : cli::ModelsAction::kList;
    train.config.device = cli::parse_device(train_device);
    train.config.loss = train_loss == "classic" ? TrainLoss::kClassic : TrainLoss::kMultiScale;
    train.config.precision = parse_train_precision(train_precision);
    for (const auto& [flag, value] : std::initializer_list<std::pair<const char*, int>>{
             {"--resolution", train.config.resolution},
             {"--output-upscale", train.config.output_upscale},
             {"--encoder-dims", train.config.encoder_dims},
             {"--bottleneck-dims", train.config.bottleneck_dims},
             {"--inter-dims", train.config.inter_dims},
             {"--decoder-dims", train.config.decoder_dims},
             {"--mask-dims", train.config.mask_dims}})
        if (train_cmd->get_option(flag)->count() > 0)
            train.architecture_flags.push_back({flag, value});
    convert.swap.direction = parse_swap_direction(convert_direction);
    convert.swap.color_transfer =
        convert_color == "rct" ? ColorTransfer::kRct : ColorTransfer::kNone;
    try {
        if (*import_cmd) return run_import(face_api_dir, import_out);
        if (*detect_cmd)
            return run_detect(detect_images, detect_models, detect_min_score, detect_draw_dir);
        if (*extract_cmd) return cli::run_extract(extract);
        if (*bench_cmd) return cli::run_bench(bench);
        if (*eval_cmd) return cli::run_eval(eval);
        if (*train_cmd) return cli::run_train(train);
        if (*make_cmd) {
            cli::set_progress_json(make.progress_json);
            return cli::run_make_model(make);
        }
        if (*pack_cmd) return cli::run_pack(pack);
        if (*convert_cmd) return cli::run_convert(convert);
        if (*models_cmd) return cli::run_models(models);
        if (*verify_cmd) return cli::run_verify(verify);
        if (*live_cmd) return cli::run_live(live);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        cli::progress_event({{"event", "error"}, {"message", e.what()}});
        return 1;
    }
    return 0;
}
