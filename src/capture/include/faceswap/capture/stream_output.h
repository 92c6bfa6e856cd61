// The swapped video as a live stream that OBS, VLC, ffplay or another machine reads: MPEG-TS
// over UDP, or over SRT, encoded by the ffmpeg program with low-latency settings (H.264,
// ultrafast, zerolatency, no B-frames, a keyframe every second so a player that joins late
// starts within a second).
//
// The stream never holds up the swap: push() only replaces the newest frame, and a thread of
// its own sends frames at a steady rate (repeating the last one while no new one came, so a
// player never sees the stream stall). Every swapped frame carries the visible "AI-generated"
// mark unless the caller turns it off, and the invisible watermark always; the stream's service
// information (the MPEG-TS SDT) says it is AI-generated and by what.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace faceswap::capture {

struct StreamOptions {
    std::string url;  // udp://HOST:PORT or srt://HOST:PORT, with ffmpeg's ?options if wanted
    int width = 640, height = 480;
    double fps = 25;
    std::string provenance;  // e.g. "faceswap 0.4, model demo.fsmodel (a2b)"
    bool mark = true;        // the visible "AI-generated" mark on every frame
    // Hashed with this run into the invisible watermark's payload (watermark_payload), which
    // every swapped frame carries whatever `mark` says.
    std::string model_id;
};

struct StreamCounters {
    std::int64_t pushed = 0;    // frames given to push()
    std::int64_t sent = 0;      // frames handed to the encoder (repeats included)
    std::int64_t repeated = 0;  // sent again because no newer frame had come
    std::int64_t replaced = 0;  // pushed, then replaced by a newer frame before it was sent
};

// What `faceswap live` and the app hand swapped frames to: a stream, a virtual camera.
class FrameOutput {
  public:
    virtual ~FrameOutput() = default;
    virtual void push(const cv::Mat& bgr) = 0;  // the newest swapped frame; never blocks
    // A camera frame shown while nothing is swapped (the output never goes dark): sent as it
    // is, without the visible mark or the watermark, since nothing in it was generated.
    virtual void push_camera(const cv::Mat& bgr) = 0;
    virtual std::string error() const = 0;  // "" while it runs, else why it stopped
    virtual StreamCounters counters() const = 0;
    virtual std::string name() const = 0;  // "udp://...", "virtual camera /dev/video4"
    virtual void stop() = 0;
};

// The URL as ffmpeg is given it (a UDP one gets pkt_size=1316: seven TS packets per datagram),
// or a MediaError whose message says what a stream address looks like.
std::string checked_stream_url(const std::string& url);

class StreamOutput : public FrameOutput {
  public:
    // Starts ffmpeg; throws MediaError when the address is malformed or ffmpeg cannot be run.
    // A destination ffmpeg cannot reach shows up in error() once it has tried.
    explicit StreamOutput(const StreamOptions& options);
    ~StreamOutput() override;  // stops the stream
    StreamOutput(const StreamOutput&) = delete;
    StreamOutput& operator=(const StreamOutput&) = delete;

    // The newest frame to send (BGR, any size: scaled to the stream's). Never blocks.
    void push(const cv::Mat& bgr) override;
    void push_camera(const cv::Mat& bgr) override;
    // "" while the stream runs; otherwise one line saying why it stopped (ffmpeg's reason).
    std::string error() const override;
    StreamCounters counters() const override;
    std::string name() const override { return url(); }
    const std::string& url() const;
    // Ends the stream: ffmpeg finishes and exits (killed if it has not within two seconds).
    void stop() override;

  private:
    struct Shared;
    std::shared_ptr<Shared> shared_;
};

}  // namespace faceswap::capture
