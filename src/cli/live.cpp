// faceswap live: the app's live path without a window, for a streaming machine without a
// desktop and for scripts. A camera, a video file or the test pattern goes through the same
// swap backends as the app (local engine or a faceswap-server) to any number of streams, with
// a statistics line on the terminal every second.
#include <QGuiApplication>
#include <QImage>
#include <QTimer>

#include <opencv2/core.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

#include "cli_common.h"
#include "commands.h"
#include "faceswap/capture/frame_source.h"
#include "faceswap/capture/media_reader.h"
#include "faceswap/capture/stream_output.h"
#include "faceswap/capture/v4l2_output.h"
#ifdef FACESWAP_HAVE_PIPEWIRE
#include "faceswap/capture/pipewire_output.h"
#endif
#include "faceswap/clock.h"
#include "faceswap/paths.h"
#include "live_stats.h"
#include "local_backend.h"
#include "remote_backend.h"
#include "source_factory.h"

namespace faceswap::cli {
namespace {

std::atomic<bool> interrupted{false};
void on_signal(int) {
    interrupted = true;
}

}  // namespace

std::unique_ptr<QGuiApplication> headless_gui_application() {
    // Headless by default: a terminal on a server has no display, and the backends need none.
    if (!std::getenv("DISPLAY") && !std::getenv("WAYLAND_DISPLAY") &&
        !std::getenv("QT_QPA_PLATFORM"))
        ::setenv("QT_QPA_PLATFORM", "offscreen", 1);
    // Qt keeps a reference to argc and the argv strings for the application's life.
    static int argc = 1;
    static char program[] = "faceswap";
    static char* argv[] = {program, nullptr};
    return std::make_unique<QGuiApplication>(argc, argv);
}

int run_live(const LiveOptions& options) {
    const auto application = headless_gui_application();
    QGuiApplication& app = *application;

    // Outputs first: one that cannot be opened is a warning, and the others go on.
    std::vector<std::unique_ptr<capture::FrameOutput>> streams;
    const auto open_output = [&](const auto& make) {
        try {
            streams.push_back(make());
            std::printf("[live] sending to %s%s\n", streams.back()->name().c_str(),
                        options.ai_mark ? "" : " WITHOUT the visible AI-generated mark");
        } catch (const capture::MediaError& e) {
            std::fprintf(stderr, "warning: %s\n", e.what());
        }
    };
    // Names the model in the watermark every swapped frame carries (with this run's session).
    const std::string model_id = options.mode + ":" +
                                 (options.model.empty() ? "demo" : options.model) + ":" +
                                 options.direction;
    for (const std::string& url : options.streams) {
        capture::StreamOptions stream;
        stream.url = url;
        stream.width = options.width;
        stream.height = options.height;
        stream.fps = options.fps;
        stream.mark = options.ai_mark;
        stream.model_id = model_id;
        stream.provenance = "faceswap live, " + options.mode + " mode, model " +
                            (options.model.empty() ? "demo" : options.model) + " (" +
                            options.direction + ")";
        open_output([&] { return std::make_unique<capture::StreamOutput>(stream); });
    }
    if (!options.virtual_camera.empty()) {
        capture::VirtualCameraOptions camera;
        camera.device = options.virtual_camera == "auto" ? "" : options.virtual_camera;
        camera.width = options.width;
        camera.height = options.height;
        camera.fps = options.fps;
        camera.mark = options.ai_mark;
        camera.model_id = model_id;
        open_output([&] { return std::make_unique<capture::V4l2Output>(camera); });
    }
    if (options.pipewire_camera) {
#ifdef FACESWAP_HAVE_PIPEWIRE
        capture::PipeWireCameraOptions camera;
        camera.width = options.width;
        camera.height = options.height;
        camera.fps = options.fps;
        camera.mark = options.ai_mark;
        camera.model_id = model_id;
        open_output([&] { return std::make_unique<capture::PipeWireOutput>(camera); });
#else
        std::fprintf(stderr, "warning: this build has no PipeWire (libpipewire-0.3-dev)\n");
#endif
    }

    auto mailbox = std::make_shared<capture::FrameMailbox>();
    QString key = ui::sources::key_of_option(QString::fromStdString(options.source));
    if (key.startsWith(ui::sources::kCameraKey)) {
        QString message;
        key = ui::sources::resolve_camera(key, &message);
        if (!message.isEmpty()) std::printf("[live] %s\n", qPrintable(message));
    }
    const auto source = ui::sources::open(
        key, mailbox, {QSize(options.width, options.height), options.fps, options.file_fps});
    if (!source) {
        std::fprintf(stderr, "error: cannot open the source '%s'\n", options.source.c_str());
        return 2;
    }
    int exit_code = 0;
    QObject::connect(source.get(), &capture::FrameSource::failed, &app, [&](const QString& why) {
        std::fprintf(stderr, "error: %s\n", qPrintable(why));
        exit_code = 1;
        QCoreApplication::quit();
    });

    SwapConfig requested;  // a setting out of range is refused here, with its range
    requested.detail = options.detail;
    {
        // Reference photos are recognised here, in both modes: a remote server gets the
        // person's descriptor in the hello, never the photos.
        EngineConfig engine = EngineConfig::defaults();
        engine.model_dir = paths::face_model_dir(options.model_dir);
        engine.precision = parse_precision(options.precision);
        requested.faces = face_choice_from(options.faces, options.face_distance, engine);
    }
    requested.validate();
    std::unique_ptr<ui::SwapBackend> backend;
    if (options.mode == "remote") {
        ui::RemoteSettings settings;
        settings.url = options.server;
        settings.token = options.token;
        settings.model = options.model.empty() ? "demo" : options.model;
        settings.direction =
            options.direction == "b2a" ? net::Direction::kBToA : net::Direction::kAToB;
        settings.detail = options.detail;
        settings.faces = requested.faces;
        backend = std::make_unique<ui::RemoteBackend>(settings);
    } else {
        ui::LocalSettings settings;
        settings.face_model_dir = paths::face_model_dir(options.model_dir);
        settings.swap_model = paths::swap_model(options.model);
        settings.swap.direction =
            options.direction == "b2a" ? SwapDirection::kBToA : SwapDirection::kAToB;
        settings.swap.detail = options.detail;
        settings.swap.faces = requested.faces;
        settings.precision = parse_precision(options.precision);
        backend = std::make_unique<ui::LocalBackend>(settings);
    }

    ui::LiveStats stats;
    std::int64_t swapped_frames = 0;
    QObject::connect(backend.get(), &ui::SwapBackend::frameReady, &app, [&] {
        const auto frame = backend->take_frame();
        if (!frame) return;
        ++swapped_frames;
        stats.record(frame->capture_us, clock::now_us());
        const cv::Mat view = ui::bgr_view(frame->image);
        for (auto& stream : streams) stream->push(view);
    });
    QObject::connect(backend.get(), &ui::SwapBackend::stateChanged, &app,
                     [&](ui::BackendState state, const QString& detail) {
                         std::printf("[live] swap %s%s%s\n", ui::state_label(state),
                                     detail.isEmpty() ? "" : ": ", qPrintable(detail));
                         std::fflush(stdout);
                         if (state == ui::BackendState::kFailed) {
                             exit_code = 1;
                             QCoreApplication::quit();
                         }
                     });

    // While the swap is not running (starting, reconnecting), the outputs show the camera, so
    // that a program reading them never sees the picture stop.
    std::int64_t last_passthrough = 0;
    QTimer passthrough;
    QObject::connect(&passthrough, &QTimer::timeout, &app, [&] {
        if (backend->state() == ui::BackendState::kRunning) return;
        const auto frame = mailbox->latest();
        if (!frame || frame->sequence == last_passthrough) return;
        last_passthrough = frame->sequence;
        for (auto& stream : streams) stream->push_camera(frame->bgr);
    });
    passthrough.start(static_cast<int>(1000 / options.fps));

    const auto start_us = clock::now_us();
    QTimer report;
    QObject::connect(&report, &QTimer::timeout, &app, [&] {
        const auto s = stats.snapshot(clock::now_us());
        const auto c = backend->counters();
        std::printf(
            "[live] %5.1f s  %5.1f FPS swapped  latency p50 %5.1f ms  p95 %5.1f ms  "
            "skipped %lld",
            (clock::now_us() - start_us) / 1e6, s.fps, s.latency_p50_ms, s.latency_p95_ms,
            static_cast<long long>(c.skipped));
        for (const auto& stream : streams) {
            const auto sc = stream->counters();
            std::printf("  | %s sent %lld", stream->name().c_str(),
                        static_cast<long long>(sc.sent));
        }
        std::printf("\n");
        for (auto it = streams.begin(); it != streams.end();) {
            const std::string error = (*it)->error();
            if (error.empty()) {
                ++it;
                continue;
            }
            std::fprintf(stderr, "warning: %s\n", error.c_str());
            it = streams.erase(it);  // the others and the swap go on
        }
        std::fflush(stdout);
    });
    report.start(static_cast<int>(options.stats_interval_s * 1000));

    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    QTimer watch;
    QObject::connect(&watch, &QTimer::timeout, &app, [&] {
        if (interrupted) QCoreApplication::quit();
    });
    watch.start(100);
    if (options.duration_s > 0)
        QTimer::singleShot(static_cast<int>(options.duration_s * 1000), &app,
                           [] { QCoreApplication::quit(); });

    source->start();
    backend->start(mailbox);
    QGuiApplication::exec();

    // Stop in order: the backend (its state arrives through the event loop), the source, the
    // streams.
    backend->stop();
    for (int waited = 0; backend->active() && waited < 100; ++waited) {
        QCoreApplication::processEvents(QEventLoop::AllEvents, 50);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    source->stop();
    mailbox->close();
    const auto c = backend->counters();
    std::printf("[live] done: %lld frames swapped (%.1f FPS), skipped %lld, lost %lld\n",
                static_cast<long long>(swapped_frames), stats.mean_fps(),
                static_cast<long long>(c.skipped), static_cast<long long>(c.lost));
    for (auto& stream : streams) {
        const auto sc = stream->counters();
        std::printf("[live] %s: %lld frames sent (%lld repeats)\n", stream->name().c_str(),
                    static_cast<long long>(sc.sent), static_cast<long long>(sc.repeated));
        stream->stop();
    }
    return exit_code;
}

}  // namespace faceswap::cli
