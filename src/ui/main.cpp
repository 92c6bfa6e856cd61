// faceswap-app: the desktop app. With no arguments it opens in local mode with the demo model on
// the first camera (or the demo video where there is none). Flags script it: --start presses
// Start, --benchmark N prints the app's own FPS and latency figures after N seconds of swapping,
// --screenshot saves the window, --quit-after ends the run.
#include <QApplication>
#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QPushButton>
#include <QTimer>

#include <cstdio>

#include "live_stats.h"
#include "main_window.h"
#include "swap_backend.h"
#include "video_view.h"

using faceswap::ui::BackendState;

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("faceswap-app"));
    QApplication::setOrganizationName(QStringLiteral("faceswap"));
    QApplication::setApplicationVersion(QStringLiteral(FACESWAP_VERSION));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "Live face swap from a camera or a video, locally or through a faceswap-server."));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption source(
        {"s", "source"}, "camera, camera:<hex id>, demo, pattern, or a video file", "source");
    const QCommandLineOption mode({"m", "mode"}, "local or remote", "mode");
    const QCommandLineOption server("server", "remote: server URL (ws:// or wss://)", "url");
    const QCommandLineOption token("token", "remote: auth token", "token");
    const QCommandLineOption model("model", "local: .fsmodel file; remote: the server's model id",
                                   "model");
    const QCommandLineOption direction("direction", "a2b or b2a", "direction");
    const QCommandLineOption size("size", "capture size, e.g. 640x480 (default: as last time)",
                                  "WxH");
    const QCommandLineOption fps(
        "fps",
        "camera and test-pattern frame rate; video files are paced at it too (default: their own)",
        "rate");
    const QCommandLineOption no_pipeline(
        "no-pipeline", "local: run both engine stages on one thread with every core");
    const QCommandLineOption inline_detection(
        "inline-detection",
        "local: run the periodic face detector on the frame path (the engine's default) instead of "
        "in the background");
    const QCommandLineOption precision(
        "precision",
        "local: the nets' arithmetic, auto (bfloat16 where the CPU has AVX-512 BF16), fp32 or bf16",
        "precision");
    const QCommandLineOption start("start", "press Start once the window is up");
    const QCommandLineOption quit_after("quit-after", "quit cleanly after this many seconds",
                                        "seconds");
    const QCommandLineOption benchmark(
        "benchmark", "swap, then print FPS and latency over this many seconds and quit", "seconds");
    const QCommandLineOption screenshot("screenshot", "save the window to this PNG before quitting",
                                        "file");
    const QCommandLineOption record_dir(
        "record-dir", "where Record writes its videos (default: ~/Videos)", "folder");
    const QCommandLineOption no_settings("no-settings", "neither read nor save the saved settings");
    parser.addOptions({source, mode, server, token, model, direction, size, fps, no_pipeline,
                       inline_detection, precision, start, quit_after, benchmark, screenshot,
                       record_dir, no_settings});
    parser.process(app);

    faceswap::ui::AppOptions options;
    options.source = parser.value(source);
    options.mode = parser.value(mode);
    options.server = parser.value(server);
    options.token = parser.value(token);
    options.model = parser.value(model);
    options.direction = parser.value(direction);
    options.use_settings = !parser.isSet(no_settings);
    options.record_dir = parser.value(record_dir);
    if (parser.isSet(size)) {
        const QStringList wh = parser.value(size).split('x');
        if (wh.size() != 2 || wh[0].toInt() < 64 || wh[1].toInt() < 48) {
            std::fprintf(stderr, "error: --size takes WIDTHxHEIGHT, e.g. 640x480\n");
            return 2;
        }
        options.size = QSize(wh[0].toInt(), wh[1].toInt());
    }
    options.file_fps = parser.value(fps).toDouble();
    options.camera_fps = options.file_fps;
    options.pipelined = !parser.isSet(no_pipeline);
    options.background_detection = !parser.isSet(inline_detection);
    try {
        if (parser.isSet(precision))
            options.precision = faceswap::parse_precision(parser.value(precision).toStdString());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: --precision: %s\n", e.what());
        return 2;
    }
    if (!options.mode.isEmpty() && options.mode != "local" && options.mode != "remote") {
        std::fprintf(stderr, "error: --mode is local or remote\n");
        return 2;
    }
    if (!options.direction.isEmpty() && options.direction != "a2b" && options.direction != "b2a") {
        std::fprintf(stderr, "error: --direction is a2b or b2a\n");
        return 2;
    }

    faceswap::ui::MainWindow window(options);
    window.show();

    const QString screenshot_path = parser.value(screenshot);
    const auto finish = [&](int code) {
        if (!screenshot_path.isEmpty() && !window.grab().save(screenshot_path))
            std::fprintf(stderr, "warning: could not write the screenshot %s\n",
                         qPrintable(screenshot_path));
        window.close();
        QApplication::exit(code);
    };
    if (parser.isSet(start) || parser.isSet(benchmark))
        QTimer::singleShot(0, &window, [&] { window.start_button()->click(); });
    if (parser.isSet(quit_after))
        QTimer::singleShot(static_cast<int>(parser.value(quit_after).toDouble() * 1000), &window,
                           [&] { finish(0); });

    // Benchmark: wait for the backend to run, let it warm up 3 s, then measure what the user sees.
    const double bench_seconds = parser.value(benchmark).toDouble();
    QTimer bench_timer;
    if (parser.isSet(benchmark)) {
        enum class Phase { kWaiting, kWarmup, kMeasuring } phase = Phase::kWaiting;
        QElapsedTimer phase_clock;
        std::int64_t preview_at_start = 0;
        QObject::connect(
            &bench_timer, &QTimer::timeout, &window,
            [&, phase, phase_clock, preview_at_start]() mutable {
                auto* backend = window.backend();
                const BackendState state = backend ? backend->state() : BackendState::kStopped;
                if (state == BackendState::kFailed ||
                    (phase != Phase::kWaiting && state != BackendState::kRunning)) {
                    std::fprintf(stderr, "error: the swap stopped: %s\n",
                                 qPrintable(window.message()));
                    finish(1);
                    return;
                }
                if (phase == Phase::kWaiting && state == BackendState::kRunning) {
                    phase = Phase::kWarmup;
                    phase_clock.start();
                } else if (phase == Phase::kWarmup && phase_clock.elapsed() > 3000) {
                    phase = Phase::kMeasuring;
                    window.reset_stats();
                    preview_at_start = window.preview_frames();
                    backend->counters();
                    phase_clock.start();
                } else if (phase == Phase::kMeasuring &&
                           phase_clock.elapsed() > bench_seconds * 1000) {
                    const auto s = window.stats();
                    const auto c = backend->counters();
                    const double seconds = phase_clock.elapsed() / 1000.0;
                    std::printf("faceswap-app benchmark: %s, source %s at %dx%d, %.0f s\n",
                                qPrintable(backend->describe()),
                                qPrintable(window.current_source()),
                                window.preview_view()->image().width(),
                                window.preview_view()->image().height(), seconds);
                    std::printf("  swapped view  %.1f FPS (%lld frames shown)\n", window.mean_fps(),
                                static_cast<long long>(s.frames));
                    std::printf("  preview       %.1f FPS\n",
                                (window.preview_frames() - preview_at_start) / seconds);
                    std::printf(
                        "  capture-to-display latency  p50 %.1f ms, p95 %.1f ms, max %.1f ms (last "
                        "%d frames)\n",
                        s.latency_p50_ms, s.latency_p95_ms, s.latency_max_ms, 300);
                    std::printf(
                        "  since start: swapped %lld, skipped (backend busy) %lld, lost %lld\n",
                        static_cast<long long>(c.swapped), static_cast<long long>(c.skipped),
                        static_cast<long long>(c.lost));
                    std::fflush(stdout);
                    finish(0);
                }
            });
        bench_timer.start(50);
    }
    return QApplication::exec();
}
