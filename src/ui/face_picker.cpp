#include "face_picker.h"

#include <cmath>
#include <limits>

#include "faceswap/engine.h"
#include "faceswap/identity.h"

namespace faceswap::ui {

FacePicker::FacePicker(std::string face_model_dir) : face_model_dir_(std::move(face_model_dir)) {}
FacePicker::~FacePicker() = default;

PickedFace FacePicker::pick(const QImage& frame, QPointF point) {
    std::lock_guard lock(mutex_);
    EngineConfig config = EngineConfig::defaults();
    config.model_dir = face_model_dir_;
    config.tracking = false;           // one frame on its own
    config.device = DeviceKind::kCpu;  // one face, once: never worth a GPU context here
    if (!face_models_) face_models_ = FaceModels::load(config);
    if (!embedder_) embedder_ = IdentityEmbedder::load(config);

    const QImage bgr = frame.convertToFormat(QImage::Format_BGR888);
    const FrameView view{bgr.constBits(), bgr.width(), bgr.height(),
                         static_cast<int>(bgr.bytesPerLine()), PixelFormat::BGR24};
    FaceAnalyzer analyzer(face_models_, config);
    const FrameAnalysis analysis = analyzer.analyze(view);
    if (analysis.faces.empty())
        throw Error(ErrorCode::kInvalidArgument,
                    "No face found in this frame: click a face when it is clearly visible.");
    // The smallest box holding the point (a face in front of a larger one), else the nearest
    // centre within one face width.
    const Face* chosen = nullptr;
    double best = std::numeric_limits<double>::infinity();
    for (const Face& face : analysis.faces) {
        const QRectF box(face.box.x, face.box.y, face.box.width, face.box.height);
        const double area = box.width() * box.height();
        if (box.contains(point) && area < best) {
            best = area;
            chosen = &face;
        }
    }
    if (!chosen) {
        for (const Face& face : analysis.faces) {
            const double dx = face.box.x + face.box.width / 2 - point.x();
            const double dy = face.box.y + face.box.height / 2 - point.y();
            const double distance = std::hypot(dx, dy);
            if (distance < face.box.width && distance < best) {
                best = distance;
                chosen = &face;
            }
        }
    }
    if (!chosen)
        throw Error(ErrorCode::kInvalidArgument,
                    "No face where you clicked (" + std::to_string(analysis.faces.size()) +
                        (analysis.faces.size() == 1 ? " face" : " faces") +
                        " in this frame): click on the face of the person to swap.");
    PickedFace picked;
    picked.descriptor = embedder_->embed(view, {*chosen}).at(0);
    picked.box = QRectF(chosen->box.x, chosen->box.y, chosen->box.width, chosen->box.height);
    picked.faces_in_frame = static_cast<int>(analysis.faces.size());
    return picked;
}

}  // namespace faceswap::ui
