#include "faceswap/capture/video_writer.h"

#include "faceswap/capture/disk_space.h"

#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "faceswap/capture/media_reader.h"

namespace faceswap::capture {
namespace {

// Single quotes for /bin/sh, with embedded quotes escaped.
std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += (c == '\'') ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// The last line ffmpeg wrote to its log ("" when none), without ffmpeg's "[tag @ 0x...] " prefix.
std::string last_log_line(const std::string& log_path) {
    std::ifstream in(log_path);
    std::string line, last;
    while (std::getline(in, line))
        if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
    if (!last.empty() && last[0] == '[') {
        const size_t close = last.find("] ");
        if (close != std::string::npos) last = last.substr(close + 2);
    }
    while (!last.empty() && (last.back() == '\r' || last.back() == ' ')) last.pop_back();
    return last;
}

// The first line of ffmpeg's log that says the file was not written whole ("" when none).
// ffmpeg 5.1 exits with 0 when writing the trailer or closing the file fails (a full disk):
// its log is the only sign.
std::string write_failure_in_log(const std::string& log_path) {
    std::ifstream in(log_path);
    for (std::string line; std::getline(in, line);)
        if (line.rfind("Error writing", 0) == 0 || line.rfind("Error closing", 0) == 0 ||
            line.find("No space left on device") != std::string::npos ||
            line.find("File too large") != std::string::npos)
            return line;
    return {};
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
    if (!is_video_file_name(options.path))
        throw MediaError("cannot write " + options.path + ": use a .mp4, .mkv or .mov file name");
    if (ffmpeg_available()) {
        std::string command = "ffmpeg -hide_banner -loglevel error -y -f rawvideo -pix_fmt bgr24";
        command += " -s " + std::to_string(options.width) + "x" + std::to_string(options.height);
        command += " -r " + std::to_string(options.fps) + " -i -";
        if (!options.audio_source.empty())
            command += " -ss " + std::to_string(options.audio_offset_s) + " -i " +
                       shell_quote(options.audio_source) + " -map 0:v:0 -map 1:a:0? -c:a aac";
        // H.264 in 4:2:0 needs even sizes: an odd width or height gets one black column or
        // row (a photo of 1465 px would otherwise stop libx264 at its first frame).
        if (options.width % 2 != 0 || options.height % 2 != 0)
            command += " -vf " + shell_quote("pad=ceil(iw/2)*2:ceil(ih/2)*2");
        command += " -c:v libx264 -preset veryfast -crf 18 -pix_fmt yuv420p -shortest";
        command += " -metadata comment=" + shell_quote(options.provenance);
        command += " -metadata title=" + shell_quote("AI-generated");
        command += " " + shell_quote(temporary_);
        // ffmpeg's messages go to a log, so that a failure can name its cause in one line.
        log_ = temporary_ + ".log";
        command += " 2> " + shell_quote(log_);
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
    if (std::fwrite(packed.data, 1, packed.total() * 3, ffmpeg_) != packed.total() * 3) {
        ::pclose(ffmpeg_);  // ffmpeg has stopped; its log says why
        ffmpeg_ = nullptr;
        throw MediaError(failure("writing"));
    }
}

std::string VideoFileWriter::failure(const std::string& doing) {
    namespace fs = std::filesystem;
    const fs::path dir = fs::path(temporary_).parent_path();
    std::string cause = low_on_disk_space(dir) ? "the disk is full" : write_failure_in_log(log_);
    if (cause.empty()) cause = last_log_line(log_);
    if (cause.empty()) cause = "ffmpeg stopped without saying why";
    // ffmpeg names the temporary file; the user knows the one they asked for.
    for (size_t at; (at = cause.find(temporary_)) != std::string::npos;)
        cause.replace(at, temporary_.size(), options_.path);
    std::error_code ec;
    fs::remove(temporary_, ec);
    fs::remove(log_, ec);
    return doing + " " + options_.path + " failed: " + cause;
}

std::string VideoFileWriter::close() {
    std::string note;
    bool ok = true;
    if (ffmpeg_) {
        const int status = ::pclose(ffmpeg_);
        ffmpeg_ = nullptr;
        ok = status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
             write_failure_in_log(log_).empty();
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
    if (!ok || !std::filesystem::exists(temporary_, ec)) throw MediaError(failure("encoding"));
    if (!log_.empty()) std::filesystem::remove(log_, ec);
    if (options_.signing && content_credentials_supported_video(options_.path)) {
        // Signed into a second temporary file, which then replaces the first: the finished name
        // only ever holds a whole file, signed or (when signing fails) unsigned.
        const std::string signed_path = temporary_ + ".signed";
        ContentCredentials credentials = options_.signing->credentials;
        credentials.title = std::filesystem::path(options_.path).filename().string();
        try {
            add_content_credentials_to_mp4(temporary_, signed_path, credentials,
                                           options_.signing->identity);
            std::filesystem::rename(signed_path, temporary_, ec);
            if (ec) throw ContentCredentialsError(ec.message());
        } catch (const ContentCredentialsError& e) {
            std::filesystem::remove(signed_path, ec);
            note += std::string(note.empty() ? "" : "; ") +
                    "written without Content Credentials (unsigned): " + e.what();
        }
    }
    std::filesystem::rename(temporary_, options_.path, ec);
    if (ec)
        throw MediaError("cannot move the finished video to " + options_.path + ": " +
                         ec.message());
    if (!log_.empty() && (options_.width % 2 != 0 || options_.height % 2 != 0)) {
        const std::string padded = std::to_string(options_.width + options_.width % 2) + "x" +
                                   std::to_string(options_.height + options_.height % 2);
        note += std::string(note.empty() ? "" : "; ") + "the video is " + padded +
                " (H.264 needs even sizes: one black column or row was added)";
    }
    return note;
}

}  // namespace faceswap::capture
