// Records the swapped view to a video file on its own thread, with the visible "AI-generated"
// mark and the invisible watermark (its payload named in the file's metadata). Frames are placed on
// the timeline by their capture time, so the file plays at real speed even though swapped frames
// arrive at an uneven rate (a frame is repeated to fill a gap).
#pragma once

#include <QImage>
#include <QString>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace faceswap::ui {

class Recorder {
  public:
    // Throws capture::MediaError when the file cannot be created.
    // ai_mark false: the camera as it is, for a recording that is not generated (the New model
    // dialog's recording of the user, which becomes training data and must not carry the mark).
    Recorder(const QString& path, int width, int height, double fps, const std::string& provenance,
             bool ai_mark = true);
    ~Recorder();  // finishes the file
    // Queues a frame (the GUI thread never waits for the encoder: beyond a few queued frames,
    // frames are dropped and counted).
    void add(const QImage& image, std::int64_t capture_us);
    // Finishes the file; returns a note ("" or what was dropped), or throws MediaError.
    std::string finish();
    std::int64_t written() const;

  private:
    void run();
    struct Shared;
    std::shared_ptr<Shared> shared_;
    std::thread thread_;
};

}  // namespace faceswap::ui
