#include <QCamera>
#include <QCameraDevice>
#include <QImage>
#include <QMediaCaptureSession>
#include <QMediaDevices>
#include <QThread>
#include <QVideoFrame>
#include <QVideoSink>

#include <chrono>
#include <cmath>
#include <limits>

#include "faceswap/capture/frame_source.h"

namespace faceswap::capture {

// Lives on the camera thread: Qt Multimedia objects are used from the thread that made them.
class CameraWorker : public QObject {
    Q_OBJECT
  public:
    CameraWorker(std::shared_ptr<FrameMailbox> mailbox, CameraOptions options,
                 std::atomic<bool>& running)
        : mailbox_(std::move(mailbox)), options_(std::move(options)), running_(running) {}

  public slots:
    void open();
    void close();

  signals:
    void opened(QSize size, double fps);
    void failed(QString message);

  private:
    void fail(const QString& message) {
        close();
        emit failed(message);
    }
    void on_frame(const QVideoFrame& frame);
    bool device_present() const;

    std::shared_ptr<FrameMailbox> mailbox_;
    CameraOptions options_;
    std::atomic<bool>& running_;
    QCameraDevice device_;
    QMediaDevices* devices_ = nullptr;
    QCamera* camera_ = nullptr;
    QMediaCaptureSession* session_ = nullptr;
    QVideoSink* sink_ = nullptr;
    bool announced_ = false;
    std::chrono::steady_clock::time_point started_;
};

namespace {

// The format nearest the wanted size (then frame rate); formats the sink cannot convert are rare.
QCameraFormat closest_format(const QCameraDevice& device, QSize size, double fps) {
    QCameraFormat best;
    double best_cost = std::numeric_limits<double>::max();
    for (const QCameraFormat& format : device.videoFormats()) {
        const QSize s = format.resolution();
        const double rate_shortfall = std::max(0.0, fps - format.maxFrameRate());
        const double cost = std::abs(s.width() - size.width()) +
                            std::abs(s.height() - size.height()) + 20.0 * rate_shortfall;
        if (cost < best_cost) {
            best_cost = cost;
            best = format;
        }
    }
    return best;
}

}  // namespace

bool CameraWorker::device_present() const {
    for (const QCameraDevice& input : QMediaDevices::videoInputs())
        if (input.id() == device_.id()) return true;
    return false;
}

void CameraWorker::open() {
    device_ = QCameraDevice();
    if (options_.device_id.isEmpty()) {
        device_ = QMediaDevices::defaultVideoInput();
    } else {
        for (const QCameraDevice& input : QMediaDevices::videoInputs())
            if (input.id() == options_.device_id) device_ = input;
    }
    if (device_.isNull()) {
        fail(
            options_.device_id.isEmpty()
                ? QStringLiteral(
                      "No camera found. Connect one, or choose the demo video or a video file.")
                : QStringLiteral(
                      "The chosen camera is not connected. Plug it in, or choose another source."));
        return;
    }
    devices_ = new QMediaDevices(this);
    connect(devices_, &QMediaDevices::videoInputsChanged, this, [this] {
        if (camera_ && !device_present())
            fail(QStringLiteral("The camera \"%1\" was unplugged. Plug it back in and press Start, "
                                "or choose another source.")
                     .arg(device_.description()));
    });
    camera_ = new QCamera(device_, this);
    const QCameraFormat format = closest_format(device_, options_.size, options_.fps);
    if (!format.isNull()) camera_->setCameraFormat(format);
    connect(camera_, &QCamera::errorOccurred, this, [this](QCamera::Error, const QString& text) {
        fail(QStringLiteral("The camera \"%1\" failed: %2. Close other programs that use it, or "
                            "choose another source.")
                 .arg(device_.description(),
                      text.isEmpty() ? QStringLiteral("unknown error") : text));
    });
    session_ = new QMediaCaptureSession(this);
    sink_ = new QVideoSink(this);
    session_->setCamera(camera_);
    session_->setVideoSink(sink_);
    connect(sink_, &QVideoSink::videoFrameChanged, this, &CameraWorker::on_frame);
    announced_ = false;
    started_ = std::chrono::steady_clock::now();
    running_ = true;
    camera_->start();
}

void CameraWorker::on_frame(const QVideoFrame& frame) {
    const std::int64_t capture_us = faceswap::clock::now_us();
    QImage image = frame.toImage();
    if (image.isNull()) return;
    if (image.format() != QImage::Format_BGR888)
        image = image.convertToFormat(QImage::Format_BGR888);
    const cv::Mat view(image.height(), image.width(), CV_8UC3, image.bits(),
                       static_cast<std::size_t>(image.bytesPerLine()));
    if (!announced_) {
        announced_ = true;
        emit opened(image.size(), camera_ ? camera_->cameraFormat().maxFrameRate() : options_.fps);
    }
    mailbox_->publish(
        view.clone(), capture_us,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
}

void CameraWorker::close() {
    running_ = false;
    if (camera_) camera_->stop();
    delete session_;
    delete sink_;
    delete camera_;
    delete devices_;
    session_ = nullptr;
    sink_ = nullptr;
    camera_ = nullptr;
    devices_ = nullptr;
}

CameraSource::CameraSource(std::shared_ptr<FrameMailbox> mailbox, CameraOptions options,
                           QObject* parent)
    : FrameSource(std::move(mailbox), parent), options_(std::move(options)) {
    description_ = QStringLiteral("Default camera");
    for (const auto& [id, text] : available())
        if (id == options_.device_id) description_ = text;
}

CameraSource::~CameraSource() {
    stop();
}

QString CameraSource::name() const {
    return description_;
}

QList<QPair<QByteArray, QString>> CameraSource::available() {
    QList<QPair<QByteArray, QString>> cameras;
    for (const QCameraDevice& input : QMediaDevices::videoInputs())
        cameras.append({input.id(), input.description()});
    return cameras;
}

void CameraSource::start() {
    stop();
    thread_ = new QThread;
    thread_->setObjectName(QStringLiteral("camera"));
    worker_ = new CameraWorker(mailbox_, options_, running_);
    worker_->moveToThread(thread_);
    connect(worker_, &CameraWorker::opened, this, &FrameSource::opened);
    connect(worker_, &CameraWorker::failed, this, &FrameSource::failed);
    thread_->start();
    QMetaObject::invokeMethod(worker_, &CameraWorker::open, Qt::QueuedConnection);
}

void CameraSource::stop() {
    if (!thread_) return;
    QMetaObject::invokeMethod(worker_, &CameraWorker::close, Qt::BlockingQueuedConnection);
    thread_->quit();
    thread_->wait();
    delete worker_;  // its thread has finished: nothing else can touch it
    delete thread_;
    worker_ = nullptr;
    thread_ = nullptr;
    running_ = false;
}

}  // namespace faceswap::capture

#include "camera_source.moc"
