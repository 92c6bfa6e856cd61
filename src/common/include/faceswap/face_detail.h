// How much detail a swap takes from where: one type for the engine, the wire protocol's hello,
// the server, the CLI and the app (docs/detail-stage.md). Header-only, no dependencies.
#pragma once

namespace faceswap {

struct FaceDetail {
    // How much of the model's detail stage is applied: 0 (the decoder's face as it is) to 1
    // (the refined face). A model without the stage ignores it.
    float detail_strength = 1.0f;
    // The input's own mouth interior (inside the inner lips, feathered) over the generated
    // face, 0 to 1 (Deep-Live-Cam's "mouth mask"): real teeth and tongue.
    float mouth_interior = 0.0f;
    // The input's own fine texture (its luminance minus a blur of sigma 1.5 px at 256 px)
    // added inside the face, 0 to 1 (VisoMaster's "transfer texture"): eyelid lines and teeth
    // edges that follow the input. At 1 it tops the face's finest detail up to the input's
    // level and never beyond, so a face the model already draws as sharp as the input gets
    // none (the input's texture carries some of its identity too). On by default: a2b detail
    // 0.32 -> 0.52 at 97% of the identity margin (docs/detail-stage.md).
    float texture_transfer = 1.0f;
    // How far the generated face's eyelids and lips are moved to the input's opening, 0 to 1:
    // the face's own pixels, warped (wide eyes, an open mouth follow the input; the
    // autoencoder alone paints an average of them), and on a blink, which a warp cannot
    // paint, the input's own closed eye for as long as it lasts. Measured on the generated
    // face by the landmark net, so it costs one landmark pass per face (docs/detail-stage.md).
    float expression_follow = 1.0f;
    // How far the generated face's jaw line and nose tip move to where the input's usually
    // sit, 0 to 1: 0 keeps the rendered identity's own face shape, 1 takes the input's (as a
    // swap that only replaces the inside of the face does). The usual place per tracked face,
    // so expression is left to expression_follow. Off by default: on the demo model 0.5 takes
    // the landmark distance from 5.2% to 4.5% of the eye distance (a2b) but keeps only 77% of
    // the identity margin (docs/detail-stage.md). Needs the same landmark pass as
    // expression_follow.
    float shape_follow = 0.0f;
};

// Every setting by the name the hello, the CLI's help and the app's settings file use. All
// range from 0 to 1.
struct FaceDetailSetting {
    const char* name;
    float FaceDetail::*value;
};
inline constexpr FaceDetailSetting kFaceDetailSettings[] = {
    {"detail_strength", &FaceDetail::detail_strength},
    {"mouth_interior", &FaceDetail::mouth_interior},
    {"texture_transfer", &FaceDetail::texture_transfer},
    {"expression_follow", &FaceDetail::expression_follow},
    {"shape_follow", &FaceDetail::shape_follow},
};

}  // namespace faceswap
