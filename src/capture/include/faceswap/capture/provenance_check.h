// What marks a photo or video as made by this product, checked the same way by `faceswap
// verify` and the app's "Check a file": the invisible watermark (present or not, its payload,
// in how many of the frames looked at), the provenance line in a photo's metadata, and the C2PA
// manifest (not written yet: docs/provenance.md).
#pragma once

#include <string>
#include <vector>

namespace faceswap::capture {

struct ProvenanceCheck {
    int status = 0;                     // 0 the watermark is there, 1 it is not, 2 unreadable
    std::vector<std::string> findings;  // one line each ("watermark: present, payload ...")
};

// Looks at about `frames` frames spread over a video (every frame of a photo), and checks the
// file's C2PA manifest with our own reader, trusting the certificates in `trust_files` (PEM) and
// this installation's own. Status 0 when the watermark or a valid manifest is there. Never
// throws: a file that cannot be read is status 2 with one "error: ..." finding.
ProvenanceCheck check_provenance(const std::string& path, int frames = 60,
                                 const std::vector<std::string>& trust_files = {});

}  // namespace faceswap::capture
