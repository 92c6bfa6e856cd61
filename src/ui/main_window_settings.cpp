// MainWindow: the settings it remembers, and the command line over them (the rest of the window is
// in main_window.cpp).
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
#include "faceswap/net/model_store.h"
#include "faceswap/paths.h"
#include "local_backend.h"
#include "recorder.h"
#include "remote_backend.h"
#include "server_models.h"
#include "source_factory.h"
#include "video_view.h"

namespace faceswap::ui {

using namespace sources;  // the source keys

namespace {

// The settings-file key of detail slider i: "detail_percent" (its name before the other two
// sliders), "mouth_interior_percent", "texture_transfer_percent", "expression_follow_percent",
// "shape_follow_percent".
QString detail_setting_key(size_t i) {
    return i == 0 ? QStringLiteral("detail_percent")
                  : QString::fromLatin1(kFaceDetailSettings[i].name) + QStringLiteral("_percent");
}

}  // namespace

void MainWindow::load_settings() {
    const auto saved = [this](const char* key, const QString& fallback) {
        return settings_ ? settings_->value(QLatin1String(key), fallback).toString() : fallback;
    };
    QString source = sources::key_of_option(options_.source);
    if (source.isEmpty()) source = saved("source", kCameraKey);
    const QString mode =
        options_.mode.isEmpty() ? saved("mode", QStringLiteral("local")) : options_.mode;
    mode_combo_->setCurrentIndex(std::max(0, mode_combo_->findData(mode)));
    server_edit_->setText(options_.server.isEmpty()
                              ? saved("server", QStringLiteral("ws://127.0.0.1:8080/"))
                              : options_.server);
    token_edit_->setText(options_.token.isEmpty() ? saved("token", {}) : options_.token);
    const QString direction = options_.direction.isEmpty()
                                  ? saved("direction", QStringLiteral("a2b"))
                                  : options_.direction;
    direction_combo_->setCurrentIndex(std::max(0, direction_combo_->findData(direction)));
    // All or largest; a clicked person is never saved (main_window.h).
    faces_combo_->setCurrentIndex(
        std::max(0, faces_combo_->findData(saved("faces", QStringLiteral("all")))));
    for (size_t i = 0; i < detail_sliders_.size(); ++i)
        if (settings_)
            detail_sliders_[i]->setValue(
                settings_->value(detail_setting_key(i), detail_sliders_[i]->value()).toInt());
    const QSize size =
        options_.size.isValid()
            ? options_.size
            : (settings_ ? settings_->value(QStringLiteral("size"), QSize(640, 480)).toSize()
                         : QSize(640, 480));
    if (size_combo_->findData(size) < 0)
        size_combo_->addItem(QStringLiteral("%1×%2").arg(size.width()).arg(size.height()), size);
    size_combo_->setCurrentIndex(size_combo_->findData(size));
    const int rate = options_.camera_fps > 0
                         ? static_cast<int>(options_.camera_fps)
                         : (settings_ ? settings_->value(QStringLiteral("rate"), 30).toInt() : 30);
    if (rate_combo_->findData(rate) < 0)
        rate_combo_->addItem(QStringLiteral("%1 fps").arg(rate), rate);
    rate_combo_->setCurrentIndex(rate_combo_->findData(rate));
    const bool single =
        settings_ && settings_->value(QStringLiteral("swapped_only"), false).toBool();
    // The virtual camera as it was left; started once the window is up (a failure is a message).
    if (settings_ && settings_->value(QStringLiteral("virtual_camera"), false).toBool())
        QTimer::singleShot(0, this, [this] {
            if (!virtual_camera_) toggle_virtual_camera();
        });
    layout_button_->setChecked(single);
    if (settings_) restoreGeometry(settings_->value(QStringLiteral("geometry")).toByteArray());

    // A camera that is not there: fall back to the demo video, and say so.
    QString why;
    source = sources::resolve_camera(source, &why);
    if (!why.isEmpty()) show_message(why);
    select_source_key(source);
}

void MainWindow::save_settings() const {
    if (!settings_) return;
    settings_->setValue(QStringLiteral("source"), source_key_);
    settings_->setValue(QStringLiteral("mode"), mode_combo_->currentData());
    settings_->setValue(QStringLiteral("server"), server_edit_->text());
    settings_->setValue(QStringLiteral("token"), token_edit_->text());
    settings_->setValue(mode_combo_->currentData() == QLatin1String("remote")
                            ? QStringLiteral("remote_model")
                            : QStringLiteral("local_model"),
                        model_combo_->currentText());
    settings_->setValue(QStringLiteral("direction"), direction_combo_->currentData());
    if (faces_combo_->currentData() != QLatin1String("people"))
        settings_->setValue(QStringLiteral("faces"), faces_combo_->currentData());
    for (size_t i = 0; i < detail_sliders_.size(); ++i)
        settings_->setValue(detail_setting_key(i), detail_sliders_[i]->value());
    settings_->setValue(QStringLiteral("swapped_only"), layout_button_->isChecked());
    settings_->setValue(QStringLiteral("virtual_camera"), virtual_camera_ != nullptr);
    settings_->setValue(QStringLiteral("size"), capture_size());
    settings_->setValue(QStringLiteral("rate"), rate_combo_->currentData());
    settings_->setValue(QStringLiteral("geometry"), saveGeometry());
}

}  // namespace faceswap::ui
