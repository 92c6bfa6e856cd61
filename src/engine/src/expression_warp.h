// Expression following: a small warp of the generated face that gives its eyelids and lips the
// input's opening. The autoencoder paints an average expression of the rarer ones (blinks,
// wide eyes) however long it trains here; measured on the generated face itself and moved
// into place, the eyes and mouth follow the input without the input's own pixels, which carry
// its identity (docs/detail-stage.md).
#pragma once

#include <ATen/Tensor.h>

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
