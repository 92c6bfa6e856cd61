#include "faceswap/capture/media_reader.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include <algorithm>
#include <filesystem>
#include <vector>

namespace faceswap::capture {
namespace {

namespace fs = std::filesystem;

std::string lower_extension(const std::string& path) {
    std::string ext = fs::path(path).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
    return ext;
}

class VideoReader final : public MediaReader {
  public:
    explicit VideoReader(const std::string& path) : path_(path) {
        if (!capture_.open(path, cv::CAP_FFMPEG) || !capture_.isOpened())
            throw MediaError(path + ": cannot open as a video (unsupported or corrupt file)");
        fps_ = capture_.get(cv::CAP_PROP_FPS);
        if (!(fps_ > 0 && fps_ < 1000)) fps_ = 30.0;
        count_ = static_cast<std::int64_t>(capture_.get(cv::CAP_PROP_FRAME_COUNT));
    }
    bool next(DecodedFrame& frame) override {
        if (!capture_.read(frame.bgr) || frame.bgr.empty()) {
            if (index_ == 0) throw MediaError(path_ + ": the video has no decodable frames");
            return false;
        }
        frame.index = index_;
        frame.timestamp_s = index_ / fps_;
        frame.name = "frame " + std::to_string(index_);
        ++index_;
        return true;
    }
    std::int64_t frame_count() const override { return std::max<std::int64_t>(count_, 0); }
    double frames_per_second() const override { return fps_; }

  private:
    std::string path_;
    cv::VideoCapture capture_;
    double fps_ = 30.0;
    std::int64_t count_ = 0;
    std::int64_t index_ = 0;
};

class ImageListReader final : public MediaReader {
  public:
    ImageListReader(std::vector<fs::path> files, bool single)
        : files_(std::move(files)), single_(single) {}
    bool next(DecodedFrame& frame) override {
        while (position_ < files_.size()) {
            const fs::path& file = files_[position_];
            frame.index = static_cast<std::int64_t>(position_);
            frame.timestamp_s = position_ / 30.0;
            frame.name = file.filename().string();
            ++position_;
            frame.bgr = cv::imread(file.string(), cv::IMREAD_COLOR);
            if (!frame.bgr.empty()) return true;
            if (single_)
                throw MediaError(file.string() + ": not a readable image (empty or corrupt file)");
            ++skipped_;
        }
        return false;
    }
    std::int64_t frame_count() const override { return static_cast<std::int64_t>(files_.size()); }
    double frames_per_second() const override { return 30.0; }
    std::int64_t skipped() const override { return skipped_; }
    bool stills() const override { return true; }

  private:
    std::vector<fs::path> files_;
    bool single_;
    size_t position_ = 0;
    std::int64_t skipped_ = 0;
};

}  // namespace

bool is_image_file_name(const std::string& path) {
    const std::string ext = lower_extension(path);
    return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp" || ext == ".webp" ||
           ext == ".tif" || ext == ".tiff";
}

bool is_video_file_name(const std::string& path) {
    const std::string ext = lower_extension(path);
    return ext == ".mp4" || ext == ".mkv" || ext == ".mov";
}

std::unique_ptr<MediaReader> MediaReader::open(const std::string& path) {
    std::error_code ec;
    const fs::path p(path);
    if (!fs::exists(p, ec)) throw MediaError(path + ": no such file or folder");
    if (fs::is_directory(p, ec)) {
        std::vector<fs::path> files;
        for (const auto& entry : fs::directory_iterator(p, ec))
            if (entry.is_regular_file() && is_image_file_name(entry.path().string()))
                files.push_back(entry.path());
        if (files.empty())
            throw MediaError(path + ": the folder holds no images (.jpg, .png, ...)");
        std::sort(files.begin(), files.end());
        return std::make_unique<ImageListReader>(std::move(files), false);
    }
    if (fs::file_size(p, ec) == 0) throw MediaError(path + ": the file is empty");
    if (is_image_file_name(path))
        return std::make_unique<ImageListReader>(std::vector<fs::path>{p}, true);
    return std::make_unique<VideoReader>(path);
}

}  // namespace faceswap::capture
