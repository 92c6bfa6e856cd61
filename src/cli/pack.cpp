// faceswap pack: a face set folder (PNG crops + faces.json) into one compact face pack (JPEG
// faces + landmarks), to carry training data to a machine that has only LibTorch.
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cstdio>
#include <filesystem>

#include "commands.h"
#include "face_set.h"
#include "faceswap/face_pack.h"

namespace faceswap::cli {

namespace {

// `count` faces of `set` spread evenly over it (the whole range of poses, not its first shots).
FaceSet evenly_spaced(const FaceSet& set, int count) {
    FaceSet subset{set.name, set.size, set.coverage, {}, {}, set.sources};
    const std::size_t face_bytes = static_cast<std::size_t>(set.size) * set.size * 3;
    for (int k = 0; k < count; ++k) {
        const std::size_t i = static_cast<std::size_t>(k) * set.count() / count;
        subset.rgb.insert(subset.rgb.end(), set.rgb.begin() + i * face_bytes,
                          set.rgb.begin() + (i + 1) * face_bytes);
        subset.landmarks.push_back(set.landmarks[i]);
    }
    return subset;
}

}  // namespace

int run_pack(const PackOptions& options) {
    int skipped = 0;
    const std::string name =
        options.name.empty() ? identity_name_of(options.set_dir) : options.name;
    FaceSet set = load_face_set(options.set_dir, name, &skipped);
    if (set.count() == 0)
        throw std::runtime_error(options.set_dir + " holds no readable faces to pack");
    if (options.max_faces > 0 && options.max_faces < set.count())
        set = evenly_spaced(set, options.max_faces);
    const int quality = options.jpeg_quality;
    const FaceEncoder encoder = [quality](const std::uint8_t* rgb, int size,
                                          std::vector<std::uint8_t>& bytes) {
        const cv::Mat image(size, size, CV_8UC3, const_cast<std::uint8_t*>(rgb));
        cv::Mat bgr;
        cv::cvtColor(image, bgr, cv::COLOR_RGB2BGR);
        return cv::imencode(".jpg", bgr, bytes, {cv::IMWRITE_JPEG_QUALITY, quality});
    };
    write_face_pack(set, options.out,
                    options.raw ? FacePackEncoding::kRaw : FacePackEncoding::kJpeg, encoder);
    const auto bytes = std::filesystem::file_size(options.out);
    std::printf(
        "packed %d faces of '%s' (%d px, coverage %.2f) into %s: %.1f MB (%s)%s\n", set.count(),
        set.name.c_str(), set.size, set.coverage, options.out.c_str(), bytes / 1e6,
        options.raw ? "raw" : ("JPEG quality " + std::to_string(quality)).c_str(),
        skipped ? (", " + std::to_string(skipped) + " unreadable crops skipped").c_str() : "");
    return 0;
}

}  // namespace faceswap::cli
