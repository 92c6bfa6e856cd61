// Writing processed frames to a video file, with the visible "AI-generated" mark and
// provenance metadata. Uses the ffmpeg program when present (H.264, audio copied from a source
// file, container metadata); otherwise OpenCV's MPEG-4 writer, which can do neither, and says so.
#pragma once

#include <opencv2/core.hpp>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "faceswap/capture/content_credentials.h"

namespace cv {
class VideoWriter;
}

namespace faceswap::capture {

struct VideoWriterOptions {
    std::string path;
    int width = 0, height = 0;
    double fps = 25;
    std::string audio_source;   // take audio from this file when it has any ("" = none)
    double audio_offset_s = 0;  // where in audio_source the first frame starts
    std::string provenance;     // written as the container's comment, e.g. tool + model
    // Signed Content Credentials added when the file is finished (MP4); none when empty.
    std::optional<ContentSigning> signing;
};

class VideoFileWriter {
  public:
    // Throws MediaError when the file cannot be created.
    explicit VideoFileWriter(const VideoWriterOptions& options);
    ~VideoFileWriter();  // finishes the file if close() was not called
    VideoFileWriter(const VideoFileWriter&) = delete;
    VideoFileWriter& operator=(const VideoFileWriter&) = delete;

    void write(const cv::Mat& bgr);  // width x height BGR; throws MediaError on failure
    // Finishes the file; returns a note for the user ("" when audio and metadata were kept).
    std::string close();

  private:
    VideoWriterOptions options_;
    std::FILE* ffmpeg_ = nullptr;
    std::unique_ptr<cv::VideoWriter> fallback_;
    std::string temporary_;  // written here, renamed to path on success
    std::string log_;        // ffmpeg's messages
    // The one-line error for a failed write or close, naming the cause (disk full, or
    // ffmpeg's last message); removes the partial file.
    std::string failure(const std::string& doing);
};

// Whether the ffmpeg program can be run.
bool ffmpeg_available();

// Draws the visible "AI-generated" label in the bottom-right corner, sized to the frame.
void draw_ai_generated_mark(cv::Mat& bgr);

}  // namespace faceswap::capture
