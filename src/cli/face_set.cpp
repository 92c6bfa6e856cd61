#include "face_set.h"

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace faceswap::cli {

namespace fs = std::filesystem;

std::string identity_name_of(const std::string& path) {
    fs::path p(path);
    while (!p.empty() && p.filename().empty()) p = p.parent_path();  // trailing slash
    std::string name = p.stem().string();
    return name.empty() ? "unnamed" : name;
}

FaceSet load_face_set(const std::string& dir, const std::string& name, int* skipped) {
    const fs::path json_path = fs::path(dir) / "faces.json";
    std::ifstream in(json_path);
    if (!in)
        throw std::runtime_error(json_path.string() +
                                 " not found; make the face set with 'faceswap extract VIDEO " +
                                 dir + "'");
    nlohmann::json doc;
    try {
        doc = nlohmann::json::parse(in);
    } catch (const std::exception& e) {
        throw std::runtime_error(json_path.string() + " is not valid JSON (" + e.what() +
                                 "); extract the face set again");
    }
    FaceSet set;
    set.name = name;
    *skipped = 0;
    try {
        set.size = doc.at("size").get<int>();
        set.coverage = doc.at("coverage").get<float>();
        const auto& faces = doc.at("faces");
        set.rgb.reserve(faces.size() * set.size * set.size * 3);
        cv::Mat rgb;
        for (const auto& face : faces) {
            const cv::Mat bgr = cv::imread(
                (fs::path(dir) / face.at("file").get<std::string>()).string(), cv::IMREAD_COLOR);
            if (bgr.empty()) {
                ++*skipped;
                continue;
            }
            if (bgr.cols != set.size || bgr.rows != set.size)
                throw std::runtime_error(face.at("file").get<std::string>() + " is " +
                                         std::to_string(bgr.cols) + "x" + std::to_string(bgr.rows) +
                                         ", the set says " + std::to_string(set.size));
            const auto& m = face.at("image_to_aligned");
            const auto& points = face.at("landmarks");
            if (m.size() != 6 || points.size() != kLandmarkCount)
                throw std::runtime_error("a face entry has malformed landmarks or transform");
            Affine2x3 image_to_aligned;
            Landmarks68 image_points;
            for (int i = 0; i < 6; ++i) image_to_aligned[i] = m[i].get<float>();
            for (int i = 0; i < kLandmarkCount; ++i)
                image_points[i] = {points[i][0].get<float>(), points[i][1].get<float>()};
            cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
            set.rgb.insert(set.rgb.end(), rgb.data, rgb.data + rgb.total() * 3);
            set.landmarks.push_back(transform_landmarks(image_points, image_to_aligned));
        }
    } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error(json_path.string() + " is not a face set (" + e.what() +
                                 "); extract it again with 'faceswap extract'");
    }
    return set;
}

}  // namespace faceswap::cli
