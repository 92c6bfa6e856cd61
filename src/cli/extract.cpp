// faceswap extract: video or images in, an aligned face set out (PNG crops + faces.json).
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli_common.h"
#include "commands.h"
#include "face_set.h"
#include "faceswap/capture/disk_space.h"
#include "faceswap/capture/media_reader.h"
#include "faceswap/net/sha256.h"

namespace faceswap::cli {
namespace {

namespace fs = std::filesystem;

nlohmann::json points_json(const Landmarks68& landmarks) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& p : landmarks)
        out.push_back({std::round(p.x * 100) / 100, std::round(p.y * 100) / 100});
    return out;
}

nlohmann::json affine_json(const Affine2x3& m) {
    return nlohmann::json::array({m[0], m[1], m[2], m[3], m[4], m[5]});
}

// Each source file's name, size and sha256 (a folder: each of its images), for the model's
// provenance (FaceSet::sources).
nlohmann::json source_files_json(const std::string& input) {
    std::vector<fs::path> files;
    std::error_code ec;
    if (fs::is_directory(input, ec)) {
        for (const auto& entry : fs::directory_iterator(input, ec))
            if (entry.is_regular_file() && capture::is_image_file_name(entry.path().string()))
                files.push_back(entry.path());
        std::sort(files.begin(), files.end());
    } else {
        files.push_back(input);
    }
    nlohmann::json sources = nlohmann::json::array();
    for (const fs::path& file : files) {
        std::string sha256;
        try {
            sha256 = net::sha256_of_file(file.string());
        } catch (const std::exception&) {
            continue;  // unreadable: not a source of any face
        }
        sources.push_back({{"file", file.filename().string()},
                           {"bytes", static_cast<std::int64_t>(fs::file_size(file, ec))},
                           {"sha256", sha256}});
    }
    return sources;
}

}  // namespace

int run_extract(const ExtractOptions& options) {
    EngineConfig config = EngineConfig::defaults();
    config.model_dir = resolve_model_dir(options.model_dir);
    config.aligned_size = options.size;
    config.coverage = options.coverage;
    config.cpu_threads = options.threads;
    config.device = parse_device(options.device);
    config.precision = parse_precision(options.precision);
    // Frames are skipped with --every, so tracking across them only holds for small gaps.
    config.tracking = options.every_nth_frame <= 2;
    if (options.every_nth_frame < 1) {
        std::fprintf(stderr, "error: --every must be >= 1\n");
        return 2;
    }

    auto reader = capture::MediaReader::open(options.input);
    auto models = FaceModels::load(config);
    FaceAnalyzer analyzer(models, config);

    const fs::path out_dir(options.output_dir);
    const fs::path faces_dir = out_dir / "faces";
    fs::create_directories(faces_dir);

    nlohmann::json faces = nlohmann::json::array();
    std::int64_t frames_read = 0, frames_analysed = 0, frames_without_face = 0, crops_written = 0;
    const std::int64_t total = options.end_frame >= 0
                                   ? std::min(options.end_frame, reader->frame_count())
                                   : reader->frame_count();
    ProgressBar progress("extract", total);
    capture::DecodedFrame frame;
    cv::Mat rgb;
    std::vector<int> png_params = {cv::IMWRITE_PNG_COMPRESSION, 3};
    while (reader->next(frame)) {
        if (options.end_frame >= 0 && frame.index >= options.end_frame) break;
        ++frames_read;
        progress.update(frames_read, std::to_string(crops_written) + " faces");
        if ((frame.index % options.every_nth_frame) != 0) continue;
        ++frames_analysed;
        FrameAnalysis analysis;
        try {
            analysis =
                analyzer.analyze(view_of(frame.bgr), CropOutput::kAlignedRgb, frame.timestamp_s);
        } catch (const Error& e) {
            std::fprintf(stderr, "\nskipping %s: %s\n", frame.name.c_str(), e.what());
            ++frames_without_face;
            continue;
        }
        if (analysis.faces.empty()) {
            ++frames_without_face;
            continue;
        }
        size_t chosen_begin = 0, chosen_end = analysis.faces.size();
        if (options.largest_face_only) {
            chosen_begin =
                static_cast<size_t>(largest_face(analysis.faces) - analysis.faces.data());
            chosen_end = chosen_begin + 1;
        }
        for (size_t i = chosen_begin; i < chosen_end; ++i) {
            const Face& face = analysis.faces[i];
            const AlignedCrop& crop = analysis.crops[i];
            char name[64];
            std::snprintf(name, sizeof name, "%06lld_t%d.png", static_cast<long long>(frame.index),
                          face.track_id);
            cv::Mat crop_rgb(crop.size, crop.size, CV_8UC3,
                             const_cast<std::uint8_t*>(crop.rgb.data()));
            cv::cvtColor(crop_rgb, rgb, cv::COLOR_RGB2BGR);
            // OpenCV's PNG writer does not always report a short write: look at the room left.
            if (capture::low_on_disk_space(faces_dir))
                throw std::runtime_error("the disk is full: cannot write the faces of " +
                                         options.input + " into " + faces_dir.string() +
                                         "; free some space and run again");
            if (!cv::imwrite((faces_dir / name).string(), rgb, png_params))
                throw std::runtime_error("cannot write " + (faces_dir / name).string() +
                                         " (no permission to write there?)");
            ++crops_written;
            faces.push_back({{"file", std::string("faces/") + name},
                             {"source", frame.name},
                             {"frame_index", frame.index},
                             {"track_id", face.track_id},
                             {"score", face.detection_score},
                             {"box", {face.box.x, face.box.y, face.box.width, face.box.height}},
                             {"landmarks", points_json(face.landmarks)},
                             {"image_to_aligned", affine_json(face.image_to_aligned)},
                             {"aligned_to_image", affine_json(face.aligned_to_image)}});
        }
    }
    progress.finish(std::to_string(crops_written) + " faces");

    nlohmann::json metadata = {{"tool", "faceswap extract"},
                               {"version", FACESWAP_VERSION},
                               {"input", options.input},
                               {"size", options.size},
                               {"coverage", options.coverage},
                               {"every_nth_frame", options.every_nth_frame},
                               {"end_frame", options.end_frame},
                               {"largest_face_only", options.largest_face_only},
                               {"frames_read", frames_read},
                               {"frames_analysed", frames_analysed},
                               {"frames_without_face", frames_without_face},
                               {"unreadable_images", reader->skipped()},
                               {"sources", source_files_json(options.input)},
                               {"faces", faces}};
    write_face_set_json(out_dir, metadata);

    std::printf("extracted %lld faces from %lld of %lld frames into %s (%lld frames without a face",
                static_cast<long long>(crops_written),
                static_cast<long long>(frames_analysed - frames_without_face),
                static_cast<long long>(frames_analysed), options.output_dir.c_str(),
                static_cast<long long>(frames_without_face));
    if (reader->skipped() > 0)
        std::printf(", %lld unreadable images skipped", static_cast<long long>(reader->skipped()));
    std::printf(")\n");
    if (crops_written == 0) {
        std::fprintf(stderr, "error: no face found in %s\n", options.input.c_str());
        return 1;
    }
    return 0;
}

}  // namespace faceswap::cli
