#include "face_set.h"

#include "faceswap/capture/disk_space.h"

#include "faceswap/json_integer.h"

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace faceswap::cli {

namespace fs = std::filesystem;

namespace {

// A JPEG's width and height from its frame header (SOFn), without decoding it; false for data
// that is not a well-formed JPEG up to that header. A pack's faces are checked this way before
// OpenCV decodes them: a damaged or hostile header may claim gigapixels, and imdecode would
// allocate them before finding out (a fuzzer found 3.2 GB).
bool jpeg_dimensions(const std::uint8_t* bytes, std::size_t length, int& width, int& height) {
    if (length < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8) return false;
    std::size_t at = 2;
    while (at + 4 <= length) {
        if (bytes[at] != 0xFF) return false;
        const std::uint8_t marker = bytes[at + 1];
        if (marker == 0xFF) {  // fill byte
            ++at;
            continue;
        }
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {  // no length field
            at += 2;
            continue;
        }
        if (marker == 0xD9 || marker == 0xDA) return false;  // end or scan before any frame
        const std::size_t segment = (static_cast<std::size_t>(bytes[at + 2]) << 8) | bytes[at + 3];
        if (segment < 2 || at + 2 + segment > length) return false;
        const bool frame =
            marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
        if (frame) {
            if (segment < 7) return false;
            height = (bytes[at + 5] << 8) | bytes[at + 6];
            width = (bytes[at + 7] << 8) | bytes[at + 8];
            return true;
        }
        at += 2 + segment;
    }
    return false;
}

}  // namespace

FaceDecoder opencv_face_decoder() {
    return [](const std::uint8_t* bytes, std::size_t length, int size,
              std::vector<std::uint8_t>& rgb) {
        int width = 0, height = 0;
        if (!jpeg_dimensions(bytes, length, width, height) || width != size || height != size)
            return false;
        const cv::Mat encoded(1, static_cast<int>(length), CV_8UC1,
                              const_cast<std::uint8_t*>(bytes));
        cv::Mat bgr;
        try {
            bgr = cv::imdecode(encoded, cv::IMREAD_COLOR);
        } catch (const cv::Exception&) {
            return false;  // OpenCV throws for some damaged images instead of returning nothing
        }
        if (bgr.empty() || bgr.cols != size || bgr.rows != size) return false;
        cv::Mat converted;
        cv::cvtColor(bgr, converted, cv::COLOR_BGR2RGB);
        rgb.assign(converted.data, converted.data + converted.total() * 3);
        return true;
    };
}

std::string identity_name_of(const std::string& path) {
    fs::path p(path);
    while (!p.empty() && p.filename().empty()) p = p.parent_path();  // trailing slash
    std::string name = p.stem().string();
    return name.empty() ? "unnamed" : name;
}

namespace {

// A relative path that stays below its folder: not absolute, no "..", no NUL.
bool is_path_inside(const std::string& file) {
    if (file.empty() || file.find('\0') != std::string::npos) return false;
    const fs::path path(file);
    if (path.is_absolute()) return false;
    for (const auto& part : path)
        if (part == "..") return false;
    return true;
}

}  // namespace

Landmarks68 crop_landmarks_of(const nlohmann::json& face) {
    const auto& m = face.at("image_to_aligned");
    const auto& points = face.at("landmarks");
    if (m.size() != 6 || points.size() != kLandmarkCount)
        throw std::runtime_error("a face entry has malformed landmarks or transform");
    Affine2x3 image_to_aligned;
    Landmarks68 image_points;
    // at(): operator[] on a const JSON array does not check the index.
    for (int i = 0; i < 6; ++i) image_to_aligned[i] = m.at(i).get<float>();
    for (int i = 0; i < kLandmarkCount; ++i)
        image_points[i] = {points.at(i).at(0).get<float>(), points.at(i).at(1).get<float>()};
    return transform_landmarks(image_points, image_to_aligned);
}

void write_face_set_json(const fs::path& dir, const nlohmann::json& doc) {
    const fs::path partial = dir / "faces.json.partial";
    {
        std::ofstream out(partial);
        out << doc.dump(1) << '\n';
        if (!out) {
            out.close();
            fs::remove(partial);
            throw std::runtime_error("cannot write " + partial.string() + ": " +
                                     (capture::low_on_disk_space(dir)
                                          ? "the disk is full; free some space and run again"
                                          : "no permission to write there?"));
        }
    }
    fs::rename(partial, dir / "faces.json");
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
    // Where the faces came from (extract's "sources"), kept in the model; "" in older sets.
    if (const auto sources = doc.find("sources"); sources != doc.end() && sources->is_array())
        set.sources = sources->dump();
    *skipped = 0;
    try {
        set.size = json_integer<int>(doc.at("size")).value_or(0);  // a float: implausible
        set.coverage = doc.at("coverage").get<float>();
        // The same bounds as a face pack's: a set from elsewhere must not size a huge buffer.
        if (set.size < 16 || set.size > 2048 || !(set.coverage > 0.f && set.coverage < 4.f))
            throw std::runtime_error(json_path.string() + " declares an implausible size " +
                                     std::to_string(set.size) + " or coverage; extract it again");
        const auto& faces = doc.at("faces");
        if (!faces.is_array())
            throw std::runtime_error(json_path.string() + ": 'faces' is not a list");
        cv::Mat rgb;
        for (const auto& face : faces) {
            // Crops lie inside the set's folder (faces/NAME.png): a path out of it could read
            // any image of the machine.
            const auto file = face.at("file").get<std::string>();
            if (!is_path_inside(file))
                throw std::runtime_error(json_path.string() + ": crop '" + file +
                                         "' is not a path inside the set's folder");
            const cv::Mat bgr = cv::imread((fs::path(dir) / file).string(), cv::IMREAD_COLOR);
            if (bgr.empty()) {
                ++*skipped;
                continue;
            }
            if (bgr.cols != set.size || bgr.rows != set.size)
                throw std::runtime_error(file + " is " + std::to_string(bgr.cols) + "x" +
                                         std::to_string(bgr.rows) + ", the set says " +
                                         std::to_string(set.size));
            const Landmarks68 landmarks = crop_landmarks_of(face);
            cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
            set.rgb.insert(set.rgb.end(), rgb.data, rgb.data + rgb.total() * 3);
            set.landmarks.push_back(landmarks);
        }
    } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error(json_path.string() + " is not a face set (" + e.what() +
                                 "); extract it again with 'faceswap extract'");
    }
    return set;
}

}  // namespace faceswap::cli
