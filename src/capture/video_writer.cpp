#include "faceswap/capture/video_writer.h"

#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>

#include "faceswap/capture/media_reader.h"

namespace faceswap::capture {
namespace {

// Single quotes for /bin/sh, with embedded quotes escaped.
std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += (c == '\'') ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

}  // namespace

bool ffmpeg_available() {
    return std::system("ffmpeg -hide_banner -version > /dev/null 2>&1") == 0;
}

void draw_ai_generated_mark(cv::Mat& bgr) {
    const std::string text = "AI-generated";
    const double scale = std::max(0.35, bgr.rows / 720.0);
    const int thickness = std::max(1, static_cast<int>(std::round(scale * 1.5)));
    int baseline = 0;
    const cv::Size size =
        cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, scale, thickness, &baseline);
    const int pad = std::max(3, static_cast<int>(6 * scale));
    const cv::Rect box(bgr.cols - size.width - 3 * pad, bgr.rows - size.height - baseline - 3 * pad,
                       size.width + 2 * pad, size.height + baseline + 2 * pad);
    const cv::Rect clipped = box & cv::Rect(0, 0, bgr.cols, bgr.rows);
    if (clipped.area() == 0) return;
    cv::Mat region = bgr(clipped);
    region = region * 0.35;  // darken behind the text so it reads on any background
    cv::putText(bgr, text, cv::Point(box.x + pad, box.y + pad + size.height),
                cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(255, 255, 255), thickness, cv::LINE_AA);
}

VideoFileWriter::VideoFileWriter(const VideoWriterOptions& options) : options_(options) {
    namespace fs = std::filesystem;
    const fs::path out(options.path);
    const fs::path dir = out.has_parent_path() ? out.parent_path() : fs::path(".");
    if (!fs::is_directory(dir))
        throw MediaError("cannot write " + options.path + ": folder " + dir.string() +
                         " does not exist");
    temporary_ =
        (dir / (".partial-" + std::to_string(::getpid()) + "-" + out.filename().string())).string();
    if (out.extension() != ".mp4" && out.extension() != ".mkv" && out.extension() != ".mov")
        throw MediaError("cannot write " + options.path + ": use a .mp4, .mkv or .mov file name");
    if (ffmpeg_available()) {
        std::string command = "ffmpeg -hide_banner -loglevel error -y -f rawvideo -pix_fmt bgr24";
        command += " -s " + std::to_string(options.width) + "x" + std::to_string(options.height);
        command += " -r " + std::to_string(options.fps) + " -i -";
        if (!options.audio_source.empty())
            command += " -ss " + std::to_string(options.audio_offset_s) + " -i " +
                       shell_quote(options.audio_source) + " -map 0:v:0 -map 1:a:0? -c:a aac";
        command += " -c:v libx264 -preset veryfast -crf 18 -pix_fmt yuv420p -shortest";
        command += " -metadata comment=" + shell_quote(options.provenance);
        command += " -metadata title=" + shell_quote("AI-generated");
        command += " " + shell_quote(temporary_);
        std::signal(SIGPIPE, SIG_IGN);  // a dying ffmpeg must give an error, not kill us
        ffmpeg_ = ::popen(command.c_str(), "w");
        if (!ffmpeg_) throw MediaError("cannot start ffmpeg to write " + options.path);
    } else {
        fallback_ = std::make_unique<cv::VideoWriter>(
            temporary_, cv::VideoWriter::fourcc('m', 'p', '4', 'v'), options.fps,
            cv::Size(options.width, options.height));
        if (!fallback_->isOpened())
            throw MediaError("cannot create video file " + options.path +
                             " (disk full, no permission, or no encoder?)");
    }
}

VideoFileWriter::~VideoFileWriter() {
    try {
        if (ffmpeg_ || fallback_) close();
    } catch (...) {
    }
}

void VideoFileWriter::write(const cv::Mat& bgr) {
    if (bgr.cols != options_.width || bgr.rows != options_.height || bgr.type() != CV_8UC3)
        throw MediaError("frame size differs from the video being written");
    if (fallback_) {
        fallback_->write(bgr);
        return;
    }
    const cv::Mat packed = bgr.isContinuous() ? bgr : bgr.clone();
    if (std::fwrite(packed.data, 1, packed.total() * 3, ffmpeg_) != packed.total() * 3)
        throw MediaError("writing " + options_.path +
                         " failed (ffmpeg stopped: disk full or bad path?)");
}

std::string VideoFileWriter::close() {
    std::string note;
    bool ok = true;
    if (ffmpeg_) {
        const int status = ::pclose(ffmpeg_);
        ffmpeg_ = nullptr;
        ok = status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    } else if (fallback_) {
        fallback_->release();
        fallback_.reset();
        note =
            "ffmpeg is not installed: audio was dropped and no provenance metadata was "
            "written (the visible mark is there); install ffmpeg to keep both";
    } else {
        return note;
    }
    std::error_code ec;
    if (!ok || !std::filesystem::exists(temporary_, ec)) {
        std::filesystem::remove(temporary_, ec);
        throw MediaError("encoding " + options_.path + " failed (see ffmpeg's message above)");
    }
    std::filesystem::rename(temporary_, options_.path, ec);
    if (ec) throw MediaError("cannot move the finished video to " + options_.path);
    return note;
}

}  // namespace faceswap::capture
