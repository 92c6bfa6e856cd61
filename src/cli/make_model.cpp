// faceswap make-model: two sources (videos or folders of photos) to a trained model in one
// step. Extracts both identities, keeps the usable faces (large enough, sharp enough, one
// person, no near-duplicates) and reports what it dropped, holds out the end of A's video for
// the quality checks, and trains with the default recipe for a time budget. Each stage leaves
// its result in NAME.fsmodel.work/ and a run with the same arguments resumes where the last
// one stopped.
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli_common.h"
#include "commands.h"
#include "face_set.h"
#include "faceswap/capture/media_reader.h"
#include "faceswap/face_measures.h"
#include "faceswap/identity.h"

namespace faceswap::cli {
namespace {

namespace fs = std::filesystem;

// A video source's frames used for training: the rest (its last 15%, at most 600 frames) is
// held out for the quality checks, never trained on.
struct Split {
    std::int64_t train_end = -1;  // extract frames before this (-1: all)
    std::string held_out;         // "START:END" for --eval-frames ("" for photos)
};

Split split_of(const std::string& source) {
    const auto reader = capture::MediaReader::open(source);
    if (reader->stills()) return {};
    const std::int64_t count = reader->frame_count();
    const std::int64_t held = std::min<std::int64_t>(600, count * 15 / 100);
    if (count < 100 || held < 24) return {};  // too short to spare frames: no quality checks
    return {count - held, std::to_string(count - held) + ":" + std::to_string(count)};
}

struct Kept {
    int kept = 0, too_small = 0, blurred = 0, other_person = 0, duplicates = 0, looking_away = 0;
    int over_represented = 0;  // dropped by the pose balance
};

// The counts as faces.json's "curated" record and the progress event's fields.
nlohmann::json counts_json(const Kept& kept) {
    return {{"kept", kept.kept},
            {"pose_balance", kept.over_represented},
            {"looking_away", kept.looking_away},
            {"too_small", kept.too_small},
            {"blurred", kept.blurred},
            {"other_person", kept.other_person},
            {"near_duplicates", kept.duplicates}};
}

// Pose balance: a talking head faces the camera most of the time, so front-on faces would fill
// most of the training draws and the turned ones the fewest, though those are what the swap
// gets wrong. Faces are binned by head turn (5 bins of yaw) and tilt (3 of pitch) around the
// set's median pose; a bin holding more than three times the mean of the non-empty bins (at
// least 32) keeps an evenly spaced subset of that many, and at least 60% of the set stays.
// (Expressions are balanced when training: the trainer draws faces evenly over eye and mouth
// opening.) Returns the faces kept, in order.
nlohmann::json balance_poses(const nlohmann::json& faces, int* dropped) {
    const int n = static_cast<int>(faces.size());
    *dropped = 0;
    if (n < 100) return faces;  // too few to spare any
    std::vector<FaceMeasures> measures;
    std::vector<double> yaws, pitches;
    for (const auto& face : faces) {
        measures.push_back(measure_face(crop_landmarks_of(face)));
        yaws.push_back(measures.back().yaw);
        pitches.push_back(measures.back().pitch);
    }
    const auto median = [](std::vector<double> v) {
        std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
        return v[v.size() / 2];
    };
    const double yaw0 = median(yaws), pitch0 = median(pitches);
    const auto band = [](double offset, std::initializer_list<double> edges) {
        int b = 0;
        for (double edge : edges) b += offset > edge;
        return b;
    };
    constexpr int kBins = 5 * 3;
    std::vector<std::vector<int>> bins(kBins);
    for (int i = 0; i < n; ++i)
        bins[band(measures[i].yaw - yaw0, {-0.12, -0.05, 0.05, 0.12}) * 3 +
             band(measures[i].pitch - pitch0, {-0.05, 0.05})]
            .push_back(i);
    const int used = static_cast<int>(
        std::count_if(bins.begin(), bins.end(), [](const auto& b) { return !b.empty(); }));
    // The cap, raised until at least 60% of the faces stay: a mostly front-on source keeps most
    // of its faces (CPU training is short of steps, not of faces, but a small set is worse).
    int cap = std::max(32, 3 * n / std::max(1, used));
    const auto dropped_at = [&](int c) {
        int d = 0;
        for (const auto& members : bins) d += std::max(0, static_cast<int>(members.size()) - c);
        return d;
    };
    while (dropped_at(cap) > n * 2 / 5) cap += cap / 4 + 1;
    std::vector<bool> keep(n, true);
    for (const auto& members : bins) {
        const int m = static_cast<int>(members.size());
        if (m <= cap) continue;
        std::vector<bool> chosen(m, false);
        for (int k = 0; k < cap; ++k) chosen[static_cast<std::int64_t>(k) * m / cap] = true;
        for (int j = 0; j < m; ++j)
            if (!chosen[j]) keep[members[j]] = false, ++*dropped;
    }
    nlohmann::json kept = nlohmann::json::array();
    for (int i = 0; i < n; ++i)
        if (keep[i]) kept.push_back(faces[i]);
    return kept;
}

double sharpness(const cv::Mat& bgr) {
    cv::Mat gray, laplacian;
    cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
    cv::Laplacian(gray, laplacian, CV_64F);
    cv::Scalar mean, stddev;
    cv::meanStdDev(laplacian, mean, stddev);
    return stddev[0] * stddev[0];
}

// Keeps the usable faces of an extracted set: the dominant person by the recogniser (faces
// farther than FaceChoice's match distance from the set's median descriptor are someone
// else), at least min_face_px wide in the frame, not much blurrier than the set's typical face,
// and not a near-copy of the face kept before it. Rewrites faces.json (the full list stays in
// faces.all.json) and returns the counts.
Kept curate(const fs::path& set_dir, const IdentityEmbedder& embedder, float min_face_px) {
    const fs::path all = set_dir / "faces.all.json", json = set_dir / "faces.json";
    if (!fs::exists(all)) fs::copy_file(json, all);
    nlohmann::json doc = nlohmann::json::parse(std::ifstream(all));
    const nlohmann::json& faces = doc.at("faces");
    const int n = static_cast<int>(faces.size());
    std::vector<cv::Mat> crops(n);
    std::vector<FaceDescriptor> descriptors(n);
    std::vector<double> sharp(n);
    for (int i = 0; i < n; ++i) {
        crops[i] = cv::imread((set_dir / faces[i].at("file").get<std::string>()).string());
        if (crops[i].empty()) continue;
        Face face;
        face.box = {0, 0, static_cast<float>(crops[i].cols), static_cast<float>(crops[i].rows)};
        face.raw_landmarks = face.landmarks = crop_landmarks_of(faces[i]);
        descriptors[i] = embedder.embed(view_of(crops[i]), {face}).at(0);
        sharp[i] = sharpness(crops[i]);
    }
    // The dominant person: the element-wise median of every face's descriptor.
    FaceDescriptor median{};
    for (int k = 0; k < kDescriptorSize; ++k) {
        std::vector<float> values;
        for (int i = 0; i < n; ++i)
            if (!crops[i].empty()) values.push_back(descriptors[i][k]);
        if (values.empty()) break;
        std::nth_element(values.begin(), values.begin() + values.size() / 2, values.end());
        median[k] = values[values.size() / 2];
    }
    std::vector<double> sorted_sharpness;
    for (int i = 0; i < n; ++i)
        if (!crops[i].empty()) sorted_sharpness.push_back(sharp[i]);
    std::sort(sorted_sharpness.begin(), sorted_sharpness.end());
    const double typical =
        sorted_sharpness.empty() ? 0 : sorted_sharpness[sorted_sharpness.size() / 2];

    Kept kept;
    nlohmann::json keep = nlohmann::json::array();
    cv::Mat previous;
    const float distance = FaceChoice{}.max_distance;
    for (int i = 0; i < n; ++i) {
        if (crops[i].empty()) continue;
        const auto& box = faces[i].at("box");
        if (box[2].get<float>() < min_face_px) {
            ++kept.too_small;
            continue;
        }
        if (descriptor_distance(descriptors[i], median) > distance) {
            ++kept.other_person;
            continue;
        }
        // Turned so far that the nose tip is within a fifth of the jaw's width from its edge
        // (about 50 degrees and more): the landmarks, and so the alignment, are unreliable there.
        const double yaw = measure_face(crop_landmarks_of(faces[i])).yaw;
        if (yaw < 0.2 || yaw > 0.8) {
            ++kept.looking_away;
            continue;
        }
        if (sharp[i] < 0.35 * typical) {
            ++kept.blurred;
            continue;
        }
        cv::Mat small;
        cv::resize(crops[i], small, {32, 32}, 0, 0, cv::INTER_AREA);
        if (!previous.empty() && cv::norm(small, previous, cv::NORM_L1) / small.total() < 3.0) {
            ++kept.duplicates;
            continue;
        }
        previous = small;
        keep.push_back(faces[i]);
        ++kept.kept;
    }
    keep = balance_poses(keep, &kept.over_represented);
    kept.kept -= kept.over_represented;
    doc["faces"] = keep;
    doc["curated"] = counts_json(kept);
    write_face_set_json(set_dir, doc);
    return kept;
}

// Stage 1 for one identity: extract (unless done), then curate (unless done).
void prepare_identity(const char* label, const std::string& source, const fs::path& set_dir,
                      std::int64_t end_frame, const MakeModelOptions& options, int size,
                      float coverage, const IdentityEmbedder& embedder) {
    const fs::path done = set_dir / "curated.done";
    const std::string stamp = fs::absolute(source).string();
    if (fs::exists(done)) {
        std::string made_from;
        std::getline(std::ifstream(done), made_from);
        if (made_from != stamp)
            throw Error(ErrorCode::kInvalidArgument,
                        set_dir.string() + " holds the faces of " + made_from + ", not of " +
                            stamp + ": give another --out, or remove that folder to start over");
        std::fprintf(stderr, "[make-model] %s: faces of %s already prepared in %s\n", label,
                     source.c_str(), set_dir.string().c_str());
        return;
    }
    std::fprintf(stderr, "[make-model] %s: extracting faces from %s\n", label, source.c_str());
    progress_event(
        {{"event", "stage"}, {"stage", "faces"}, {"identity", label}, {"source", source}});
    const auto reader = capture::MediaReader::open(source);
    const std::int64_t frames = end_frame >= 0 ? end_frame : reader->frame_count();
    ExtractOptions extract;
    extract.input = source;
    extract.output_dir = set_dir.string();
    extract.model_dir = options.model_dir;
    extract.size = size;
    extract.coverage = coverage;
    // About max_faces frames, spread over the whole source.
    const std::int64_t wanted = std::max(1, options.max_faces);
    extract.every_nth_frame =
        static_cast<int>(std::max<std::int64_t>(1, (frames + wanted - 1) / wanted));
    extract.end_frame = end_frame;
    extract.largest_face_only = true;
    extract.threads = options.threads;
    // A set that could not be finished (a full disk, an interruption) is removed: it would
    // only hold the space a rerun needs, and the rerun extracts again anyway.
    Kept kept;
    try {
        if (run_extract(extract) != 0)
            throw Error(ErrorCode::kInvalidArgument, "no face found in " + source +
                                                         ": give a video or photos where " + label +
                                                         "'s face is clearly visible");
        kept = curate(set_dir, embedder, options.min_face_px);
    } catch (...) {
        std::error_code ignored;
        fs::remove_all(set_dir, ignored);
        throw;
    }
    std::fprintf(stderr,
                 "[make-model] %s: kept %d faces; dropped %d of another person, %d too small "
                 "(under %.0f px), %d blurred, %d looking too far away, %d near-duplicates, %d of "
                 "over-represented poses\n",
                 label, kept.kept, kept.other_person, kept.too_small, options.min_face_px,
                 kept.blurred, kept.looking_away, kept.duplicates, kept.over_represented);
    nlohmann::json curated = counts_json(kept);
    curated["event"] = "curated";
    curated["identity"] = label;
    progress_event(curated);
    constexpr int kMinimum = 32;  // what the trainer needs (Trainer::create)
    if (kept.kept < kMinimum) {
        const int more = kMinimum - kept.kept;
        throw Error(ErrorCode::kInvalidArgument,
                    std::string(label) + " has " + std::to_string(kept.kept) +
                        " usable faces; at least " + std::to_string(kMinimum) +
                        " are needed: add about " + std::to_string(more) + " more photos, or " +
                        std::to_string((more + 1) / 2) +
                        " more seconds of video, with the face large, sharp and front-on");
    }
    std::ofstream(done) << stamp << "\n";
}

}  // namespace

int run_make_model(const MakeModelOptions& options) {
    if (is_camera_source(options.source_b))
        throw Error(ErrorCode::kInvalidArgument,
                    "--b cannot be a camera: B is the other person; give their videos or photos");
    const fs::path out(options.out);
    const fs::path work = options.out + ".work";
    std::error_code ec;
    fs::create_directories(work, ec);
    if (ec)
        throw Error(ErrorCode::kInvalidArgument,
                    "cannot create the work folder " + work.string() + ": " + ec.message());
    // --a camera: record first; from here on the recording is A's source like any video.
    const bool from_camera = is_camera_source(options.source_a);
    const std::string source_a =
        from_camera
            ? record_camera(options.source_a, work, options.record_seconds, options.model_dir)
            : options.source_a;
    const bool quick = options.recipe == "quick";
    // standard: the demo model's shape and alignment, warm-started from it (its encoder and
    // decoders already draw faces: a few CPU minutes from scratch teach a model nothing of
    // identity, docs/make-model.md); quick: a small model from scratch.
    const std::string demo = quick ? std::string() : resolve_swap_model("");
    const bool warm = !demo.empty() && fs::exists(demo);
    if (!quick && !warm)
        std::fprintf(stderr,
                     "note: the demo model was not found: training from scratch, which "
                     "needs hours rather than minutes\n");
    const int size = quick ? 64 : 256;
    const float coverage = quick ? 0.8f : 0.75f;

    EngineConfig engine = EngineConfig::defaults();
    engine.model_dir = resolve_model_dir(options.model_dir);
    engine.cpu_threads = options.threads;
    const auto embedder = IdentityEmbedder::load(engine);

    const auto started = std::chrono::steady_clock::now();
    const auto seconds_since = [](std::chrono::steady_clock::time_point t) {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
    };
    const Split split_a = split_of(source_a);
    std::fprintf(stderr, "[make-model] stage 1/2: faces (A: %s, B: %s) into %s\n", source_a.c_str(),
                 options.source_b.c_str(), work.string().c_str());
    prepare_identity("A", source_a, work / "a", split_a.train_end, options, size, coverage,
                     *embedder);
    const auto a_done = std::chrono::steady_clock::now();
    prepare_identity("B", options.source_b, work / "b", -1, options, size, coverage, *embedder);
    const double faces_s = seconds_since(started);
    std::fprintf(stderr, "[make-model] faces took %s (A %s, B %s)\n",
                 format_duration(faces_s).c_str(),
                 format_duration(std::chrono::duration<double>(a_done - started).count()).c_str(),
                 format_duration(seconds_since(a_done)).c_str());
    const auto training_started = std::chrono::steady_clock::now();
    std::fprintf(stderr, "[make-model] stage 2/2: training %s for %s%s\n", options.out.c_str(),
                 options.time_budget.c_str(),
                 split_a.held_out.empty()
                     ? " (A is photos or a short video: no held-out frames, no quality checks)"
                     : (", quality checked on A's held-out frames " + split_a.held_out).c_str());
    progress_event({{"event", "stage"},
                    {"stage", "training"},
                    {"budget", options.time_budget},
                    {"quality_checks", !split_a.held_out.empty()},
                    {"preview", options.out + ".preview.png"},
                    {"chart", options.out + ".quality.png"}});
    TrainOptions train;
    train.set_a = (work / "a").string();
    train.set_b = (work / "b").string();
    train.name_a = !options.name_a.empty() ? options.name_a
                   : from_camera           ? std::string("me")
                                           : identity_name_of(source_a);
    train.name_b = options.name_b.empty() ? identity_name_of(options.source_b) : options.name_b;
    train.out = options.out;
    train.resume = fs::exists(out);
    train.time_budget = options.time_budget;
    train.refine_from = 0.8;  // the detail stage for the last fifth
    train.config.cpu_threads = options.threads;
    if (!quick) {
        train.config.resolution = 256;  // the demo model's: 256 px faces from a 128 px network
        train.config.output_upscale = 2;
        train.config.decoder_dims = 32;
        if (warm && !train.resume) train.config.init_from = demo;  // a resume has its own
    } else {
        train.config.resolution = 64;
        train.config.encoder_dims = 16;
        train.config.bottleneck_dims = 64;
        train.config.inter_dims = 32;
        train.config.decoder_dims = 16;
        train.config.mask_dims = 4;
        train.config.batch_size = 4;
        train.config.refine.dims = 8;
        train.config.refine.patch = 32;
        train.preview_every = 50;
        train.save_every = 100;
    }
    if (!split_a.held_out.empty()) {
        train.eval_video = source_a;
        train.eval_frames = split_a.held_out;
        train.eval_ref_a = source_a;
        train.eval_ref_b = options.source_b;
        train.eval_model_dir = options.model_dir;
        train.eval_every_s = quick ? 60 : 600;
        if (quick) train.eval_clips = 1, train.eval_clip_frames = 4, train.eval_ref_samples = 4;
    }
    const int code = run_train(train);
    if (code == 0 && training_was_stopped()) {
        std::fprintf(stderr,
                     "[make-model] stopped after %s; %s is saved where training stopped: run "
                     "again with the same arguments to resume\n",
                     format_duration(seconds_since(started)).c_str(), options.out.c_str());
        progress_event({{"event", "stopped"}, {"model", options.out}});
        return 0;
    }
    if (code == 0)
        progress_event({{"event", "done"},
                        {"model", options.out},
                        {"seconds", seconds_since(started)},
                        {"faces_s", faces_s},
                        {"training_s", seconds_since(training_started)}});
    if (code == 0)
        std::fprintf(stderr,
                     "[make-model] done in %s (faces %s, training and quality checks %s): %s "
                     "(try it: faceswap convert VIDEO out.mp4 --model %s; run again with the "
                     "same arguments to train on)\n",
                     format_duration(seconds_since(started)).c_str(),
                     format_duration(faces_s).c_str(),
                     format_duration(seconds_since(training_started)).c_str(), options.out.c_str(),
                     options.out.c_str());
    return code;
}

}  // namespace faceswap::cli
