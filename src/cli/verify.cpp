// faceswap verify FILE...: what marks a photo or video as made by this product. One line per
// finding: the invisible watermark (present or not, its payload, in how many of the frames
// looked at), the provenance line in a photo's metadata, and the C2PA manifest (not written
// yet: issue 27). Exit 0 when every file carries the watermark, 1 when one does not, 2 when one
// cannot be read.
#include <algorithm>
#include <cstdio>
#include <map>
#include <vector>

#include "commands.h"
#include "faceswap/capture/image_writer.h"
#include "faceswap/capture/media_reader.h"
#include "faceswap/capture/watermark.h"

namespace faceswap::cli {

int run_verify(const VerifyOptions& options) {
    const capture::Watermark watermark;
    int worst = 0;
    for (const std::string& path : options.files) {
        std::unique_ptr<capture::MediaReader> reader;
        try {
            reader = capture::MediaReader::open(path);
        } catch (const std::exception& e) {
            std::printf("%s: error: %s\n", path.c_str(), e.what());
            worst = 2;
            continue;
        }
        // A video: about options.frames frames spread over it; photos: each one.
        const std::int64_t count = reader->frame_count();
        const std::int64_t step =
            reader->stills() || count <= options.frames ? 1 : count / std::max(1, options.frames);
        std::map<std::uint32_t, int> payloads;
        int looked = 0, found = 0;
        std::vector<double> scores;
        std::vector<cv::Mat> frames;  // kept for reading them together
        capture::DecodedFrame frame;
        try {
            while (reader->next(frame)) {
                if (frame.index % step) continue;
                const auto reading = watermark.detect(frame.bgr);
                ++looked;
                scores.push_back(reading.sync_score);
                if (reading.found) ++found, ++payloads[reading.payload];
                if (frames.size() < static_cast<size_t>(options.frames))
                    frames.push_back(frame.bgr.clone());
            }
        } catch (const std::exception& e) {
            std::printf("%s: error: %s\n", path.c_str(), e.what());
            worst = 2;
            continue;
        }
        if (looked == 0) {
            std::printf("%s: error: no frame could be decoded\n", path.c_str());
            worst = 2;
            continue;
        }
        std::sort(scores.begin(), scores.end());
        const double median = scores[scores.size() / 2];
        if (found > 0) {
            const auto most =
                std::max_element(payloads.begin(), payloads.end(),
                                 [](const auto& a, const auto& b) { return a.second < b.second; });
            std::printf(
                "%s: watermark: present, payload 0x%08X, in %d of %d frame%s looked at "
                "(sync score median %.1f; found at %.1f and above)\n",
                path.c_str(), most->first, found, looked, looked == 1 ? "" : "s", median,
                capture::Watermark::kFoundScore);
        } else if (const auto together = watermark.detect_together(frames); together.found) {
            std::printf(
                "%s: watermark: present, payload 0x%08X, read from %d frames together "
                "(too small or compressed to read one by one; sync score median %.1f)\n",
                path.c_str(), together.payload, looked, median);
        } else {
            std::printf("%s: watermark: none in %d frame%s looked at (sync score median %.1f)\n",
                        path.c_str(), looked, looked == 1 ? "" : "s", median);
            worst = std::max(worst, 1);
        }
        if (capture::is_image_file_name(path)) {
            const std::string provenance = capture::read_image_provenance(path);
            std::printf("%s: metadata: %s\n", path.c_str(),
                        provenance.empty() ? "no provenance line" : provenance.c_str());
        }
        std::printf("%s: C2PA manifest: none (this version does not sign yet)\n", path.c_str());
    }
    return worst;
}

}  // namespace faceswap::cli
