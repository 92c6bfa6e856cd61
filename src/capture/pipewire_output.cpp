#include "faceswap/capture/pipewire_output.h"

#include <pipewire/pipewire.h>
#include <spa/param/video/format-utils.h>
#include <spa/pod/builder.h>

#include <opencv2/imgproc.hpp>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "faceswap/capture/media_reader.h"
#include "faceswap/capture/v4l2_output.h"
#include "faceswap/capture/watermark.h"
#include "paced_sender.h"

namespace faceswap::capture {
namespace {

void bgr_to_bgrx(const cv::Mat& bgr, std::vector<unsigned char>& bgrx) {
    bgrx.resize(static_cast<std::size_t>(bgr.cols) * bgr.rows * 4);
    cv::Mat out(bgr.rows, bgr.cols, CV_8UC4, bgrx.data());
    cv::cvtColor(bgr, out, cv::COLOR_BGR2BGRA);
}

}  // namespace

struct PipeWireOutput::Shared {
    PipeWireCameraOptions options;
    pw_thread_loop* loop = nullptr;
    pw_context* context = nullptr;
    pw_core* core = nullptr;
    pw_stream* stream = nullptr;
    spa_hook stream_listener{};
    bool stopped = false;

    // Written by the sending thread, read by PipeWire's loop thread in on_process.
    std::mutex frame_mutex;
    cv::Mat pending;  // the frame to offer (BGR, with the mark)
    std::vector<unsigned char> converted;

    // Loop thread only (under the loop lock for everyone else).
    std::uint32_t format = SPA_VIDEO_FORMAT_UNKNOWN;
    std::uint32_t stride = 0;
    bool streaming = false;
    std::string failure;

    std::unique_ptr<PacedSender> sender;

    static void on_state_changed(void* data, pw_stream_state, pw_stream_state state,
                                 const char* error) {
        auto* s = static_cast<Shared*>(data);
        s->streaming = state == PW_STREAM_STATE_STREAMING;
        if (state == PW_STREAM_STATE_ERROR)
            s->failure = std::string("the PipeWire camera stopped: ") + (error ? error : "error");
    }

    // The reader chose a format: say how large our buffers are.
    static void on_param_changed(void* data, std::uint32_t id, const spa_pod* param) {
        auto* s = static_cast<Shared*>(data);
        if (id != SPA_PARAM_Format || param == nullptr) return;
        spa_video_info_raw info{};
        if (spa_format_video_raw_parse(param, &info) < 0) return;
        s->format = info.format;
        s->stride = static_cast<std::uint32_t>(s->options.width) *
                    (info.format == SPA_VIDEO_FORMAT_YUY2 ? 2 : 4);
        std::uint8_t buffer[1024];
        spa_pod_builder builder = SPA_POD_BUILDER_INIT(buffer, sizeof buffer);
        const spa_pod* params[1];
        params[0] = static_cast<const spa_pod*>(spa_pod_builder_add_object(
            &builder, SPA_TYPE_OBJECT_ParamBuffers, SPA_PARAM_Buffers, SPA_PARAM_BUFFERS_buffers,
            SPA_POD_CHOICE_RANGE_Int(4, 2, 8), SPA_PARAM_BUFFERS_blocks, SPA_POD_Int(1),
            SPA_PARAM_BUFFERS_size, SPA_POD_Int(static_cast<int>(s->stride) * s->options.height),
            SPA_PARAM_BUFFERS_stride, SPA_POD_Int(static_cast<int>(s->stride))));
        pw_stream_update_params(s->stream, params, 1);
    }

    // A buffer to fill: the newest frame in the negotiated format.
    static void on_process(void* data) {
        auto* s = static_cast<Shared*>(data);
        pw_buffer* buffer = pw_stream_dequeue_buffer(s->stream);
        if (buffer == nullptr) return;
        spa_data& plane = buffer->buffer->datas[0];
        const std::size_t size = static_cast<std::size_t>(s->stride) * s->options.height;
        if (plane.data != nullptr && plane.maxsize >= size && s->stride > 0) {
            std::lock_guard lock(s->frame_mutex);
            if (!s->pending.empty()) {
                if (s->format == SPA_VIDEO_FORMAT_YUY2)
                    bgr_to_yuyv(s->pending, s->converted);
                else
                    bgr_to_bgrx(s->pending, s->converted);
                std::memcpy(plane.data, s->converted.data(), size);
            }
            plane.chunk->offset = 0;
            plane.chunk->size = static_cast<std::uint32_t>(size);
            plane.chunk->stride = static_cast<std::int32_t>(s->stride);
        }
        pw_stream_queue_buffer(s->stream, buffer);
    }

    static const pw_stream_events& events() {
        static const pw_stream_events table = [] {
            pw_stream_events e{};
            e.version = PW_VERSION_STREAM_EVENTS;
            e.state_changed = on_state_changed;
            e.param_changed = on_param_changed;
            e.process = on_process;
            return e;
        }();
        return table;
    }

    void teardown() {
        if (loop) pw_thread_loop_lock(loop);
        if (stream) pw_stream_destroy(stream);
        stream = nullptr;
        if (loop) pw_thread_loop_unlock(loop);
        if (loop) pw_thread_loop_stop(loop);
        if (core) pw_core_disconnect(core);
        if (context) pw_context_destroy(context);
        if (loop) pw_thread_loop_destroy(loop);
        core = nullptr;
        context = nullptr;
        loop = nullptr;
    }
};

PipeWireOutput::PipeWireOutput(const PipeWireCameraOptions& options)
    : shared_(std::make_unique<Shared>()) {
    Shared& s = *shared_;
    s.options = options;
    if (options.width <= 0 || options.height <= 0 || options.width % 2)
        throw MediaError("PipeWire camera size: the width must be even");
    static std::once_flag initialised;
    std::call_once(initialised, [] { pw_init(nullptr, nullptr); });

    s.loop = pw_thread_loop_new("faceswap-camera", nullptr);
    s.context = s.loop ? pw_context_new(pw_thread_loop_get_loop(s.loop), nullptr, 0) : nullptr;
    if (!s.context || pw_thread_loop_start(s.loop) != 0) {
        s.teardown();
        throw MediaError("cannot start PipeWire's client loop");
    }
    pw_thread_loop_lock(s.loop);
    s.core = pw_context_connect(s.context, nullptr, 0);
    if (!s.core) {
        pw_thread_loop_unlock(s.loop);
        s.teardown();
        const char* runtime = std::getenv("XDG_RUNTIME_DIR");
        throw MediaError(std::string("no PipeWire daemon for this session (XDG_RUNTIME_DIR=") +
                         (runtime ? runtime : "unset") +
                         "): start pipewire and wireplumber, or use --virtual-camera for a "
                         "v4l2loopback camera");
    }
    const std::string fps = std::to_string(static_cast<int>(options.fps + 0.5)) + "/1";
    s.stream = pw_stream_new(
        s.core, options.description.c_str(),
        pw_properties_new(PW_KEY_MEDIA_CLASS, "Video/Source", PW_KEY_MEDIA_TYPE, "Video",
                          PW_KEY_MEDIA_CATEGORY, "Capture", PW_KEY_MEDIA_ROLE, "Camera",
                          PW_KEY_NODE_NAME, options.node_name.c_str(), PW_KEY_NODE_DESCRIPTION,
                          options.description.c_str(), PW_KEY_NODE_MAX_LATENCY, "1/30", nullptr));
    if (!s.stream) {
        pw_thread_loop_unlock(s.loop);
        s.teardown();
        throw MediaError("PipeWire refused to create the camera node '" + options.node_name + "'");
    }
    pw_stream_add_listener(s.stream, &s.stream_listener, &Shared::events(), &s);

    std::uint8_t buffer[1024];
    spa_pod_builder builder = SPA_POD_BUILDER_INIT(buffer, sizeof buffer);
    spa_rectangle size{static_cast<std::uint32_t>(options.width),
                       static_cast<std::uint32_t>(options.height)};
    spa_fraction rate{static_cast<std::uint32_t>(options.fps + 0.5), 1};
    const spa_pod* params[1];
    params[0] = static_cast<const spa_pod*>(spa_pod_builder_add_object(
        &builder, SPA_TYPE_OBJECT_Format, SPA_PARAM_EnumFormat, SPA_FORMAT_mediaType,
        SPA_POD_Id(SPA_MEDIA_TYPE_video), SPA_FORMAT_mediaSubtype,
        SPA_POD_Id(SPA_MEDIA_SUBTYPE_raw), SPA_FORMAT_VIDEO_format,
        SPA_POD_CHOICE_ENUM_Id(3, SPA_VIDEO_FORMAT_YUY2, SPA_VIDEO_FORMAT_YUY2,
                               SPA_VIDEO_FORMAT_BGRx),
        SPA_FORMAT_VIDEO_size, SPA_POD_Rectangle(&size), SPA_FORMAT_VIDEO_framerate,
        SPA_POD_Fraction(&rate)));
    // We drive the graph: a frame is offered when the sending thread has one (on_process).
    const int connected = pw_stream_connect(
        s.stream, PW_DIRECTION_OUTPUT, PW_ID_ANY,
        static_cast<pw_stream_flags>(PW_STREAM_FLAG_DRIVER | PW_STREAM_FLAG_MAP_BUFFERS), params,
        1);
    pw_thread_loop_unlock(s.loop);
    if (connected < 0) {
        s.teardown();
        throw MediaError("cannot publish the PipeWire camera: " +
                         std::string(std::strerror(-connected)));
    }
    s.sender = std::make_unique<PacedSender>(options.width, options.height, options.fps,
                                             options.mark, watermark_payload(options.model_id),
                                             [&s](const cv::Mat& frame) {
                                                 {
                                                     std::lock_guard lock(s.frame_mutex);
                                                     frame.copyTo(s.pending);
                                                 }
                                                 pw_thread_loop_lock(s.loop);
                                                 std::string failure = s.failure;
                                                 if (failure.empty() && s.streaming)
                                                     pw_stream_trigger_process(s.stream);
                                                 pw_thread_loop_unlock(s.loop);
                                                 return failure;
                                             });
}

PipeWireOutput::~PipeWireOutput() {
    stop();
}

void PipeWireOutput::push(const cv::Mat& bgr) {
    shared_->sender->push(bgr);
}

void PipeWireOutput::push_camera(const cv::Mat& bgr) {
    shared_->sender->push(bgr, /*generated=*/false);
}
std::string PipeWireOutput::error() const {
    return shared_->sender->error();
}
StreamCounters PipeWireOutput::counters() const {
    return shared_->sender->counters();
}
std::string PipeWireOutput::name() const {
    return "PipeWire camera '" + shared_->options.description + "' (node " +
           shared_->options.node_name + ")";
}

void PipeWireOutput::stop() {
    if (shared_->stopped) return;
    shared_->stopped = true;
    shared_->sender->stop();
    shared_->teardown();
}

}  // namespace faceswap::capture
