#include "main_window.h"

#include <QApplication>
#include <QCloseEvent>
#include <QComboBox>
#include <QDateTime>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QPointer>
#include <QHBoxLayout>
#include <QKeySequence>
#include <QLabel>
#include <QLineEdit>
#include <QMediaDevices>
#include <QPushButton>
#include <QSettings>
#include <QShortcut>
#include <QSplitter>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>

#include <thread>

#include "faceswap/capture/frame_source.h"
#include "faceswap/capture/media_reader.h"
#include "faceswap/net/model_store.h"
#include "faceswap/paths.h"
#include "local_backend.h"
#include "recorder.h"
#include "remote_backend.h"
#include "video_view.h"

namespace faceswap::ui {
namespace {

const QString kDemoKey = QStringLiteral("demo");
const QString kPatternKey = QStringLiteral("pattern");
const QString kOpenKey = QStringLiteral("open");
const QString kCameraKey = QStringLiteral("camera");

// A QImage that shares the captured frame's pixels (no copy) and keeps the frame alive.
QImage image_of(const capture::FramePtr& frame) {
    auto* keep = new capture::FramePtr(frame);
    return QImage(frame->bgr.data, frame->bgr.cols, frame->bgr.rows,
                  static_cast<qsizetype>(frame->bgr.step[0]), QImage::Format_BGR888,
                  [](void* info) { delete static_cast<capture::FramePtr*>(info); }, keep);
}

// "--source" values to the picker's keys: camera[:id], demo, pattern, file:<path>.
QString source_key_of(const QString& option) {
    if (option.isEmpty() || option == kCameraKey || option.startsWith(kCameraKey + ':') ||
        option == kDemoKey || option == kPatternKey || option.startsWith(QLatin1String("file:")))
        return option;
    return QStringLiteral("file:") + QFileInfo(option).absoluteFilePath();
}

std::int64_t now_us() { return capture::steady_now_us(); }

}  // namespace

MainWindow::MainWindow(AppOptions options, QWidget* parent)
    : QMainWindow(parent),
      options_(std::move(options)),
      mailbox_(std::make_shared<capture::FrameMailbox>()) {
    if (options_.use_settings)
        settings_ = std::make_unique<QSettings>(QStringLiteral("faceswap"), QStringLiteral("faceswap-app"));
    build_ui();
    // Both backends exist from the start (idle, cheap); Start hands the chosen one its settings.
    local_ = new LocalBackend(LocalSettings{}, this);
    remote_ = new RemoteBackend(RemoteSettings{}, this);
    for (SwapBackend* backend : {static_cast<SwapBackend*>(local_), static_cast<SwapBackend*>(remote_)}) {
        connect(backend, &SwapBackend::stateChanged, this, &MainWindow::on_backend_state);
        connect(backend, &SwapBackend::frameReady, this, &MainWindow::on_swapped_frame);
    }
    load_settings();
    update_mode_widgets();
    restart_source();

    // The preview follows the capture on its own timer: it never waits for the swap.
    preview_timer_ = new QTimer(this);
    preview_timer_->setTimerType(Qt::PreciseTimer);
    connect(preview_timer_, &QTimer::timeout, this, &MainWindow::update_preview);
    preview_timer_->start(8);
    status_timer_ = new QTimer(this);
    connect(status_timer_, &QTimer::timeout, this, &MainWindow::update_status);
    status_timer_->start(500);
    update_status();
}

MainWindow::~MainWindow() {
    recorder_.reset();
    if (source_) source_->stop();
    mailbox_->close();  // wakes a backend worker waiting for frames
}

void MainWindow::build_ui() {
    setWindowTitle(QStringLiteral("faceswap — live face swap"));
    auto* central = new QWidget(this);
    auto* column = new QVBoxLayout(central);
    column->setContentsMargins(8, 8, 8, 4);

    // Controls, left to right in the order a user sets them up.
    auto* controls = new QHBoxLayout;
    source_combo_ = new QComboBox;
    source_combo_->setObjectName(QStringLiteral("sourceCombo"));
    source_combo_->setMinimumContentsLength(16);
    source_combo_->setToolTip(QStringLiteral("Where the video comes from (Ctrl+O opens a video file)"));
    size_combo_ = new QComboBox;
    size_combo_->setObjectName(QStringLiteral("sizeCombo"));
    size_combo_->setToolTip(QStringLiteral("Capture size (the nearest the camera offers)"));
    for (const QSize& size : {QSize(320, 240), QSize(640, 480), QSize(960, 540), QSize(1280, 720), QSize(1920, 1080)})
        size_combo_->addItem(QStringLiteral("%1×%2").arg(size.width()).arg(size.height()), size);
    rate_combo_ = new QComboBox;
    rate_combo_->setObjectName(QStringLiteral("rateCombo"));
    rate_combo_->setToolTip(QStringLiteral("Camera frame rate (video files play at their own)"));
    for (int rate : {15, 24, 25, 30, 60}) rate_combo_->addItem(QStringLiteral("%1 fps").arg(rate), rate);
    mode_combo_ = new QComboBox;
    mode_combo_->setObjectName(QStringLiteral("modeCombo"));
    mode_combo_->addItem(QStringLiteral("Local"), QStringLiteral("local"));
    mode_combo_->addItem(QStringLiteral("Remote"), QStringLiteral("remote"));
    mode_combo_->setToolTip(QStringLiteral("Local: swap on this computer. Remote: swap on a faceswap-server."));

    remote_fields_ = new QWidget;
    auto* remote_row = new QHBoxLayout(remote_fields_);
    remote_row->setContentsMargins(0, 0, 0, 0);
    server_edit_ = new QLineEdit;
    server_edit_->setObjectName(QStringLiteral("serverEdit"));
    server_edit_->setPlaceholderText(QStringLiteral("ws://server:8080/"));
    server_edit_->setMinimumWidth(200);
    token_edit_ = new QLineEdit;
    token_edit_->setObjectName(QStringLiteral("tokenEdit"));
    token_edit_->setPlaceholderText(QStringLiteral("token"));
    token_edit_->setEchoMode(QLineEdit::Password);
    token_edit_->setMaximumWidth(140);
    remote_row->addWidget(server_edit_);
    remote_row->addWidget(token_edit_);

    model_combo_ = new QComboBox;
    model_combo_->setObjectName(QStringLiteral("modelCombo"));
    model_combo_->setEditable(true);
    model_combo_->setMinimumContentsLength(14);
    model_browse_ = new QToolButton;
    model_browse_->setText(QStringLiteral("…"));
    model_browse_->setToolTip(QStringLiteral("Choose a model file (.fsmodel)"));
    model_refresh_ = new QToolButton;
    model_refresh_->setObjectName(QStringLiteral("modelRefresh"));
    model_refresh_->setText(QStringLiteral("⟳"));
    model_refresh_->setToolTip(QStringLiteral("List the models the server offers"));
    direction_combo_ = new QComboBox;
    direction_combo_->setObjectName(QStringLiteral("directionCombo"));
    direction_combo_->addItem(QStringLiteral("A → B"), QStringLiteral("a2b"));
    direction_combo_->addItem(QStringLiteral("B → A"), QStringLiteral("b2a"));

    start_button_ = new QPushButton(QStringLiteral("Start"));
    start_button_->setObjectName(QStringLiteral("startButton"));
    start_button_->setMinimumWidth(110);
    start_button_->setToolTip(QStringLiteral("Start or stop the swap (Space)"));
    start_button_->setStyleSheet(QStringLiteral("QPushButton { font-weight: bold; padding: 6px 14px; }"));
    record_button_ = new QPushButton(QStringLiteral("Record"));
    record_button_->setObjectName(QStringLiteral("recordButton"));
    record_button_->setToolTip(QStringLiteral("Record the swapped view to a video file (Ctrl+R)"));
    layout_button_ = new QPushButton(QStringLiteral("Swapped only"));
    layout_button_->setCheckable(true);
    layout_button_->setToolTip(QStringLiteral("Show the swapped view alone, large (V)"));

    controls->addWidget(new QLabel(QStringLiteral("Source")));
    controls->addWidget(source_combo_);
    controls->addWidget(size_combo_);
    controls->addWidget(rate_combo_);
    controls->addWidget(mode_combo_);
    controls->addWidget(remote_fields_);
    controls->addWidget(new QLabel(QStringLiteral("Model")));
    controls->addWidget(model_combo_, 1);
    controls->addWidget(model_browse_);
    controls->addWidget(model_refresh_);
    controls->addWidget(direction_combo_);
    controls->addStretch();
    controls->addWidget(layout_button_);
    controls->addWidget(record_button_);
    controls->addWidget(start_button_);
    column->addLayout(controls);

    // A banner for problems the user must act on, with the demo video on offer.
    banner_ = new QWidget;
    banner_->setObjectName(QStringLiteral("messageBanner"));
    banner_->setStyleSheet(QStringLiteral("#messageBanner { background: #5a3d12; border-radius: 4px; } "
                                          "QLabel { color: #fff3dd; }"));
    auto* banner_row = new QHBoxLayout(banner_);
    banner_text_ = new QLabel;
    banner_text_->setObjectName(QStringLiteral("messageText"));
    banner_text_->setWordWrap(true);
    banner_demo_ = new QPushButton(QStringLiteral("Use the demo video"));
    auto* banner_close = new QToolButton;
    banner_close->setText(QStringLiteral("✕"));
    banner_row->addWidget(banner_text_, 1);
    banner_row->addWidget(banner_demo_);
    banner_row->addWidget(banner_close);
    banner_->hide();
    column->addWidget(banner_);

    auto* views = new QSplitter(Qt::Horizontal);
    preview_ = new VideoView(QStringLiteral("Camera"));
    preview_->setObjectName(QStringLiteral("previewView"));
    swapped_ = new VideoView(QStringLiteral("Swapped"));
    swapped_->setObjectName(QStringLiteral("swappedView"));
    swapped_->clear(QStringLiteral("Press Start (Space) to swap faces"));
    views->addWidget(preview_);
    views->addWidget(swapped_);
    column->addWidget(views, 1);
    setCentralWidget(central);

    state_label_ = new QLabel;
    state_label_->setObjectName(QStringLiteral("stateLabel"));
    fps_label_ = new QLabel;
    fps_label_->setObjectName(QStringLiteral("fpsLabel"));
    latency_label_ = new QLabel;
    dropped_label_ = new QLabel;
    faces_label_ = new QLabel;
    statusBar()->addWidget(state_label_, 1);
    for (QLabel* label : {fps_label_, latency_label_, dropped_label_, faces_label_})
        statusBar()->addPermanentWidget(label);
    resize(1100, 520);

    // Cameras plugged in or out show up in the picker at once.
    connect(new QMediaDevices(this), &QMediaDevices::videoInputsChanged, this,
            [this] { select_source_key(source_key_); });
    connect(start_button_, &QPushButton::clicked, this, &MainWindow::toggle_swap);
    connect(record_button_, &QPushButton::clicked, this, &MainWindow::toggle_recording);
    connect(layout_button_, &QPushButton::toggled, this, &MainWindow::set_layout_single);
    connect(banner_demo_, &QPushButton::clicked, this, &MainWindow::use_demo_video);
    connect(banner_close, &QToolButton::clicked, this, &MainWindow::hide_message);
    connect(swapped_, &VideoView::painted, this,
            [this](std::int64_t capture_us) { stats_.record(capture_us, now_us()); });
    connect(source_combo_, qOverload<int>(&QComboBox::activated), this, [this](int index) {
        QString key = source_combo_->itemData(index).toString();
        if (key == kOpenKey) {
            const QString file = QFileDialog::getOpenFileName(
                this, QStringLiteral("Open a video"), QDir::homePath(),
                QStringLiteral("Videos (*.mp4 *.mkv *.avi *.mov *.webm *.ogv);;All files (*)"));
            if (file.isEmpty()) {
                select_source_key(source_key_);
                return;
            }
            key = source_key_of(file);
        }
        select_source_key(key);
        restart_source();
        save_settings();
    });
    for (QComboBox* combo : {size_combo_, rate_combo_})
        connect(combo, qOverload<int>(&QComboBox::activated), this, [this] {
            restart_source();
            save_settings();
        });
    connect(mode_combo_, qOverload<int>(&QComboBox::activated), this, [this] {
        if (backend_ && backend_->active()) backend_->stop();
        update_mode_widgets();
        save_settings();
    });
    connect(model_refresh_, &QToolButton::clicked, this, &MainWindow::refresh_remote_models);
    connect(model_browse_, &QToolButton::clicked, this, [this] {
        const QString file = QFileDialog::getOpenFileName(
            this, QStringLiteral("Choose a swap model"),
            QFileInfo(model_combo_->currentText()).absolutePath(),
            QStringLiteral("faceswap models (*.fsmodel);;All files (*)"));
        if (!file.isEmpty()) model_combo_->setEditText(file);
    });

    // Keyboard: Space start/stop, Ctrl+R record, V layout, F full screen, Ctrl+O open, Esc/Ctrl+Q.
    const auto shortcut = [this](const QKeySequence& keys, auto&& slot) {
        connect(new QShortcut(keys, this), &QShortcut::activated, this, slot);
    };
    shortcut(QKeySequence(Qt::Key_Space), [this] { toggle_swap(); });
    shortcut(QKeySequence(QStringLiteral("Ctrl+R")), [this] { toggle_recording(); });
    shortcut(QKeySequence(Qt::Key_V), [this] { layout_button_->toggle(); });
    shortcut(QKeySequence(Qt::Key_F), [this] { isFullScreen() ? showNormal() : showFullScreen(); });
    shortcut(QKeySequence(Qt::Key_Escape), [this] { if (isFullScreen()) showNormal(); });
    shortcut(QKeySequence::Open, [this] {
        const int index = source_combo_->findData(kOpenKey);
        if (index >= 0) emit source_combo_->activated(index);
    });
    shortcut(QKeySequence::Quit, [this] { close(); });
}

void MainWindow::refresh_sources() {
    source_combo_->clear();
    for (const auto& [id, description] : capture::CameraSource::available())
        source_combo_->addItem(description, kCameraKey + ':' + QString::fromLatin1(id.toHex()));
    source_combo_->addItem(QStringLiteral("Demo video"), kDemoKey);
    source_combo_->addItem(QStringLiteral("Test pattern"), kPatternKey);
    if (source_key_.startsWith(QLatin1String("file:")))
        source_combo_->addItem(QFileInfo(source_key_.mid(5)).fileName(), source_key_);
    source_combo_->addItem(QStringLiteral("Video file…"), kOpenKey);
}

void MainWindow::select_source_key(const QString& key) {
    source_key_ = key;
    refresh_sources();
    const int index = source_combo_->findData(key);
    if (index >= 0) source_combo_->setCurrentIndex(index);
}

QString MainWindow::current_source() const { return source_key_; }

void MainWindow::load_settings() {
    const auto saved = [this](const char* key, const QString& fallback) {
        return settings_ ? settings_->value(QLatin1String(key), fallback).toString() : fallback;
    };
    QString source = source_key_of(options_.source);
    if (source.isEmpty()) source = saved("source", kCameraKey);
    const QString mode = options_.mode.isEmpty() ? saved("mode", QStringLiteral("local")) : options_.mode;
    mode_combo_->setCurrentIndex(std::max(0, mode_combo_->findData(mode)));
    server_edit_->setText(options_.server.isEmpty() ? saved("server", QStringLiteral("ws://127.0.0.1:8080/"))
                                                    : options_.server);
    token_edit_->setText(options_.token.isEmpty() ? saved("token", {}) : options_.token);
    const QString direction = options_.direction.isEmpty() ? saved("direction", QStringLiteral("a2b"))
                                                           : options_.direction;
    direction_combo_->setCurrentIndex(std::max(0, direction_combo_->findData(direction)));
    const QSize size = options_.size.isValid()
                           ? options_.size
                           : (settings_ ? settings_->value(QStringLiteral("size"), QSize(640, 480)).toSize()
                                        : QSize(640, 480));
    if (size_combo_->findData(size) < 0)
        size_combo_->addItem(QStringLiteral("%1×%2").arg(size.width()).arg(size.height()), size);
    size_combo_->setCurrentIndex(size_combo_->findData(size));
    const int rate = options_.camera_fps > 0
                         ? static_cast<int>(options_.camera_fps)
                         : (settings_ ? settings_->value(QStringLiteral("rate"), 30).toInt() : 30);
    if (rate_combo_->findData(rate) < 0) rate_combo_->addItem(QStringLiteral("%1 fps").arg(rate), rate);
    rate_combo_->setCurrentIndex(rate_combo_->findData(rate));
    const bool single = settings_ && settings_->value(QStringLiteral("swapped_only"), false).toBool();
    layout_button_->setChecked(single);
    if (settings_) restoreGeometry(settings_->value(QStringLiteral("geometry")).toByteArray());

    // A camera that is not there: fall back to the demo video, and say so.
    if (source.startsWith(kCameraKey)) {
        const auto cameras = capture::CameraSource::available();
        const QByteArray wanted = QByteArray::fromHex(source.mid(kCameraKey.size() + 1).toLatin1());
        const bool present = std::any_of(cameras.begin(), cameras.end(), [&](const auto& camera) {
            return wanted.isEmpty() || camera.first == wanted;
        });
        if (!present) {
            show_message(cameras.isEmpty()
                             ? QStringLiteral("No camera found: showing the demo video. Connect a camera "
                                              "and pick it under Source.")
                             : QStringLiteral("The saved camera is not connected: showing the demo video."));
            source = kDemoKey;
        } else if (wanted.isEmpty() && !cameras.isEmpty()) {
            source = kCameraKey + ':' + QString::fromLatin1(cameras.front().first.toHex());
        }
    }
    select_source_key(source);
}

void MainWindow::save_settings() const {
    if (!settings_) return;
    settings_->setValue(QStringLiteral("source"), source_key_);
    settings_->setValue(QStringLiteral("mode"), mode_combo_->currentData());
    settings_->setValue(QStringLiteral("server"), server_edit_->text());
    settings_->setValue(QStringLiteral("token"), token_edit_->text());
    settings_->setValue(mode_combo_->currentData() == QLatin1String("remote") ? QStringLiteral("remote_model")
                                                                              : QStringLiteral("local_model"),
                        model_combo_->currentText());
    settings_->setValue(QStringLiteral("direction"), direction_combo_->currentData());
    settings_->setValue(QStringLiteral("swapped_only"), layout_button_->isChecked());
    settings_->setValue(QStringLiteral("size"), capture_size());
    settings_->setValue(QStringLiteral("rate"), rate_combo_->currentData());
    settings_->setValue(QStringLiteral("geometry"), saveGeometry());
}

void MainWindow::update_mode_widgets() {
    const bool remote = mode_combo_->currentData() == QLatin1String("remote");
    remote_fields_->setVisible(remote);
    model_browse_->setVisible(!remote);
    model_refresh_->setVisible(remote);
    const auto saved = [this](const char* key, const QString& fallback) {
        return settings_ ? settings_->value(QLatin1String(key), fallback).toString() : fallback;
    };
    QString model = options_.model;
    if (model.isEmpty())
        model = remote ? saved("remote_model", QStringLiteral("demo"))
                       : saved("local_model", QString::fromStdString(paths::swap_model()));
    model_combo_->clear();
    model_combo_->addItem(model);
    model_combo_->setToolTip(remote ? QStringLiteral("The model id on the server")
                                    : QStringLiteral("The swap model file (.fsmodel)"));
}

// Asks the server's model API (GET /v1/models) on a worker thread; the GUI never waits for it.
void MainWindow::refresh_remote_models() {
    const std::string url = server_edit_->text().trimmed().toStdString();
    net::HttpOptions http;
    http.token = token_edit_->text().toStdString();
    http.connect_timeout = std::chrono::milliseconds(3000);
    model_refresh_->setEnabled(false);
    QPointer<MainWindow> window(this);
    std::thread([window, url, http] {
        QStringList ids;
        QString error;
        try {
            for (const net::RemoteModel& model : net::ModelStoreClient(url, http).list())
                ids << QString::fromStdString(model.id);
        } catch (const std::exception& e) {
            error = QString::fromUtf8(e.what());
        }
        QMetaObject::invokeMethod(qApp, [window, ids, error] {
            if (!window) return;
            window->model_refresh_->setEnabled(true);
            if (!error.isEmpty()) {
                window->show_message(QStringLiteral("Could not list the server's models: %1").arg(error));
                return;
            }
            const QString current = window->model_combo_->currentText();
            window->model_combo_->clear();
            window->model_combo_->addItems(ids);
            const int index = window->model_combo_->findText(current);
            window->model_combo_->setCurrentIndex(index >= 0 ? index : 0);
            window->statusBar()->showMessage(
                QStringLiteral("The server offers %1 model(s)").arg(ids.size()), 5000);
        });
    }).detach();
}

void MainWindow::restart_source() {
    if (source_) {
        source_->stop();
        source_.reset();
    }
    preview_->clear(QStringLiteral("Opening %1…").arg(source_combo_->currentText()));
    const QString key = source_key_;
    if (key.startsWith(kCameraKey)) {
        capture::CameraOptions camera;
        camera.device_id = QByteArray::fromHex(key.mid(kCameraKey.size() + 1).toLatin1());
        camera.size = capture_size();
        camera.fps = capture_rate();
        source_ = std::make_unique<capture::CameraSource>(mailbox_, camera);
    } else if (key == kPatternKey) {
        source_ = std::make_unique<capture::TestPatternSource>(mailbox_, capture_size(), capture_rate());
    } else {
        const QString path = key == kDemoKey ? QString::fromStdString(paths::demo_video()) : key.mid(5);
        capture::VideoFileOptions file;
        file.fps = options_.file_fps;
        // The demo video is small (360x288): scale it to the capture size, as a camera would give.
        if (key == kDemoKey) file.size = capture_size();
        source_ = std::make_unique<capture::VideoFileSource>(mailbox_, path, file);
    }
    connect(source_.get(), &capture::FrameSource::failed, this, &MainWindow::on_source_failed);
    connect(source_.get(), &capture::FrameSource::opened, this, [this](QSize size, double fps) {
        statusBar()->showMessage(QStringLiteral("%1: %2x%3 at %4 frames/s")
                                     .arg(source_->name())
                                     .arg(size.width())
                                     .arg(size.height())
                                     .arg(fps, 0, 'f', 0),
                                 4000);
    });
    source_->start();
}

QSize MainWindow::capture_size() const { return size_combo_->currentData().toSize(); }
double MainWindow::capture_rate() const { return rate_combo_->currentData().toDouble(); }

void MainWindow::on_source_failed(const QString& message) {
    preview_->clear(message);
    show_message(message, source_key_ != kDemoKey);
}

void MainWindow::use_demo_video() {
    hide_message();
    select_source_key(kDemoKey);
    restart_source();
    save_settings();
}

void MainWindow::show_message(const QString& text, bool offer_demo) {
    banner_text_->setText(text);
    banner_demo_->setVisible(offer_demo);
    banner_->show();
}

void MainWindow::hide_message() {
    banner_text_->clear();
    banner_->hide();
}

QString MainWindow::message() const { return banner_->isVisible() ? banner_text_->text() : QString(); }

void MainWindow::update_preview() {
    const capture::FramePtr frame = mailbox_->latest();
    if (!frame || frame->sequence == preview_sequence_) return;
    preview_sequence_ = frame->sequence;
    ++preview_frames_;
    preview_->show_image(image_of(frame), frame->capture_us);
}

void MainWindow::toggle_swap() {
    if (backend_ && backend_->active()) {
        backend_->stop();
        return;
    }
    start_backend();
}

void MainWindow::start_backend() {
    hide_message();
    save_settings();
    const bool remote = mode_combo_->currentData() == QLatin1String("remote");
    const bool a2b = direction_combo_->currentData() == QLatin1String("a2b");
    if (remote) {
        RemoteSettings settings;
        settings.url = server_edit_->text().trimmed().toStdString();
        settings.token = token_edit_->text().toStdString();
        settings.model = model_combo_->currentText().trimmed().toStdString();
        settings.direction = a2b ? net::Direction::kAToB : net::Direction::kBToA;
        remote_->set_settings(settings);
        backend_ = remote_;
    } else {
        LocalSettings settings;
        settings.face_model_dir = paths::face_model_dir(options_.face_model_dir.toStdString());
        settings.swap_model = model_combo_->currentText().trimmed().toStdString();
        settings.swap.direction = a2b ? SwapDirection::kAToB : SwapDirection::kBToA;
        settings.pipelined = options_.pipelined;
        settings.background_detection = options_.background_detection;
        local_->set_settings(settings);
        backend_ = local_;
    }
    stats_.reset();
    backend_->start(mailbox_);
}

void MainWindow::on_backend_state(BackendState state, const QString& detail) {
    if (sender() != backend_) return;  // a backend we switched away from, finishing
    state_detail_ = detail;
    const bool active = backend_->active();
    start_button_->setText(active ? QStringLiteral("Stop") : QStringLiteral("Start"));
    start_button_->setEnabled(state != BackendState::kStopping);
    mode_combo_->setEnabled(!active);
    model_combo_->setEnabled(!active);
    direction_combo_->setEnabled(!active);
    remote_fields_->setEnabled(!active);
    if (state == BackendState::kFailed) {
        show_message(QStringLiteral("The swap stopped: %1").arg(detail));
        swapped_->clear(detail);
    } else if (state == BackendState::kStopped) {
        if (recorder_) toggle_recording();
        swapped_->clear(QStringLiteral("Press Start (Space) to swap faces"));
    } else if (state == BackendState::kReconnecting) {
        swapped_->clear(QStringLiteral("Connection lost — reconnecting…\n%1").arg(detail));
    } else if (state == BackendState::kRunning && mode_combo_->currentData() == QLatin1String("local")) {
        hide_message();
    }
    update_status();
}

void MainWindow::on_swapped_frame() {
    auto* backend = qobject_cast<SwapBackend*>(sender());
    if (!backend) return;
    const auto frame = backend->take_frame();
    if (!frame || backend != backend_ || !backend_->active()) return;
    faces_ = frame->faces;
    last_swapped_ = frame;
    swapped_->show_image(frame->image, frame->capture_us);
    if (recorder_) recorder_->add(frame->image, frame->capture_us);
}

StatsSnapshot MainWindow::stats() const { return stats_.snapshot(now_us()); }

void MainWindow::update_status() {
    const BackendState state = backend_ ? backend_->state() : BackendState::kStopped;
    QString text = backend_ ? backend_->describe() + QStringLiteral(": ") : QString();
    text += QString::fromLatin1(state_label(state));
    if (!state_detail_.isEmpty() && state != BackendState::kStopped) text += QStringLiteral(" — ") + state_detail_;
    if (recorder_) text += QStringLiteral("  ● recording");
    state_label_->setText(text);
    const char* colour = state == BackendState::kRunning        ? "#2e9d4f"
                         : state == BackendState::kFailed       ? "#c0392b"
                         : state == BackendState::kReconnecting ? "#d68910"
                                                                : "palette(window-text)";
    state_label_->setStyleSheet(QStringLiteral("QLabel { color: %1; }").arg(QLatin1String(colour)));
    if (!backend_ || !backend_->active()) {
        fps_label_->setText(QStringLiteral("FPS —"));
        latency_label_->setText(QStringLiteral("latency —"));
        dropped_label_->setText(QString());
        faces_label_->setText(QString());
        return;
    }
    const StatsSnapshot s = stats();
    const BackendCounters c = backend_->counters();
    fps_label_->setText(QStringLiteral("%1 FPS").arg(s.fps, 0, 'f', 1));
    latency_label_->setText(QStringLiteral("latency p50 %1 ms, p95 %2 ms")
                                .arg(s.latency_p50_ms, 0, 'f', 0)
                                .arg(s.latency_p95_ms, 0, 'f', 0));
    dropped_label_->setText(QStringLiteral("skipped %1%2").arg(c.skipped).arg(
        c.lost > 0 ? QStringLiteral(", lost %1").arg(c.lost) : QString()));
    faces_label_->setText(QStringLiteral("faces %1").arg(faces_));
}

QString MainWindow::model_provenance() const {
    return QStringLiteral("AI-generated face swap; faceswap-app; %1 model %2; direction %3")
        .arg(mode_combo_->currentData().toString(), model_combo_->currentText(),
             direction_combo_->currentData().toString());
}

void MainWindow::toggle_recording() {
    if (recorder_) {
        const std::int64_t frames = recorder_->written();
        QString note;
        try {
            note = QString::fromStdString(recorder_->finish());
        } catch (const std::exception& e) {
            show_message(QStringLiteral("The recording failed: %1").arg(QString::fromUtf8(e.what())));
        }
        recorder_.reset();
        last_recording_ = recording_path_;
        record_button_->setText(QStringLiteral("Record"));
        statusBar()->showMessage(QStringLiteral("Recording saved (%1 frames)%2").arg(frames).arg(
                                     note.isEmpty() ? QString() : QStringLiteral(": ") + note),
                                 8000);
        update_status();
        return;
    }
    const QImage& shown = swapped_->image();
    if (!backend_ || backend_->state() != BackendState::kRunning || shown.isNull()) {
        show_message(QStringLiteral("Start the swap first: the recording is of the swapped view."));
        return;
    }
    QString folder = options_.record_dir.isEmpty()
                         ? QStandardPaths::writableLocation(QStandardPaths::MoviesLocation)
                         : options_.record_dir;
    if (folder.isEmpty() || !QDir().mkpath(folder)) folder = QDir::homePath();
    const QString path = QDir(folder).filePath(
        QStringLiteral("faceswap-%1.mp4").arg(QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss"))));
    try {
        recorder_ = std::make_unique<Recorder>(path, shown.width(), shown.height(), 30.0,
                                               model_provenance().toStdString());
    } catch (const std::exception& e) {
        show_message(QStringLiteral("Cannot record to %1: %2").arg(path, QString::fromUtf8(e.what())));
        return;
    }
    recording_path_ = path;
    record_button_->setText(QStringLiteral("Stop recording"));
    statusBar()->showMessage(QStringLiteral("Recording to %1").arg(path), 8000);
    update_status();
}

void MainWindow::set_layout_single(bool single) {
    preview_->setVisible(!single);
    layout_button_->setText(single ? QStringLiteral("Side by side") : QStringLiteral("Swapped only"));
    save_settings();
}

void MainWindow::closeEvent(QCloseEvent* event) {
    save_settings();
    if (recorder_) toggle_recording();
    QMainWindow::closeEvent(event);
}

}  // namespace faceswap::ui
