#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <QFileInfo>

#include <chrono>
#include <thread>

#include "faceswap/capture/frame_source.h"
#include "faceswap/clock.h"
#include "frame_pacer.h"

namespace faceswap::capture {

FrameSource::FrameSource(std::shared_ptr<FrameMailbox> mailbox, QObject* parent)
    : QObject(parent), mailbox_(std::move(mailbox)) {}

void ThreadedFrameSource::start() {
    stop();
    stop_requested_ = false;
    running_ = true;
    thread_ = std::thread([this] { run(); });
}

void ThreadedFrameSource::stop() {
    stop_requested_ = true;
    if (thread_.joinable()) thread_.join();
    running_ = false;
}

VideoFileSource::VideoFileSource(std::shared_ptr<FrameMailbox> mailbox, QString path,
                                 VideoFileOptions options, QObject* parent)
    : ThreadedFrameSource(std::move(mailbox), parent), path_(std::move(path)), options_(options) {}

VideoFileSource::~VideoFileSource() {
    stop();
}

QString VideoFileSource::name() const {
    return QFileInfo(path_).fileName();
}

void VideoFileSource::run() {
    using clock = std::chrono::steady_clock;
    cv::VideoCapture video;
    const std::string path = path_.toStdString();
    if (!QFileInfo::exists(path_) || !video.open(path, cv::CAP_FFMPEG)) {
        running_ = false;
        emit failed(QStringLiteral("Cannot open the video %1: %2. Pick another file or a camera.")
                        .arg(path_, QFileInfo::exists(path_)
                                        ? QStringLiteral("not a readable video")
                                        : QStringLiteral("no such file")));
        return;
    }
    double fps = options_.fps > 0 ? options_.fps : video.get(cv::CAP_PROP_FPS);
    if (!(fps > 1 && fps < 240)) fps = 25;
    FramePacer pacer(fps);

    cv::Mat decoded;
    bool announced = false;
    std::int64_t frame_in_file = 0;
    const auto started = clock::now();
    while (!stop_requested_) {
        if (!video.read(decoded) || decoded.empty()) {
            if (frame_in_file == 0) {
                running_ = false;
                emit failed(
                    QStringLiteral("The video %1 has no frames that decode. Pick another file.")
                        .arg(path_));
                return;
            }
            if (!options_.loop) {
                running_ = false;
                emit ended();
                return;
            }
            // Loop: reopening is more reliable across containers than seeking to frame 0.
            video.release();
            if (!video.open(path, cv::CAP_FFMPEG)) {
                running_ = false;
                emit failed(
                    QStringLiteral("The video %1 could not be reopened to loop.").arg(path_));
                return;
            }
            frame_in_file = 0;
            continue;
        }
        cv::Mat frame;
        if (!options_.size.isEmpty() &&
            (decoded.cols != options_.size.width() || decoded.rows != options_.size.height()))
            cv::resize(decoded, frame, cv::Size(options_.size.width(), options_.size.height()), 0,
                       0, cv::INTER_LINEAR);
        else
            frame = decoded.clone();  // the decoder reuses its buffer; the mailbox keeps ours
        if (!announced) {
            emit opened(QSize(frame.cols, frame.rows), fps);
            announced = true;
        }
        pacer.wait_for_next();
        if (stop_requested_) break;
        mailbox_->publish(std::move(frame), faceswap::clock::now_us(),
                          std::chrono::duration<double>(clock::now() - started).count());
        ++frame_in_file;
    }
    running_ = false;
}

}  // namespace faceswap::capture
