#include "dlib_peer.h"

#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/opencv/cv_image.h>
#include <dlib/serialize.h>

#include <chrono>
#include <cmath>
#include <filesystem>

namespace faceswap::cli {

struct DlibPeer::Impl {
    dlib::frontal_face_detector detector = dlib::get_frontal_face_detector();
    dlib::shape_predictor predictor;
};

DlibPeer::DlibPeer(const std::string& predictor_path) : impl_(std::make_unique<Impl>()) {
    if (!std::filesystem::exists(predictor_path))
        throw std::runtime_error(predictor_path +
                                 " not found; install Debian's libdlib-data (make setup does)");
    dlib::deserialize(predictor_path) >> impl_->predictor;
}

DlibPeer::~DlibPeer() = default;

DlibFrameResult DlibPeer::run(const cv::Mat& bgr) {
    using Clock = std::chrono::steady_clock;
    const dlib::cv_image<dlib::bgr_pixel> image(bgr);
    DlibFrameResult result;
    auto start = Clock::now();
    const std::vector<dlib::rectangle> faces = impl_->detector(image);  // no upsampling
    result.detect_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    start = Clock::now();
    for (const auto& face : faces) {
        const dlib::full_object_detection shape = impl_->predictor(image, face);
        (void)shape;
    }
    result.landmarks_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    result.faces = static_cast<int>(faces.size());
    return result;
}

std::optional<Box> DlibPeer::largest_face(const cv::Mat& bgr) {
    const dlib::cv_image<dlib::bgr_pixel> image(bgr);
    std::optional<Box> best;
    for (const dlib::rectangle& r : impl_->detector(image)) {
        const Box box{static_cast<float>(r.left()), static_cast<float>(r.top()),
                      static_cast<float>(r.width()), static_cast<float>(r.height())};
        if (!best || box.width * box.height > best->width * best->height) best = box;
    }
    return best;
}

Landmarks68 DlibPeer::landmarks(const cv::Mat& bgr, const Box& box) {
    const dlib::cv_image<dlib::bgr_pixel> image(bgr);
    const dlib::rectangle rect(std::lround(box.x), std::lround(box.y),
                               std::lround(box.x + box.width), std::lround(box.y + box.height));
    const dlib::full_object_detection shape = impl_->predictor(image, rect);
    Landmarks68 points;
    for (int k = 0; k < kLandmarkCount; ++k)
        points[k] = {static_cast<float>(shape.part(k).x()), static_cast<float>(shape.part(k).y())};
    return points;
}

}  // namespace faceswap::cli
