// The window's face choice: which faces a swap changes (every face, the largest, or the person
// the user clicked in the camera view) and the green frame that shows the chosen person; and
// the New model dialog's hand-over (a model to try, or the finished one, swapping at once).
#include <QComboBox>
#include <QStandardItemModel>
#include <QStatusBar>

#include <algorithm>

#include "faceswap/paths.h"
#include "main_window.h"
#include "video_view.h"

namespace faceswap::ui {

namespace {
constexpr int kChosenPersonIndex = 2;  // faces_combo_: all, largest, the person clicked
}

FaceChoice MainWindow::face_choice() const {
    FaceChoice choice;
    const QString mode = faces_combo_->currentData().toString();
    if (mode == QLatin1String("largest")) {
        choice.mode = FaceChoiceMode::kLargest;
    } else if (mode == QLatin1String("people") && chosen_person_) {
        choice.mode = FaceChoiceMode::kPeople;
        choice.people = {*chosen_person_};
    }
    return choice;
}

void MainWindow::choose_face_at(QPointF image_point) {
    const QImage frame = preview_->image();
    if (frame.isNull() || picking_) return;
    if (!face_picker_)
        face_picker_ = std::make_unique<FacePicker>(
            paths::face_model_dir(options_.face_model_dir.toStdString()));
    picking_ = true;
    statusBar()->showMessage(QStringLiteral("Finding the face you clicked…"));
    if (pick_thread_.joinable()) pick_thread_.join();
    // The frame is a deep copy: the preview's image shares a captured frame that may be reused.
    pick_thread_ = std::thread([this, frame = frame.copy(), image_point] {
        std::optional<PickedFace> picked;
        QString error;
        try {
            picked = face_picker_->pick(frame, image_point);
        } catch (const std::exception& e) {
            error = QString::fromStdString(e.what());
        }
        QMetaObject::invokeMethod(
            this, [this, picked, error] { on_face_picked(picked, error); }, Qt::QueuedConnection);
    });
}

void MainWindow::on_face_picked(std::optional<PickedFace> picked, const QString& error) {
    picking_ = false;
    statusBar()->clearMessage();
    if (!picked) {
        show_message(error);
        return;
    }
    hide_message();
    chosen_person_ = picked->descriptor;
    auto* items = qobject_cast<QStandardItemModel*>(faces_combo_->model());
    if (items) items->item(kChosenPersonIndex)->setEnabled(true);
    preview_->set_marked_boxes({picked->box});
    statusBar()->showMessage(
        picked->faces_in_frame > 1
            ? QStringLiteral("Swapping only the person you clicked (framed); the other %1 "
                             "stay as they are. Faces: All to swap everyone.")
                  .arg(picked->faces_in_frame - 1)
            : QStringLiteral("Swapping only the person you clicked (framed): others who "
                             "come into view stay as they are."),
        10'000);
    faces_combo_->setCurrentIndex(kChosenPersonIndex);
    on_faces_mode_chosen();
}

void MainWindow::on_faces_mode_chosen() {
    if (faces_combo_->currentIndex() != kChosenPersonIndex) preview_->set_marked_boxes({});
    save_settings();
    if (backend_ && backend_->active()) restart_swap();
}

void MainWindow::open_new_model_dialog() {
    if (!new_model_dialog_) {
        NewModelOptions options = options_.new_model;
        if (options.face_model_dir.isEmpty()) options.face_model_dir = options_.face_model_dir;
        new_model_dialog_ = new NewModelDialog(mailbox_, options, this);
        connect(new_model_dialog_, &NewModelDialog::modelReady, this,
                [this](const QString& path, bool) { use_model_file(path); });
    }
    new_model_dialog_->show();
    new_model_dialog_->raise();
}

void MainWindow::use_model_file(const QString& path) {
    if (path.isEmpty()) return;
    const int local = mode_combo_->findData(QStringLiteral("local"));
    const bool switch_mode = mode_combo_->currentIndex() != local;
    if (switch_mode && backend_ && backend_->active()) backend_->stop();
    mode_combo_->setCurrentIndex(local);
    update_mode_widgets();
    model_combo_->setEditText(path);
    // A made model's A is the user: swap A (you) to B (them).
    direction_combo_->setCurrentIndex(
        std::max(0, direction_combo_->findData(QStringLiteral("a2b"))));
    save_settings();
    if (switch_mode && backend_ && backend_->active()) {
        restart_pending_ = true;  // the remote backend stops first; local starts after
        return;
    }
    restart_swap();
}

void MainWindow::restart_swap() {
    if (!backend_ || !backend_->active()) {
        start_backend();
        return;
    }
    restart_pending_ = true;
    backend_->stop();  // on_backend_state starts it again once stopped
}

}  // namespace faceswap::ui
