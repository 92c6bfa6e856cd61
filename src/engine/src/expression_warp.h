// Expression following: a small warp of the generated face that gives its eyelids and lips the
// input's opening. The autoencoder paints an average expression of the rarer ones (blinks,
// wide eyes) however long it trains here; measured on the generated face itself and moved
// into place, the eyes and mouth follow the input without the input's own pixels, which carry
// its identity. Only a blink, which the warp cannot paint (a lid the decoder never drew), takes
// the input's own closed eye, and only while it lasts (docs/detail-stage.md).
#pragma once

#include <ATen/Tensor.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "faceswap/engine.h"

namespace faceswap::detail {

class LandmarkNet68;

// The 68 landmarks of each face [N, 3, S, S] (0..1) in crop pixels, by the landmark net fed
// the same way as on frames: each face cropped to its box (crop pixels), padded to a square.
std::vector<Landmarks68> landmarks_in_crops(const LandmarkNet68& net, const at::Tensor& faces,
                                            const std::vector<Box>& boxes);

// Where the generated face's eyelids and lips go for the input's expression: each eye
// (36-41, 42-47) and the mouth (inner lips 60-67, and the outer lips above and below them)
// opens or closes by the difference of its opening (eye aspect ratio; the inner lips' gap over
// the mouth's width) between the input and the generated face, measured in each feature's own
// frame (its two corners). Only the opening moves: the corners, the lids' and lips' shape
// and thickness stay the generated face's, since they are part of who it is (moving the
// whole shape to the input's cost 19% of the identity margin). Other points are unchanged.
// Each opening changes by `eyes` or `mouth` times the difference, no point moving further
// than `max_move_px`: a warp that moves a point by more than about half its width can fold.
Landmarks68 expression_target(const Landmarks68& generated, const Landmarks68& input, float eyes,
                              float mouth, double max_move_px);

// How much more closed each eye of the input (left 36-41, right 42-47) is than the generated
// face's, in eye-aspect-ratio units (its lids' gap over its width, in its own frame):
// positive where the input's eye is closing further than the generated one.
std::array<double, 2> eye_closing(const Landmarks68& generated, const Landmarks68& input);

// The running mean of a few numbers per tracked face: over its first frames, then over about
// the last kUsualWindow. Two people's eyes rest at different openings (by the landmark net the
// demo model's B face is 0.013 more open than franck's input, and franck's 0.013 more open
// than cap13's), so a blink is a closing beyond the usual one; and the generated face's
// landmarks sit a usual distance from the input's (its shape), which the shape warp takes
// back. Safe to share between threads.
template <std::size_t N>
class UsualPerTrack {
  public:
    static constexpr int kUsualWindow = 150;
    using Values = std::array<double, N>;
    // The track's usual values with this frame's counted in. Faces without a track (-1)
    // share one entry.
    Values usual(int track_id, const Values& now) {
        std::lock_guard lock(mutex_);
        // Tracks come and go; a long session's dead ones are dropped all at once.
        if (tracks_.size() > 64 && !tracks_.count(track_id)) tracks_.clear();
        Usual& usual = tracks_[track_id];
        usual.frames = std::min(usual.frames + 1, kUsualWindow);
        for (std::size_t k = 0; k < N; ++k)
            usual.mean[k] += (now[k] - usual.mean[k]) / usual.frames;
        return usual.mean;
    }
    void clear() {
        std::lock_guard lock(mutex_);
        tracks_.clear();
    }

  private:
    struct Usual {
        Values mean{};
        int frames = 0;
    };
    std::mutex mutex_;
    std::unordered_map<int, Usual> tracks_;
};

// Per eye: left (36-41), right (42-47).
class UsualEyeClosing : public UsualPerTrack<2> {
  public:
    using PerEye = Values;
};

// Per landmark: the input's point minus the generated face's (x then y, crop pixels).
using UsualShapeOffset = UsualPerTrack<2 * kLandmarkCount>;

// The shape warp (FaceDetail::shape_follow): the generated face's jaw line (0-16) and nose
// (30-35, its tip and nostrils) moved toward where the input's usually sit. Two faces' shapes
// differ by a steady offset (on the demo model's held-out clips it is half of the landmark
// distance: the rendered identity's jaw sits 10-14% of the eye distance off the input's, its
// nose tip 8-10%), so each point moves by `strength` times its track's usual offset
// (UsualShapeOffset), never this frame's: the face takes the input's shape, not its expression.
// The nose bridge (27-29) stays: a warp as wide as the shape's moves the eyes' inner corners
// with it. Other points are unchanged.
UsualShapeOffset::Values shape_offset(const Landmarks68& generated, const Landmarks68& input);
Landmarks68 shape_target(const Landmarks68& generated, const UsualShapeOffset::Values& usual,
                         float strength);
// The shape warp's width: a quarter of the inter-ocular distance, so the jaw line moves as one
// smooth curve rather than point by point.
double shape_warp_sigma(const Landmarks68& face);

// How much of the input's own eye goes over a generated eye that stays open while the input's
// closes (a blink the decoder never learned and the warp cannot paint), from the closing
// beyond the usual one: nothing below kClosedEyeDeadZone (the frame-to-frame noise of the
// reading; an open eye of the input carries its iris and identity), rising to all of it
// kClosedEyeRamp further on. Times the expression strength.
inline constexpr double kClosedEyeDeadZone = 0.01;
inline constexpr double kClosedEyeRamp = 0.01;
float closed_eye_share(double closing);

// Warps a face [1, C, S, S] so that the pixels at `from` move to `to` (crop pixels), by a
// smooth displacement field (Gaussian radial basis through the points' moves, width
// `sigma_px`) that is zero at every point that does not move and fades out within a few sigma
// of those that do; points closer than sigma move together. Bicubic, so the untouched rest of
// the face is reproduced exactly and the moved part keeps its detail.
at::Tensor warp_face(const at::Tensor& face, const Landmarks68& from, const Landmarks68& to,
                     double sigma_px);

// The warp's width for a face: a twelfth of its inter-ocular distance (about 5 px at 256 px),
// small enough that an upper and a lower eyelid move apart independently.
double expression_warp_sigma(const Landmarks68& face);

}  // namespace faceswap::detail
