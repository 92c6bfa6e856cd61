// faceswap convert: a video (or image folder) in, the same with faces swapped out, through
// the engine's SwapPipeline as the app and the server use it (one stream that keeps every
// frame: decoding the next frame, analysing one and merging another overlap).
#include <opencv2/core.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>

#include "cli_common.h"
#include "commands.h"
#include "faceswap/capture/engine_frames.h"
#include "faceswap/capture/media_reader.h"
#include "faceswap/capture/video_writer.h"
#include "faceswap/pipeline.h"
#include "faceswap/swap.h"

namespace faceswap::cli {

int run_convert(const ConvertOptions& options) {
    EngineConfig config = EngineConfig::defaults();
    config.model_dir = resolve_model_dir(options.model_dir);
    config.cpu_threads = options.threads;
    config.device = parse_device(options.device);
    config.precision = parse_precision(options.precision);

    auto reader = capture::MediaReader::open(options.input);
    const std::string model_path = resolve_swap_model(options.model);
    auto face_models = FaceModels::load(config);
    auto swap_model = SwapModel::load(model_path, config);
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
    std::unique_ptr<capture::VideoFileWriter> writer;
    capture::DecodedFrame frame;
    std::int64_t submitted = 0, written = 0, frames_with_faces = 0;
    SwapTimings stage_sums;  // per-stage totals, printed as means

    // Results arrive in order on the pipeline's thread; this thread writes them.
    std::mutex results_mutex;
    std::condition_variable results_changed;
    std::deque<PipelineResult> results;
    SwapPipeline pipeline(face_models, config);
    const StreamId stream = pipeline.open_stream(
        swap_model, options.swap,
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
            if (!result.analysis.faces.empty()) ++frames_with_faces;
            cv::Mat output(result.height, result.width, CV_8UC3, result.pixels.data());
            if (options.ai_mark) capture::draw_ai_generated_mark(output);
            writer->write(output);
            ++written;
            progress.update(written, std::to_string(frames_with_faces) + " with faces");
        }
    };
    const auto started = std::chrono::steady_clock::now();
    try {
        while ((options.frames < 0 || submitted < options.frames) && reader->next(frame)) {
            if (frame.index < options.start_frame) continue;
            if (!writer) {
                capture::VideoWriterOptions out;
                out.path = options.output;
                out.width = frame.bgr.cols;
                out.height = frame.bgr.rows;
                out.fps = fps;
                out.audio_source = options.input;
                out.audio_offset_s = frame.timestamp_s;
                out.provenance = std::string("AI-generated face swap; faceswap ") +
                                 FACESWAP_VERSION + "; model " + info.path + " (" +
                                 info.architecture + ", " + info.identity_a + "/" +
                                 info.identity_b + ", " + std::to_string(info.training_steps) +
                                 " steps); direction " + (a2b ? "a2b" : "b2a");
                writer = std::make_unique<capture::VideoFileWriter>(out);
            }
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
    if (!writer) {
        std::fprintf(stderr, "error: no frames to convert in %s (from frame %lld)\n",
                     options.input.c_str(), static_cast<long long>(options.start_frame));
        return 1;
    }
    const std::string note = writer->close();
    const double n = static_cast<double>(written);
    std::printf(
        "wrote %s: %lld frames, %lld with a face swapped, %.1f frames/s (reading, "
        "swapping and writing; %.1f ms per frame through the swap pipeline)%s\n",
        options.output.c_str(), static_cast<long long>(written),
        static_cast<long long>(frames_with_faces), n / wall_s, stage_sums.total_ms / n,
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
