// Sequential reading of a video file, one image, or a folder of images (sorted by name), for
// the offline tools (extract, bench). Frames come out as BGR cv::Mat, as fast as they decode.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace faceswap::capture {

// A source that cannot be opened or read; the message says what and what to do.
class MediaError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// The file names the tools read and write, by extension (any case): images OpenCV decodes and
// encodes (.jpg .jpeg .png .bmp .webp .tif .tiff), and the video files VideoFileWriter
// writes (.mp4 .mkv .mov).
bool is_image_file_name(const std::string& path);
bool is_video_file_name(const std::string& path);

struct DecodedFrame {
    cv::Mat bgr;
    std::int64_t index = 0;    // position in the source (frame number or image number)
    double timestamp_s = 0.0;  // from the video's frame rate; images count as 30 frames/s
    std::string name;          // image file name, or "frame N" for video
};

class MediaReader {
  public:
    // Opens a video file, an image file or a folder of images. Throws MediaError.
    static std::unique_ptr<MediaReader> open(const std::string& path);
    virtual ~MediaReader() = default;

    // The next frame; false at the end. An unreadable image in a folder is skipped and
    // counted in skipped(); a single unreadable image or a broken video throws MediaError.
    virtual bool next(DecodedFrame& frame) = 0;
    virtual std::int64_t frame_count() const = 0;  // best estimate, 0 if unknown
    virtual double frames_per_second() const = 0;
    virtual std::int64_t skipped() const { return 0; }
    // Whether the frames are separate photos (an image or a folder of images), not a video:
    // each stands alone (no tracking across them), may differ in size, and has no audio.
    virtual bool stills() const { return false; }
};

}  // namespace faceswap::capture
