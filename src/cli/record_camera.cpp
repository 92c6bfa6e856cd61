// make-model's `--a camera`: records the user from a camera for a set time, printing what to do
// next (turn left, right, look up, down, talk, blink, smile) as the New model dialog shows it,
// into the model's work folder. The file is the camera as it is: not generated, not marked.
#include <QCoreApplication>
#include <QDateTime>
#include <QGuiApplication>
#include <QTimer>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include "cli_common.h"
#include "commands.h"
#include "faceswap/capture/frame_source.h"
#include "faceswap/capture/video_writer.h"
#include "faceswap/clock.h"
#include "faceswap/paths.h"
#include "recording_coverage.h"
#include "source_factory.h"

namespace faceswap::cli {

namespace fs = std::filesystem;

bool is_camera_source(const std::string& source) {
    return source == "camera" || source.rfind("camera:", 0) == 0;
}

std::string record_camera(const std::string& source, const fs::path& work_dir, double seconds,
                          const std::string& model_dir) {
    // A recording made by an earlier run of this model: reused, as any prepared source is.
    const fs::path stamp = work_dir / "a" / "curated.done";
    if (fs::exists(stamp)) {
        std::string made_from;
        std::getline(std::ifstream(stamp), made_from);
        if (fs::path(made_from).filename().string().rfind("camera-", 0) == 0 &&
            fs::exists(made_from)) {
            std::fprintf(stderr,
                         "[make-model] A: using the camera recording made earlier, %s (remove "
                         "%s to record again)\n",
                         made_from.c_str(), (work_dir / "a").string().c_str());
            return made_from;
        }
    }
    const auto application = headless_gui_application();
    QGuiApplication& app = *application;

    QString key = QString::fromStdString(source);
    key = ui::sources::resolve_camera(key, nullptr);
    // An empty work folder this run made is not left behind.
    const auto fail = [&](const std::string& message) {
        std::error_code ignored;
        if (fs::is_empty(work_dir, ignored)) fs::remove(work_dir, ignored);
        throw Error(ErrorCode::kInvalidArgument, message);
    };
    if (!key.startsWith(ui::sources::kCameraKey))
        fail(
            "--a " + source + ": " +
            (source == "camera" ? std::string("no camera found") : "that camera is not connected") +
            ": connect one, or give a video or photos of you as --a");
    auto mailbox = std::make_shared<capture::FrameMailbox>();
    const auto camera = ui::sources::open(key, mailbox, {QSize(640, 480), 30, 0});
    std::string failure;
    QObject::connect(camera.get(), &capture::FrameSource::failed, &app, [&](const QString& e) {
        failure = e.toStdString();
        QCoreApplication::quit();
    });

    fs::create_directories(work_dir);
    const fs::path path =
        work_dir /
        ("camera-" +
         QDateTime::currentDateTime().toString(QStringLiteral("yyyy-MM-dd-HHmmss")).toStdString() +
         ".mp4");
    EngineConfig config = EngineConfig::defaults();
    config.model_dir = paths::face_model_dir(model_dir);
    config.device = DeviceKind::kCpu;
    config.cpu_threads = 1;
    FaceAnalyzer analyzer(FaceModels::load(config), config);
    ui::RecordingCoverage coverage;
    std::unique_ptr<capture::VideoFileWriter> writer;
    std::int64_t seen = 0, first_us = -1, last_analysis_us = 0;
    std::string last_instruction;
    std::fprintf(stderr,
                 "[make-model] A: recording you for %.0f s: face the camera in good light and "
                 "follow the prompts\n",
                 seconds);
    QTimer tick;
    QObject::connect(&tick, &QTimer::timeout, &app, [&] {
        const capture::FramePtr frame = mailbox->latest();
        const std::int64_t now = clock::now_us();
        if (!frame || frame->sequence == seen) return;
        seen = frame->sequence;
        try {
            if (!writer) {
                capture::VideoWriterOptions options;
                options.path = path.string();
                options.width = frame->bgr.cols;
                options.height = frame->bgr.rows;
                options.fps = 30;
                options.provenance = "faceswap make-model: camera recording of A";
                writer = std::make_unique<capture::VideoFileWriter>(options);
                first_us = frame->capture_us;
            }
            writer->write(frame->bgr);
        } catch (const std::exception& e) {
            failure = e.what();
            QCoreApplication::quit();
            return;
        }
        if (now - last_analysis_us > 150'000) {  // poses change slower than frames come
            last_analysis_us = now;
            const FrameAnalysis analysis = analyzer.analyze(capture::view_of(frame->bgr));
            if (const Face* face = largest_face(analysis.faces)) coverage.add(face->landmarks);
            const std::string instruction =
                analysis.faces.empty()         ? "no face in view: face the camera"
                : !coverage.calibrated()       ? "look straight at the camera"
                : *coverage.next_instruction() ? coverage.next_instruction()
                                               : "all seen: keep going";
            if (instruction != last_instruction) {
                std::fprintf(stderr, "[record] %4.0f s  %d/%zu seen  -> %s\n",
                             (frame->capture_us - first_us) / 1e6, coverage.covered_count(),
                             ui::kCoverageCount, instruction.c_str());
                last_instruction = instruction;
            }
        }
        if ((frame->capture_us - first_us) / 1e6 >= seconds) QCoreApplication::quit();
    });
    // A camera that gives nothing (taken by another program, unplugged) ends the wait.
    QTimer::singleShot(5000, &app, [&] {
        if (first_us < 0) {
            failure = "no picture from the camera in 5 s (is another program using it?)";
            QCoreApplication::quit();
        }
    });
    camera->start();
    tick.start(5);
    app.exec();
    camera->stop();
    if (writer) {
        try {
            writer->close();
        } catch (const std::exception& e) {
            if (failure.empty()) failure = e.what();
        }
    }
    if (!failure.empty()) {
        std::error_code ignored;
        fs::remove(path, ignored);
        fail("recording from the camera failed: " + failure +
             "; or give a video or photos of you as --a");
    }
    std::fprintf(stderr, "[make-model] A: recorded %s (%d of %zu poses and expressions seen)\n",
                 path.string().c_str(), coverage.covered_count(), ui::kCoverageCount);
    return path.string();
}

}  // namespace faceswap::cli
