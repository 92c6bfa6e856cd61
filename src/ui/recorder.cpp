#include "recorder.h"

#include "faceswap/capture/watermark.h"

#include <opencv2/core.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "faceswap/capture/media_reader.h"
#include "faceswap/capture/video_writer.h"

namespace faceswap::ui {

struct Recorder::Shared {
    std::mutex mutex;
    std::condition_variable changed;
    std::deque<std::pair<QImage, std::int64_t>> queue;
    bool finishing = false;
    std::int64_t written = 0;
    std::int64_t dropped = 0;
    std::string error;
    std::unique_ptr<capture::VideoFileWriter> writer;
    int width = 0, height = 0;
    double fps = 25;
    bool ai_mark = true;
    std::string signing_note;      // why the recording is not signed, when it is not
    capture::Watermark watermark;  // used on the writer thread only
    std::uint32_t watermark_payload = 0;
};

Recorder::Recorder(const QString& path, int width, int height, double fps,
                   const std::string& provenance, bool ai_mark)
    : shared_(std::make_shared<Shared>()) {
    shared_->ai_mark = ai_mark;
    // A generated recording also carries the invisible watermark, named in its metadata.
    std::string described = provenance;
    if (ai_mark) {
        shared_->watermark_payload = capture::watermark_payload(provenance);
        described += "; watermark " + capture::watermark_payload_text(shared_->watermark_payload);
    }
    capture::VideoWriterOptions options;
    options.path = path.toStdString();
    options.width = width;
    options.height = height;
    options.fps = fps;
    options.provenance = described;
    if (ai_mark) {
        // Signed Content Credentials with the installation's identity (docs/provenance.md).
        try {
            capture::ContentSigning signing;
            signing.identity =
                capture::installation_signing_identity(capture::default_signing_dir());
            signing.credentials.software_version = FACESWAP_VERSION;
            signing.credentials.description = "face swapped live: " + provenance;
            options.signing = std::move(signing);
            options.provenance += "; C2PA signed by " + options.signing->identity.origin;
        } catch (const capture::ContentCredentialsError& e) {
            shared_->signing_note = std::string("written without Content Credentials: ") + e.what();
            options.provenance += "; C2PA unsigned";
        }
    }
    shared_->writer = std::make_unique<capture::VideoFileWriter>(options);
    shared_->width = width;
    shared_->height = height;
    shared_->fps = fps;
    thread_ = std::thread([this] { run(); });
}

Recorder::~Recorder() {
    try {
        finish();
    } catch (...) {
    }
}

void Recorder::add(const QImage& image, std::int64_t capture_us) {
    {
        std::lock_guard lock(shared_->mutex);
        if (shared_->finishing) return;
        if (shared_->queue.size() >= 8) {
            ++shared_->dropped;
            return;
        }
        shared_->queue.emplace_back(image, capture_us);
    }
    shared_->changed.notify_one();
}

std::int64_t Recorder::written() const {
    std::lock_guard lock(shared_->mutex);
    return shared_->written;
}

void Recorder::run() {
    Shared& s = *shared_;
    std::int64_t first_us = -1;
    cv::Mat frame;
    for (;;) {
        std::unique_lock lock(s.mutex);
        s.changed.wait(lock, [&] { return s.finishing || !s.queue.empty(); });
        if (s.queue.empty()) return;  // finishing and drained
        auto [image, capture_us] = std::move(s.queue.front());
        s.queue.pop_front();
        const std::int64_t written = s.written;
        lock.unlock();

        if (image.width() != s.width || image.height() != s.height || !s.error.empty()) continue;
        const QImage bgr = image.convertToFormat(QImage::Format_BGR888);
        cv::Mat(bgr.height(), bgr.width(), CV_8UC3, const_cast<uchar*>(bgr.constBits()),
                static_cast<std::size_t>(bgr.bytesPerLine()))
            .copyTo(frame);
        if (s.ai_mark) {
            capture::draw_ai_generated_mark(frame);
            s.watermark.embed(frame, s.watermark_payload);
        }
        if (first_us < 0) first_us = capture_us;
        // Where this frame belongs on a constant-rate timeline: fill a gap by repeating it, skip
        // it when frames come faster than the file's rate.
        const std::int64_t slot = std::llround((capture_us - first_us) / 1e6 * s.fps);
        const std::int64_t copies = std::clamp<std::int64_t>(slot - written + 1, 0, 30);
        if (copies == 0) continue;
        try {
            for (std::int64_t i = 0; i < copies; ++i) s.writer->write(frame);
        } catch (const std::exception& e) {
            std::lock_guard relock(s.mutex);
            s.error = e.what();
            continue;
        }
        std::lock_guard relock(s.mutex);
        s.written += copies;
    }
}

std::string Recorder::finish() {
    {
        std::lock_guard lock(shared_->mutex);
        if (shared_->finishing && !thread_.joinable()) return {};
        shared_->finishing = true;
    }
    shared_->changed.notify_one();
    if (thread_.joinable()) thread_.join();
    if (!shared_->error.empty()) throw capture::MediaError(shared_->error);
    std::string note = shared_->writer->close();
    if (!shared_->signing_note.empty()) note += (note.empty() ? "" : "; ") + shared_->signing_note;
    if (shared_->dropped > 0)
        note += (note.empty() ? "" : "; ") + std::to_string(shared_->dropped) +
                " frames were dropped because the encoder fell behind";
    return note;
}

}  // namespace faceswap::ui
