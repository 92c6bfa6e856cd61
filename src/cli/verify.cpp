// faceswap verify FILE...: what marks a photo or video as made by this product, one line per
// finding (capture::check_provenance, which the app's "Check a file" shares). Exit 0 when every
// file carries the watermark or a valid C2PA manifest, 1 when one carries neither, 2 when one
// cannot be read.
#include <algorithm>
#include <cstdio>

#include "commands.h"
#include "faceswap/capture/provenance_check.h"

namespace faceswap::cli {

int run_verify(const VerifyOptions& options) {
    int worst = 0;
    for (const std::string& path : options.files) {
        const capture::ProvenanceCheck check =
            capture::check_provenance(path, options.frames, options.trust);
        for (const std::string& finding : check.findings)
            std::printf("%s: %s\n", path.c_str(), finding.c_str());
        worst = std::max(worst, check.status);
    }
    return worst;
}

}  // namespace faceswap::cli
