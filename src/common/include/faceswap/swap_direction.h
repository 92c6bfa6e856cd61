// Which way a swap goes, one type for the engine, the wire protocol, the server and the app.
// Header-only, no dependencies.
#pragma once

namespace faceswap {

// Which decoder renders the face: a2b puts identity B on a face of A.
enum class SwapDirection { kAToB, kBToA };

// "a2b" or "b2a", as the CLI, the config files and the protocol's hello spell it.
inline const char* direction_name(SwapDirection direction) {
    return direction == SwapDirection::kAToB ? "a2b" : "b2a";
}

}  // namespace faceswap
