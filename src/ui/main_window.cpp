#include "main_window.h"

#include <QApplication>
#include <QCloseEvent>
#include <QComboBox>
#include <QDateTime>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QKeySequence>
#include <QLabel>
#include <QLineEdit>
#include <QMediaDevices>
#include <QPointer>
#include <QPushButton>
#include <QSettings>
#include <QShortcut>
#include <QSlider>
#include <QSplitter>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>

#include <thread>

#include "faceswap/capture/frame_source.h"
#include "faceswap/capture/media_reader.h"
#include "faceswap/capture/v4l2_output.h"
#include "faceswap/clock.h"
#include "faceswap/net/model_store.h"
#include "faceswap/paths.h"
#include "local_backend.h"
#include "recorder.h"
#include "remote_backend.h"
#include "server_models.h"
#include "source_factory.h"
#include "video_view.h"

namespace faceswap::ui {
namespace {

using namespace sources;  // the source keys

}  // namespace

MainWindow::MainWindow(AppOptions options, QWidget* parent)
    : QMainWindow(parent),
      options_(std::move(options)),
      mailbox_(std::make_shared<capture::FrameMailbox>()) {
    if (options_.use_settings)
        settings_ =
            std::make_unique<QSettings>(QStringLiteral("faceswap"), QStringLiteral("faceswap-app"));
    build_ui();
    // Both backends exist from the start (idle, cheap); Start hands the chosen one its settings.
    local_ = new LocalBackend(LocalSettings{}, this);
    remote_ = new RemoteBackend(RemoteSettings{}, this);
    for (SwapBackend* backend :
         {static_cast<SwapBackend*>(local_), static_cast<SwapBackend*>(remote_)}) {
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
    if (pick_thread_.joinable()) pick_thread_.join();
    recorder_.reset();
    if (source_) source_->stop();
    mailbox_->close();  // wakes a backend worker waiting for frames
}

void MainWindow::refresh_sources() {
    source_combo_->clear();
    for (const sources::Choice& choice : sources::choices(source_key_))
        source_combo_->addItem(choice.label, choice.key);
}

void MainWindow::select_source_key(const QString& key) {
    source_key_ = key;
    refresh_sources();
    const int index = source_combo_->findData(key);
    if (index >= 0) source_combo_->setCurrentIndex(index);
}

QString MainWindow::current_source() const {
    return source_key_;
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
    model_refresh_->setEnabled(false);
    list_server_models(
        server_edit_->text().trimmed().toStdString(), token_edit_->text().toStdString(), this,
        [this](const QStringList& ids, const QString& error) {
            model_refresh_->setEnabled(true);
            if (!error.isEmpty()) {
                show_message(QStringLiteral("Could not list the server's models: %1").arg(error));
                return;
            }
            const QString current = model_combo_->currentText();
            model_combo_->clear();
            model_combo_->addItems(ids);
            const int index = model_combo_->findText(current);
            model_combo_->setCurrentIndex(index >= 0 ? index : 0);
            statusBar()->showMessage(
                QStringLiteral("The server offers %1 model(s)").arg(ids.size()), 5000);
        });
}

void MainWindow::restart_source() {
    if (source_) {
        source_->stop();
        source_.reset();
    }
    preview_->clear(QStringLiteral("Opening %1…").arg(source_combo_->currentText()));
    source_ =
        sources::open(source_key_, mailbox_, {capture_size(), capture_rate(), options_.file_fps});
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

FaceDetail MainWindow::face_detail() const {
    FaceDetail detail;
    for (size_t i = 0; i < detail_sliders_.size(); ++i)
        detail.*kFaceDetailSettings[i].value = detail_sliders_[i]->value() / 100.0f;
    return detail;
}

QSize MainWindow::capture_size() const {
    return size_combo_->currentData().toSize();
}
double MainWindow::capture_rate() const {
    return rate_combo_->currentData().toDouble();
}

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

QString MainWindow::message() const {
    return banner_->isVisible() ? banner_text_->text() : QString();
}

void MainWindow::update_preview() {
    const capture::FramePtr frame = mailbox_->latest();
    if (!frame || frame->sequence == preview_sequence_) return;
    preview_sequence_ = frame->sequence;
    ++preview_frames_;
    preview_->show_image(frame_image(frame), frame->capture_us);
    // While nothing is swapped the virtual camera shows the camera: it never goes dark.
    if (virtual_camera_ && !(backend_ && backend_->state() == BackendState::kRunning))
        virtual_camera_->push_camera(frame->bgr);
}

void MainWindow::toggle_virtual_camera() {
    if (virtual_camera_) {
        virtual_camera_->stop();
        virtual_camera_.reset();
    } else {
        try {
            const QSize size = capture_size();
            virtual_camera_ =
                capture::open_virtual_camera(size.width() / 2 * 2, size.height(), capture_rate(),
                                             /*mark=*/true, model_provenance().toStdString());
            hide_message();
        } catch (const capture::MediaError& e) {
            show_message(QStringLiteral("The virtual camera could not start: %1")
                             .arg(QString::fromStdString(e.what())));
        }
    }
    camera_button_->setChecked(virtual_camera_ != nullptr);
    save_settings();
    update_status();
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
        settings.detail = face_detail();
        settings.faces = face_choice();
        remote_->set_settings(settings);
        backend_ = remote_;
    } else {
        LocalSettings settings;
        settings.face_model_dir = paths::face_model_dir(options_.face_model_dir.toStdString());
        settings.swap_model = model_combo_->currentText().trimmed().toStdString();
        settings.swap.direction = a2b ? SwapDirection::kAToB : SwapDirection::kBToA;
        settings.swap.detail = face_detail();
        settings.swap.faces = face_choice();
        settings.pipelined = options_.pipelined;
        settings.background_detection = options_.background_detection;
        settings.precision = options_.precision;
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
    for (QSlider* slider : detail_sliders_) slider->setEnabled(!active);
    remote_fields_->setEnabled(!active);
    if (state == BackendState::kFailed) {
        restart_pending_ = false;
        show_message(QStringLiteral("The swap stopped: %1").arg(detail));
        swapped_->clear(detail);
    } else if (state == BackendState::kStopped && restart_pending_) {
        restart_pending_ = false;  // a setting changed while running: start again with it
        start_backend();
        return;
    } else if (state == BackendState::kStopped) {
        if (recorder_) toggle_recording();
        swapped_->clear(QStringLiteral("Press Start (Space) to swap faces"));
    } else if (state == BackendState::kReconnecting) {
        swapped_->clear(QStringLiteral("Connection lost — reconnecting…\n%1").arg(detail));
    } else if (state == BackendState::kRunning &&
               mode_combo_->currentData() == QLatin1String("local")) {
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
    if (face_choice().mode == FaceChoiceMode::kPeople && !frame->swapped_boxes.empty())
        preview_->set_marked_boxes(frame->swapped_boxes);
    swapped_->show_image(frame->image, frame->capture_us);
    if (recorder_) recorder_->add(frame->image, frame->capture_us);
    if (virtual_camera_) virtual_camera_->push(bgr_view(frame->image));
}

StatsSnapshot MainWindow::stats() const {
    return stats_.snapshot(clock::now_us());
}

void MainWindow::update_status() {
    const BackendState state = backend_ ? backend_->state() : BackendState::kStopped;
    QString text = backend_ ? backend_->describe() + QStringLiteral(": ") : QString();
    text += QString::fromLatin1(state_label(state));
    if (!state_detail_.isEmpty() && state != BackendState::kStopped)
        text += QStringLiteral(" — ") + state_detail_;
    if (recorder_) text += QStringLiteral("  ● recording");
    if (virtual_camera_) {
        const std::string error = virtual_camera_->error();
        if (error.empty()) {
            text += QStringLiteral("  ● ") + QString::fromStdString(virtual_camera_->name());
        } else {
            show_message(QString::fromStdString(error));
            virtual_camera_.reset();
            camera_button_->setChecked(false);
        }
    }
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
    dropped_label_->setText(
        QStringLiteral("skipped %1%2")
            .arg(c.skipped)
            .arg(c.lost > 0 ? QStringLiteral(", lost %1").arg(c.lost) : QString()));
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
            show_message(
                QStringLiteral("The recording failed: %1").arg(QString::fromUtf8(e.what())));
        }
        recorder_.reset();
        last_recording_ = recording_path_;
        record_button_->setText(QStringLiteral("Record"));
        statusBar()->showMessage(QStringLiteral("Recording saved (%1 frames)%2")
                                     .arg(frames)
                                     .arg(note.isEmpty() ? QString() : QStringLiteral(": ") + note),
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
        QStringLiteral("faceswap-%1.mp4")
            .arg(QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss"))));
    try {
        recorder_ = std::make_unique<Recorder>(path, shown.width(), shown.height(), 30.0,
                                               model_provenance().toStdString());
    } catch (const std::exception& e) {
        show_message(
            QStringLiteral("Cannot record to %1: %2").arg(path, QString::fromUtf8(e.what())));
        return;
    }
    recording_path_ = path;
    record_button_->setText(QStringLiteral("Stop recording"));
    statusBar()->showMessage(QStringLiteral("Recording to %1").arg(path), 8000);
    update_status();
}

void MainWindow::set_layout_single(bool single) {
    preview_->setVisible(!single);
    layout_button_->setText(single ? QStringLiteral("Side by side")
                                   : QStringLiteral("Swapped only"));
    save_settings();
}

void MainWindow::closeEvent(QCloseEvent* event) {
    save_settings();
    if (recorder_) toggle_recording();
    if (virtual_camera_) virtual_camera_->stop();
    QMainWindow::closeEvent(event);
}

}  // namespace faceswap::ui
