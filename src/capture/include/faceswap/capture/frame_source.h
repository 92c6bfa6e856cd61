// Live frame sources for the desktop app: a camera (Qt Multimedia), a video file (OpenCV, paced
// at the file's frame rate, looping) and a synthetic test pattern. Each captures on its own
// thread and publishes into a FrameMailbox that the preview and the swap backend read.
//
//   auto mailbox = std::make_shared<FrameMailbox>();
//   VideoFileSource source(mailbox, "franck.mp4", QSize(640, 480));
//   QObject::connect(&source, &FrameSource::failed, ...);   // one-line message for the user
//   source.start();                                        // returns at once
//
// Threading: start()/stop() are called from the thread that owns the object (the GUI thread);
// signals are emitted from the capture thread and arrive queued.
#pragma once

#include <QObject>
#include <QSize>
#include <QString>

#include <atomic>
#include <memory>
#include <thread>

#include "faceswap/capture/frame_mailbox.h"

class QThread;

namespace faceswap::capture {

class FrameSource : public QObject {
    Q_OBJECT
  public:
    explicit FrameSource(std::shared_ptr<FrameMailbox> mailbox, QObject* parent = nullptr);
    ~FrameSource() override = default;

    // Starts capturing in the background; problems arrive as failed().
    virtual void start() = 0;
    // Stops capturing and joins the capture thread (at most one frame's work). Idempotent.
    virtual void stop() = 0;
    virtual QString name() const = 0;
    bool running() const { return running_.load(); }
    const std::shared_ptr<FrameMailbox>& mailbox() const { return mailbox_; }

  signals:
    void opened(QSize size, double fps);  // the source delivers frames of this size
    void failed(QString message);         // what is wrong and what to do; capture has stopped
    void ended();                         // a non-looping file reached its end

  protected:
    std::shared_ptr<FrameMailbox> mailbox_;
    std::atomic<bool> running_{false};
};

// A source whose capture loop is a plain std::thread running run() until stop_requested_.
// Derived destructors call stop(): the loop uses their members.
class ThreadedFrameSource : public FrameSource {
    Q_OBJECT
  public:
    using FrameSource::FrameSource;
    void start() override;
    void stop() override;

  protected:
    virtual void run() = 0;
    std::atomic<bool> stop_requested_{false};

  private:
    std::thread thread_;
};

struct VideoFileOptions {
    QSize size;        // scale frames to this size; empty keeps the file's
    bool loop = true;  // start again at the end
    double fps = 0;    // pacing; 0 uses the file's frame rate (25 if it has none)
};

class VideoFileSource : public ThreadedFrameSource {
    Q_OBJECT
  public:
    VideoFileSource(std::shared_ptr<FrameMailbox> mailbox, QString path,
                    VideoFileOptions options = {}, QObject* parent = nullptr);
    ~VideoFileSource() override;
    QString name() const override;

  private:
    void run() override;
    QString path_;
    VideoFileOptions options_;
};

class TestPatternSource : public ThreadedFrameSource {
    Q_OBJECT
  public:
    TestPatternSource(std::shared_ptr<FrameMailbox> mailbox, QSize size = QSize(640, 480),
                      double fps = 30, QObject* parent = nullptr);
    ~TestPatternSource() override;
    QString name() const override { return QStringLiteral("Test pattern"); }

  private:
    void run() override;
    QSize size_;
    double fps_;
};

struct CameraOptions {
    QByteArray device_id;  // QCameraDevice::id(); empty: the system's default camera
    QSize size{640, 480};  // the camera format closest to this is chosen
    double fps = 30;
};

class CameraWorker;

class CameraSource : public FrameSource {
    Q_OBJECT
  public:
    CameraSource(std::shared_ptr<FrameMailbox> mailbox, CameraOptions options,
                 QObject* parent = nullptr);
    ~CameraSource() override;
    void start() override;
    void stop() override;
    QString name() const override;

    // Cameras the system offers now, as (id, description) pairs.
    static QList<QPair<QByteArray, QString>> available();

  private:
    CameraOptions options_;
    QString description_;
    QThread* thread_ = nullptr;
    CameraWorker* worker_ = nullptr;
};

}  // namespace faceswap::capture
