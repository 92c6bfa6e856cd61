// faceswap convert: a video, a photo or a folder of photos in, the same with faces swapped out,
// through the engine's SwapPipeline as the app and the server use it (one stream that keeps
// every frame: decoding the next frame, analysing one and merging another overlap). Photos come
// out as photos (same names and formats, provenance in their metadata) or, into a video file,
// as a video.
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>

#include "cli_common.h"
#include "commands.h"
#include "faceswap/capture/engine_frames.h"
#include "faceswap/capture/image_writer.h"
#include "faceswap/capture/media_reader.h"
#include "faceswap/capture/video_writer.h"
#include "faceswap/capture/watermark.h"
#include "faceswap/net/sha256.h"
#include "faceswap/pipeline.h"
#include "faceswap/swap.h"

namespace faceswap::cli {
namespace {

namespace fs = std::filesystem;

enum class OutputKind { kVideo, kImage, kImageFolder };

// What the output path asks for, given the input; throws Error(kInvalidArgument) with what to
// give instead. Never lets an output overwrite its own input.
OutputKind output_kind_for(const std::string& input, bool stills, const std::string& output) {
    std::error_code ec;
    const bool input_is_folder = fs::is_directory(input, ec);
    if (fs::exists(output, ec) && fs::equivalent(input, output, ec))
        throw Error(ErrorCode::kInvalidArgument,
                    "the output " + output +
                        " is the input itself: give another file or folder "
                        "(the originals are never overwritten)");
    if (capture::is_video_file_name(output)) return OutputKind::kVideo;
    if (!stills)
        throw Error(ErrorCode::kInvalidArgument, "cannot write a video to " + output +
                                                     ": give a file name ending in .mp4, "
                                                     ".mkv or .mov");
    if (capture::is_image_file_name(output)) {
        if (input_is_folder)
            throw Error(ErrorCode::kInvalidArgument,
                        "the input " + input +
                            " is a folder of photos: give an output folder "
                            "(one swapped photo per photo) or a video file (.mp4, .mkv, .mov), not "
                            "the image file " +
                            output);
        return OutputKind::kImage;
    }
    if (fs::exists(output, ec) && !fs::is_directory(output, ec))
        throw Error(ErrorCode::kInvalidArgument,
                    output +
                        " exists and is not a folder: give an output folder, an image file "
                        "(.jpg, .png, ...) or a video file (.mp4, .mkv, .mov)");
    return OutputKind::kImageFolder;
}

// The media type a Content Credentials ingredient names for a source file.
std::string media_type_of(const std::string& path) {
    std::string extension = fs::path(path).extension().string();
    std::transform(extension.begin(), extension.end(), extension.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (extension == ".jpg" || extension == ".jpeg") return "image/jpeg";
    if (extension == ".png") return "image/png";
    if (extension == ".mp4" || extension == ".m4v") return "video/mp4";
    if (extension == ".mov") return "video/quicktime";
    if (extension == ".webm") return "video/webm";
    if (extension == ".mkv") return "video/x-matroska";
    return "application/octet-stream";
}

// Names `source` as the parent ingredient of what `signing` signs: its name, type and hash.
capture::ContentSigning with_source(capture::ContentSigning signing, const std::string& source) {
    signing.credentials.source_name = fs::path(source).filename().string();
    signing.credentials.source_format = media_type_of(source);
    signing.credentials.source_sha256 = net::sha256_of_file(source);
    return signing;
}

// `bgr` scaled to fit `size` and centred on black (photos of several sizes into one video).
cv::Mat letterboxed(const cv::Mat& bgr, cv::Size size) {
    if (bgr.size() == size) return bgr;
    const double scale = std::min(static_cast<double>(size.width) / bgr.cols,
                                  static_cast<double>(size.height) / bgr.rows);
    const cv::Size fitted(std::max(1, static_cast<int>(bgr.cols * scale)),
                          std::max(1, static_cast<int>(bgr.rows * scale)));
    cv::Mat out(size, CV_8UC3, cv::Scalar::all(0));
    cv::Mat resized;
    cv::resize(bgr, resized, fitted, 0, 0, scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    resized.copyTo(out(cv::Rect((size.width - fitted.width) / 2, (size.height - fitted.height) / 2,
                                fitted.width, fitted.height)));
    return out;
}

}  // namespace

int run_convert(const ConvertOptions& options) {
    EngineConfig config = EngineConfig::defaults();
    config.model_dir = resolve_model_dir(options.model_dir);
    config.cpu_threads = options.threads;
    config.device = parse_device(options.device);
    config.precision = parse_precision(options.precision);

    auto reader = capture::MediaReader::open(options.input);
    const bool stills = reader->stills();
    const OutputKind output_kind = output_kind_for(options.input, stills, options.output);
    if (stills) config.tracking = false;  // each photo stands alone
    const std::string model_path = resolve_swap_model(options.model);
    auto face_models = FaceModels::load(config);
    auto swap_model = SwapModel::load(model_path, config);
    SwapConfig swap_config = options.swap;
    swap_config.faces = face_choice_from(options.faces, options.face_distance, config);
    const SwapModelInfo& info = swap_model->info();
    const bool a2b = options.swap.direction == SwapDirection::kAToB;
    std::fprintf(stderr, "model %s (%s, %s -> %s, %lld steps) on %s\n", model_path.c_str(),
                 info.architecture.c_str(), (a2b ? info.identity_a : info.identity_b).c_str(),
                 (a2b ? info.identity_b : info.identity_a).c_str(),
                 static_cast<long long>(info.training_steps), face_models->device_name().c_str());
    const std::string detail_note = detail_stage_note(info, options.swap);
    if (!detail_note.empty()) std::fprintf(stderr, "%s\n", detail_note.c_str());
    if (!face_models->precision_note().empty())
        std::fprintf(stderr, "note: %s\n", face_models->precision_note().c_str());

    const double fps = reader->frames_per_second() > 0 ? reader->frames_per_second() : 25.0;
    std::int64_t total = reader->frame_count() - options.start_frame;
    if (options.frames >= 0) total = std::min(total, options.frames);
    ProgressBar progress("convert", total);
    const std::string model_sha256 = net::sha256_of_file(model_path);
    // Every frame carries the invisible watermark, whatever --no-ai-mark says
    // (docs/watermark-design.md); the metadata names its payload.
    const capture::Watermark watermark;
    const std::uint32_t watermark_payload = capture::watermark_payload(model_sha256);
    // Signed Content Credentials in every JPEG, PNG and MP4 written (they cannot be turned off); an
    // identity that cannot be used is said once and the photos are written unsigned, with the
    // watermark and, unless turned off, the visible mark.
    std::optional<capture::ContentSigning> signing;
    std::string signed_note;
    try {
        capture::ContentSigning s;
        s.identity = options.sign_cert.empty()
                         ? capture::installation_signing_identity(capture::default_signing_dir())
                         : capture::load_signing_identity(options.sign_cert, options.sign_key);
        s.credentials.software_version = FACESWAP_VERSION;
        s.credentials.description = std::string("face swapped with model ") + info.path + " (" +
                                    (a2b ? "a2b" : "b2a") + ", sha256 " + model_sha256 + ")";
        signed_note = "; C2PA signed by " + s.identity.origin;
        signing = std::move(s);
    } catch (const capture::ContentCredentialsError& e) {
        std::fprintf(stderr,
                     "warning: %s. The output is written without Content Credentials (unsigned); "
                     "the invisible watermark%s still mark it\n",
                     e.what(), options.ai_mark ? " and the visible mark" : "");
        signed_note = "; C2PA unsigned";
    }
    const std::string provenance =
        std::string("AI-generated face swap; faceswap ") + FACESWAP_VERSION + "; watermark " +
        capture::watermark_payload_text(watermark_payload) + "; model " + info.path + " (sha256 " +
        model_sha256 + ", " + info.architecture + ", " + info.identity_a + "/" + info.identity_b +
        ", " + std::to_string(info.training_steps) + " steps" +
        (info.created.empty() ? std::string() : ", made " + info.created) + "); direction " +
        (a2b ? "a2b" : "b2a") + signed_note;
    if (output_kind == OutputKind::kImageFolder && !fs::is_directory(options.output)) {
        std::error_code ec;
        fs::create_directory(options.output, ec);
        if (ec)
            throw Error(ErrorCode::kInvalidArgument,
                        "cannot create the output folder " + options.output + ": " + ec.message());
    }

    std::unique_ptr<capture::VideoFileWriter> writer;
    cv::Size video_size;
    std::deque<std::string> names;  // of the frames submitted and not yet written, in order
    std::int64_t photos_letterboxed = 0;
    bool told_format_without_metadata = false;
    // One finished frame to the output: the video, the photo, or a photo in the folder.
    const auto write_output = [&](const cv::Mat& output, const std::string& name) {
        if (output_kind == OutputKind::kVideo) {
            if (output.size() == video_size) {
                writer->write(output);
            } else {
                writer->write(letterboxed(output, video_size));
                ++photos_letterboxed;
            }
        } else {
            const std::string path = output_kind == OutputKind::kImage
                                         ? options.output
                                         : (fs::path(options.output) / name).string();
            if (!capture::image_format_keeps_provenance(path) && !told_format_without_metadata) {
                std::fprintf(stderr,
                             "\nnote: %s: this image format has no place for the provenance "
                             "text or Content Credentials: the visible mark and the invisible "
                             "watermark are its only labels (.jpg, .png and .mp4 keep all)\n",
                             path.c_str());
                told_format_without_metadata = true;
            }
            std::optional<capture::ContentSigning> photo_signing;
            if (signing) {
                const fs::path source = fs::is_directory(options.input)
                                            ? fs::path(options.input) / name
                                            : fs::path(options.input);
                photo_signing =
                    fs::is_regular_file(source) ? with_source(*signing, source.string()) : *signing;
            }
            capture::write_image_file(path, output, provenance + "; source " + name,
                                      photo_signing ? &*photo_signing : nullptr);
        }
    };
    capture::DecodedFrame frame;
    std::int64_t submitted = 0, written = 0, frames_swapped = 0;
    SwapTimings stage_sums;  // per-stage totals, printed as means

    // Results arrive in order on the pipeline's thread; this thread writes them.
    std::mutex results_mutex;
    std::condition_variable results_changed;
    std::deque<PipelineResult> results;
    SwapPipeline pipeline(face_models, config);
    const StreamId stream = pipeline.open_stream(
        swap_model, swap_config,
        [&](PipelineResult&& r) {
            std::lock_guard lock(results_mutex);
            results.push_back(std::move(r));
            results_changed.notify_all();
        },
        FramePolicy::kEvery);
    // Writes the results that are in; with `until`, waits until that many were written.
    const auto write_results = [&](std::int64_t until) {
        for (;;) {
            PipelineResult r;
            {
                std::unique_lock lock(results_mutex);
                if (results.empty() && written >= until) return;
                results_changed.wait(lock, [&] { return !results.empty(); });
                r = std::move(results.front());
                results.pop_front();
            }
            if (!r.error.empty()) throw Error(ErrorCode::kInternal, r.error);
            SwapResult& result = r.swap;
            stage_sums.analysis.convert_ms += result.timings.analysis.convert_ms;
            stage_sums.analysis.detect_ms += result.timings.analysis.detect_ms;
            stage_sums.analysis.landmarks_ms += result.timings.analysis.landmarks_ms;
            stage_sums.analysis.align_ms += result.timings.analysis.align_ms;
            stage_sums.generate_ms += result.timings.generate_ms;
            stage_sums.merge_ms += result.timings.merge_ms;
            stage_sums.total_ms += result.timings.total_ms;
            if (result.faces_swapped > 0) ++frames_swapped;
            cv::Mat output(result.height, result.width, CV_8UC3, result.pixels.data());
            if (options.ai_mark) capture::draw_ai_generated_mark(output);
            watermark.embed(output, watermark_payload);
            write_output(output, names.front());
            names.pop_front();
            ++written;
            progress.update(written, std::to_string(frames_swapped) + " swapped");
        }
    };
    const auto started = std::chrono::steady_clock::now();
    try {
        while ((options.frames < 0 || submitted < options.frames) && reader->next(frame)) {
            if (frame.index < options.start_frame) continue;
            if (!writer && output_kind == OutputKind::kVideo) {
                capture::VideoWriterOptions out;
                out.path = options.output;
                out.width = frame.bgr.cols;
                out.height = frame.bgr.rows;
                out.fps = fps;
                if (!stills) out.audio_source = options.input;  // photos have no sound
                out.audio_offset_s = frame.timestamp_s;
                out.provenance = provenance;
                // One input file is the video's parent ingredient (a folder of photos is not).
                if (signing)
                    out.signing = fs::is_regular_file(options.input)
                                      ? with_source(*signing, options.input)
                                      : *signing;
                writer = std::make_unique<capture::VideoFileWriter>(out);
                video_size = frame.bgr.size();
            }
            names.push_back(frame.name);
            PipelineFrame job = capture::pipeline_frame_of(frame.bgr, frame.timestamp_s,
                                                           static_cast<std::uint64_t>(submitted++));
            pipeline.submit(stream, std::move(job));  // waits while one frame is waiting
            write_results(0);
        }
        write_results(submitted);
    } catch (...) {
        pipeline.close_stream(stream);
        throw;
    }
    const double wall_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    progress.finish();
    if (submitted == 0) {
        std::fprintf(stderr, "error: no frames to convert in %s (from frame %lld)\n",
                     options.input.c_str(), static_cast<long long>(options.start_frame));
        return 1;
    }
    std::string note = writer ? writer->close() : std::string();
    if (photos_letterboxed > 0)
        note += std::string(note.empty() ? "" : "; ") + std::to_string(photos_letterboxed) +
                " photos of another size than the first were fitted into the video's " +
                std::to_string(video_size.width) + "x" + std::to_string(video_size.height);
    if (reader->skipped() > 0)
        note += std::string(note.empty() ? "" : "; ") + std::to_string(reader->skipped()) +
                " unreadable images skipped";
    const double n = static_cast<double>(written);
    std::printf(
        "wrote %s: %lld %s, %lld with a face swapped, %.1f frames/s (reading, "
        "swapping and writing; %.1f ms per frame through the swap pipeline)%s\n",
        options.output.c_str(), static_cast<long long>(written), stills ? "photos" : "frames",
        static_cast<long long>(frames_swapped), n / wall_s, stage_sums.total_ms / n,
        options.ai_mark ? "" : ", WITHOUT the AI-generated mark");
    std::printf(
        "mean ms per frame: convert %.1f, detect %.1f, landmarks %.1f, align %.1f, "
        "generate %.1f, merge %.1f\n",
        stage_sums.analysis.convert_ms / n, stage_sums.analysis.detect_ms / n,
        stage_sums.analysis.landmarks_ms / n, stage_sums.analysis.align_ms / n,
        stage_sums.generate_ms / n, stage_sums.merge_ms / n);
    if (!note.empty()) std::printf("note: %s\n", note.c_str());
    return 0;
}

}  // namespace faceswap::cli
