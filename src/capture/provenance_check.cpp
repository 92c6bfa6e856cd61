#include "faceswap/capture/provenance_check.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>

#include "faceswap/capture/content_credentials.h"
#include "faceswap/capture/image_writer.h"
#include "faceswap/capture/media_reader.h"
#include "faceswap/capture/watermark.h"

namespace faceswap::capture {
namespace {

template <typename... Args>
std::string format(const char* pattern, Args... args) {
    char line[512];
    std::snprintf(line, sizeof line, pattern, args...);
    return line;
}

}  // namespace

ProvenanceCheck check_provenance(const std::string& path, int frames_wanted) {
    ProvenanceCheck check;
    const auto fail = [&](const std::string& why) {
        check.status = 2;
        check.findings.push_back("error: " + why);
        return check;
    };
    const Watermark watermark;
    std::unique_ptr<MediaReader> reader;
    try {
        reader = MediaReader::open(path);
    } catch (const std::exception& e) {
        return fail(e.what());
    }
    // A video: about frames_wanted frames spread over it; photos: each one.
    const std::int64_t count = reader->frame_count();
    const std::int64_t step =
        reader->stills() || count <= frames_wanted ? 1 : count / std::max(1, frames_wanted);
    std::map<std::uint32_t, int> payloads;
    int looked = 0, found = 0;
    std::vector<double> scores;
    std::vector<cv::Mat> frames;  // kept for reading them together
    DecodedFrame frame;
    try {
        while (reader->next(frame)) {
            if (frame.index % step) continue;
            const auto reading = watermark.detect(frame.bgr);
            ++looked;
            scores.push_back(reading.sync_score);
            if (reading.found) ++found, ++payloads[reading.payload];
            if (frames.size() < static_cast<size_t>(frames_wanted))
                frames.push_back(frame.bgr.clone());
        }
    } catch (const std::exception& e) {
        return fail(e.what());
    }
    if (looked == 0) return fail("no frame could be decoded");
    std::sort(scores.begin(), scores.end());
    const double median = scores[scores.size() / 2];
    if (found > 0) {
        const auto most =
            std::max_element(payloads.begin(), payloads.end(),
                             [](const auto& a, const auto& b) { return a.second < b.second; });
        check.findings.push_back(format(
            "watermark: present, payload 0x%08X, in %d of %d frame%s looked at (sync score "
            "median %.1f; found at %.1f and above)",
            most->first, found, looked, looked == 1 ? "" : "s", median, Watermark::kFoundScore));
    } else if (const auto together = watermark.detect_together(frames); together.found) {
        check.findings.push_back(
            format("watermark: present, payload 0x%08X, read from %d frames together (too small "
                   "or compressed to read one by one; sync score median %.1f)",
                   together.payload, looked, median));
    } else {
        check.findings.push_back(
            format("watermark: none in %d frame%s looked at (sync score "
                   "median %.1f)",
                   looked, looked == 1 ? "" : "s", median));
        check.status = 1;
    }
    if (is_image_file_name(path)) {
        const std::string provenance = read_image_provenance(path);
        check.findings.push_back("metadata: " +
                                 (provenance.empty() ? "no provenance line" : provenance));
    }
    if (const std::size_t size = content_credentials_in_file(path); size > 0)
        check.findings.push_back(
            format("C2PA manifest: present (%zu bytes of signed Content Credentials; this version "
                   "does not validate them: check them with a C2PA verifier)",
                   size));
    else
        check.findings.push_back("C2PA manifest: none");
    return check;
}

}  // namespace faceswap::capture
