// Whose face is swapped in a frame with several people: one type for the engine, the wire
// protocol's hello, the server, the CLI and the app (docs/face-choice.md). Header-only.
#pragma once

#include <array>
#include <vector>

namespace faceswap {

// face-api's recogniser (a port of dlib's ResNet) maps a face to 128 numbers; two photos of
// one person lie closer than about 0.6 (Euclidean), photos of two people farther apart.
inline constexpr int kDescriptorSize = 128;
using FaceDescriptor = std::array<float, kDescriptorSize>;

enum class FaceChoiceMode {
    kAll,      // every face found
    kLargest,  // the largest face of each frame
    kPeople,   // only faces the recogniser matches to one of FaceChoice::people
};

struct FaceChoice {
    FaceChoiceMode mode = FaceChoiceMode::kAll;
    // kPeople: the reference descriptors (each the mean over a person's reference photos).
    std::vector<FaceDescriptor> people;
    // kPeople: a face within this distance of a reference is that person. 0.5 is measured on
    // face-api's group photos and the demo videos (docs/face-choice.md): stricter than dlib's
    // 0.6, so that a stranger is left alone even at the price of a missed frame.
    float max_distance = 0.5f;

    static constexpr int kMaxPeople = 8;
};

inline const char* face_choice_mode_name(FaceChoiceMode mode) {
    switch (mode) {
        case FaceChoiceMode::kLargest:
            return "largest";
        case FaceChoiceMode::kPeople:
            return "people";
        case FaceChoiceMode::kAll:
            break;
    }
    return "all";
}

}  // namespace faceswap
