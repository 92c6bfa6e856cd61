// The video sources a user can pick, by key, shared by the window and the command line:
//   camera[:<hex device id>]  a camera (no id: the first)
//   demo                      the bundled demo video, scaled to the capture size
//   pattern                   a moving test pattern
//   file:<path>               a video file
#pragma once

#include <QList>
#include <QSize>
#include <QString>

#include <memory>

#include "faceswap/capture/frame_mailbox.h"
#include "faceswap/capture/frame_source.h"

namespace faceswap::ui::sources {

inline const QString kDemoKey = QStringLiteral("demo");
inline const QString kPatternKey = QStringLiteral("pattern");
inline const QString kOpenKey = QStringLiteral("open");  // the picker's "Video file…" entry
inline const QString kCameraKey = QStringLiteral("camera");

// "--source" values (camera[:id], demo, pattern, file:<path>, or a bare path) to keys;
// an empty option gives an empty key.
QString key_of_option(const QString& option);

struct Choice {
    QString label;
    QString key;
};
// What the picker lists: the cameras present, the demo video, the test pattern, the file in
// `current_key` if it is one, and "Video file…".
QList<Choice> choices(const QString& current_key);

// A saved camera key checked against the cameras present: the key to use (the demo video when
// the camera is gone) and, when it changed, a message saying why.
QString resolve_camera(const QString& key, QString* message);

struct OpenOptions {
    QSize size{640, 480};
    double fps = 30;
    double file_fps = 0;  // a video file's pace; 0 = its own
};
// The source for `key`, writing into `mailbox`; not started.
std::unique_ptr<capture::FrameSource> open(const QString& key,
                                           std::shared_ptr<capture::FrameMailbox> mailbox,
                                           const OpenOptions& options);

}  // namespace faceswap::ui::sources
