// Identity embedding: face-api's face recognition net (a port of dlib's ResNet face
// recogniser) in LibTorch. It maps a face to a 128-d descriptor; two photos of one person
// lie closer than about 0.6 (Euclidean), photos of different people farther apart.
//
//   auto embedder = faceswap::IdentityEmbedder::load(config);   // reads face_recognition.fsmodel
//   FrameAnalysis analysis = analyzer.analyze(frame);
//   auto descriptors = embedder->embed(frame, analysis.faces);  // one per face, same order
//   bool same = faceswap::descriptor_distance(descriptors[0], reference) < kSamePersonDistance;
//
// The face is cut out exactly as face-api's withFaceDescriptors() does (identity_crop_box),
// so descriptors are comparable with face-api's own. Immutable once loaded: embed() may be
// called from any number of threads. No Torch type appears here; errors are faceswap::Error.
#pragma once

#include <array>
#include <memory>
#include <vector>

#include "faceswap/engine.h"
#include "faceswap/face_choice.h"  // FaceDescriptor

namespace faceswap {

// dlib's decision threshold for "same person" (its LFW accuracy is quoted at this distance).
inline constexpr float kSamePersonDistance = 0.6f;

class IdentityEmbedder {
  public:
    // Loads config.model_dir/face_recognition.fsmodel on config.device. Throws Error
    // (kModelMissing, kModelCorrupt, kModelVersion, kDeviceUnavailable) with a message to act on.
    static std::shared_ptr<const IdentityEmbedder> load(const EngineConfig& config);
    ~IdentityEmbedder();
    IdentityEmbedder(const IdentityEmbedder&) = delete;
    IdentityEmbedder& operator=(const IdentityEmbedder&) = delete;

    // One descriptor per face, cut out with identity_crop_box from the face's raw landmarks.
    // A face whose crop falls outside the frame gets an all-zero descriptor (as face-api).
    std::vector<FaceDescriptor> embed(const FrameView& frame, const std::vector<Face>& faces) const;

    // Descriptors of given rectangles (whole pixels; clipped at the frame border), each padded
    // to a centred square and resized to 150x150 as face-api does.
    std::vector<FaceDescriptor> embed_boxes(const FrameView& frame,
                                            const std::vector<Box>& boxes) const;

    std::string device_name() const;

    struct Impl;

  private:
    explicit IdentityEmbedder(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// The rectangle face-api hands to its recognition net (FaceLandmarks.align with
// useDlibAlignment): a square of side floor(eye-to-mouth distance / 0.45) whose point (0.5,
// 0.43) sits on the mean of the eye and mouth centres, corner floored and kept >= 0, then
// clipped at the frame border. Its width is also capped at (landmark crop width + x), and its
// height likewise, a face-api quirk kept so that descriptors match; the landmark crop is
// face.box clipped and floored. Returns an empty box when nothing of it lies in the frame.
Box identity_crop_box(const Face& face, int image_width, int image_height);

float descriptor_distance(const FaceDescriptor& a, const FaceDescriptor& b);

// The element-wise mean (a person's reference descriptor over many frames); throws Error
// (kInvalidArgument) for an empty list.
FaceDescriptor mean_descriptor(const std::vector<FaceDescriptor>& descriptors);

}  // namespace faceswap
