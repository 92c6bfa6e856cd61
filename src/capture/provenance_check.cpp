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

ProvenanceCheck check_provenance(const std::string& path, int frames_wanted,
                                 const std::vector<std::string>& trust_files) {
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
    const bool watermarked = check.status == 0;
    if (is_image_file_name(path)) {
        const std::string provenance = read_image_provenance(path);
        check.findings.push_back("metadata: " +
                                 (provenance.empty() ? "no provenance line" : provenance));
    }
    // The certificates to trust: the user's, and this installation's own signer.
    std::vector<std::string> anchors;
    std::vector<std::string> files = trust_files;
    const std::string own = default_signing_dir() + "/signing-cert.pem";
    files.push_back(own);
    for (const std::string& file : files) {
        std::ifstream in(file, std::ios::binary);
        if (!in) {
            if (file != own)  // the installation's may simply not exist yet
                check.findings.push_back("error: cannot read the trusted certificate " + file);
            continue;
        }
        anchors.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    const CredentialsReading c2pa = read_content_credentials(path, anchors);
    using State = CredentialsReading::State;
    const std::string says = c2pa.generator + (c2pa.action.empty() ? "" : "; " + c2pa.action) +
                             (c2pa.description.empty() ? "" : "; " + c2pa.description) +
                             (c2pa.source.empty() ? "" : "; from " + c2pa.source);
    switch (c2pa.state) {
        case State::kNone:
            check.findings.push_back("C2PA manifest: none");
            break;
        case State::kInvalid:
            check.findings.push_back("C2PA manifest: INVALID: " + c2pa.reason);
            break;
        case State::kValid:
            check.findings.push_back("C2PA manifest: valid, signed by " + c2pa.signer +
                                     " (a signer this check does not trust: pass --trust "
                                     "CERT.pem to trust it); " +
                                     says);
            break;
        case State::kTrusted:
            check.findings.push_back("C2PA manifest: valid and trusted, signed by " + c2pa.signer +
                                     "; " + says);
            break;
    }
    const bool signed_valid = c2pa.state == State::kValid || c2pa.state == State::kTrusted;
    check.status = watermarked || signed_valid ? 0 : 1;
    return check;
}

}  // namespace faceswap::capture
