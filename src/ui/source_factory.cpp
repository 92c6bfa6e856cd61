#include "source_factory.h"

#include <QFileInfo>

#include <algorithm>

#include "faceswap/paths.h"

namespace faceswap::ui::sources {

QString key_of_option(const QString& option) {
    if (option.isEmpty() || option == kCameraKey || option.startsWith(kCameraKey + ':') ||
        option == kDemoKey || option == kPatternKey || option.startsWith(QLatin1String("file:")))
        return option;
    return QStringLiteral("file:") + QFileInfo(option).absoluteFilePath();
}

QList<Choice> choices(const QString& current_key) {
    QList<Choice> list;
    for (const auto& [id, description] : capture::CameraSource::available())
        list.push_back({description, kCameraKey + ':' + QString::fromLatin1(id.toHex())});
    list.push_back({QStringLiteral("Demo video"), kDemoKey});
    list.push_back({QStringLiteral("Test pattern"), kPatternKey});
    if (current_key.startsWith(QLatin1String("file:")))
        list.push_back({QFileInfo(current_key.mid(5)).fileName(), current_key});
    list.push_back({QStringLiteral("Video file…"), kOpenKey});
    return list;
}

QString resolve_camera(const QString& key, QString* message) {
    if (!key.startsWith(kCameraKey)) return key;
    const auto cameras = capture::CameraSource::available();
    const QByteArray wanted = QByteArray::fromHex(key.mid(kCameraKey.size() + 1).toLatin1());
    const bool present = std::any_of(cameras.begin(), cameras.end(), [&](const auto& camera) {
        return wanted.isEmpty() || camera.first == wanted;
    });
    if (!present) {
        if (message)
            *message =
                cameras.isEmpty()
                    ? QStringLiteral(
                          "No camera found: showing the demo video. Connect a "
                          "camera and pick it under Source.")
                    : QStringLiteral("The saved camera is not connected: showing the demo video.");
        return kDemoKey;
    }
    if (wanted.isEmpty() && !cameras.isEmpty())
        return kCameraKey + ':' + QString::fromLatin1(cameras.front().first.toHex());
    return key;
}

std::unique_ptr<capture::FrameSource> open(const QString& key,
                                           std::shared_ptr<capture::FrameMailbox> mailbox,
                                           const OpenOptions& options) {
    if (key.startsWith(kCameraKey)) {
        capture::CameraOptions camera;
        camera.device_id = QByteArray::fromHex(key.mid(kCameraKey.size() + 1).toLatin1());
        camera.size = options.size;
        camera.fps = options.fps;
        return std::make_unique<capture::CameraSource>(std::move(mailbox), camera);
    }
    if (key == kPatternKey)
        return std::make_unique<capture::TestPatternSource>(std::move(mailbox), options.size,
                                                            options.fps);
    const QString path = key == kDemoKey ? QString::fromStdString(paths::demo_video()) : key.mid(5);
    capture::VideoFileOptions file;
    file.fps = options.file_fps;
    // The demo video is small (360x288): scale it to the capture size, as a camera would give.
    if (key == kDemoKey) file.size = options.size;
    return std::make_unique<capture::VideoFileSource>(std::move(mailbox), path, file);
}

}  // namespace faceswap::ui::sources
