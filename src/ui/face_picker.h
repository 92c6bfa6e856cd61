// Choosing who is swapped by clicking a face: finds the face under a point of a frame and
// describes it with the recogniser, the same descriptor `--faces PHOTO` makes from a photo.
// The nets load on first use and are kept; pick() is slow (a detection, a landmark pass and a
// recognition, plus the load the first time): call it off the GUI thread.
#pragma once

#include <QImage>
#include <QPointF>
#include <QRectF>

#include <memory>
#include <mutex>
#include <string>

#include "faceswap/face_choice.h"

namespace faceswap {
class FaceModels;
class IdentityEmbedder;
}  // namespace faceswap

namespace faceswap::ui {

struct PickedFace {
    FaceDescriptor descriptor{};
    QRectF box;  // the face's box in the frame
    int faces_in_frame = 0;
};

class FacePicker {
  public:
    explicit FacePicker(std::string face_model_dir);
    ~FacePicker();
    // The face under `point` (frame pixels) of `frame`, or, when the point is on no face, the
    // face whose centre is nearest within one face width of it. Throws faceswap::Error with a
    // message for the user when there is none (or the nets are missing).
    PickedFace pick(const QImage& frame, QPointF point);

  private:
    std::string face_model_dir_;
    std::mutex mutex_;  // one pick at a time; guards the nets' first load
    std::shared_ptr<const FaceModels> face_models_;
    std::shared_ptr<const IdentityEmbedder> embedder_;
};

}  // namespace faceswap::ui
