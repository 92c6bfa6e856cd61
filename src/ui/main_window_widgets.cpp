// MainWindow: its widgets, their layout and connections (the rest of the window is in
// main_window.cpp).
#include "main_window.h"

#include <QApplication>
#include <QCloseEvent>
#include <QComboBox>
#include <QDateTime>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QKeySequence>
#include <QLabel>
#include <QLineEdit>
#include <QMediaDevices>
#include <QMenu>
#include <QPointer>
#include <QPushButton>
#include <QSettings>
#include <QShortcut>
#include <QSlider>
#include <QSplitter>
#include <QStandardItemModel>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>
#include <QWidgetAction>

#include <cmath>
#include <thread>

#include "faceswap/capture/frame_source.h"
#include "faceswap/capture/media_reader.h"
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

using namespace sources;  // the source keys

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
    source_combo_->setToolTip(
        QStringLiteral("Where the video comes from (Ctrl+O opens a video file)"));
    size_combo_ = new QComboBox;
    size_combo_->setObjectName(QStringLiteral("sizeCombo"));
    size_combo_->setToolTip(QStringLiteral("Capture size (the nearest the camera offers)"));
    for (const QSize& size :
         {QSize(320, 240), QSize(640, 480), QSize(960, 540), QSize(1280, 720), QSize(1920, 1080)})
        size_combo_->addItem(QStringLiteral("%1×%2").arg(size.width()).arg(size.height()), size);
    rate_combo_ = new QComboBox;
    rate_combo_->setObjectName(QStringLiteral("rateCombo"));
    rate_combo_->setToolTip(QStringLiteral("Camera frame rate (video files play at their own)"));
    for (int rate : {15, 24, 25, 30, 60})
        rate_combo_->addItem(QStringLiteral("%1 fps").arg(rate), rate);
    mode_combo_ = new QComboBox;
    mode_combo_->setObjectName(QStringLiteral("modeCombo"));
    mode_combo_->addItem(QStringLiteral("Local"), QStringLiteral("local"));
    mode_combo_->addItem(QStringLiteral("Remote"), QStringLiteral("remote"));
    mode_combo_->setToolTip(
        QStringLiteral("Local: swap on this computer. Remote: swap on a faceswap-server."));

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
    faces_combo_ = new QComboBox;
    faces_combo_->setObjectName(QStringLiteral("facesCombo"));
    faces_combo_->addItem(QStringLiteral("All faces"), QStringLiteral("all"));
    faces_combo_->addItem(QStringLiteral("Largest face"), QStringLiteral("largest"));
    faces_combo_->addItem(QStringLiteral("Clicked person"), QStringLiteral("people"));
    // Enabled once a face has been clicked (main_window_faces.cpp).
    qobject_cast<QStandardItemModel*>(faces_combo_->model())->item(2)->setEnabled(false);
    faces_combo_->setToolTip(QStringLiteral(
        "Whose faces are swapped. Click a face in the Camera view to swap only that person "
        "(recognised by face, also after leaving and coming back); the others stay untouched."));
    // In kFaceDetailSettings' order.
    const struct {
        const char* object_name;
        const char* label;
        const char* tip;
    } detail_controls[] = {
        {"detailSlider", "Detail",
         "Detail: how much of the model's detail stage sharpens the swapped face (eyelids, "
         "teeth, lip lines, skin); 0 shows the decoder's face as it is. Models without a detail "
         "stage ignore it."},
        {"mouthSlider", "Mouth",
         "Mouth: how much of your own mouth interior (teeth, tongue) shows through the swapped "
         "face."},
        {"textureSlider", "Texture",
         "Texture: how much of your own fine skin and eyelid texture is added to the swapped "
         "face, never more than your own level of detail. It follows your expression but "
         "carries some of your own look."},
        {"expressionSlider", "Expression",
         "Expression: how far the swapped face's eyelids and lips move to your eyes' and "
         "mouth's opening, so blinks, wide eyes and an open mouth follow you."},
        {"shapeSlider", "Shape",
         "Shape: how far the swapped face's jaw line and nose move to where yours usually "
         "are. 0 keeps the swapped person's own face shape; more fits your outline but looks "
         "less like them."},
    };
    static_assert(sizeof(detail_controls) / sizeof(detail_controls[0]) ==
                  std::size(kFaceDetailSettings));
    // The five sliders live in a panel that drops down from one "Look" button: in the tool row
    // they were squeezed to a few pixels each at 1600 px wide. Each shows its value.
    auto* detail_panel = new QWidget;
    auto* detail_form = new QFormLayout(detail_panel);
    for (size_t i = 0; i < detail_sliders_.size(); ++i) {
        QSlider* slider = new QSlider(Qt::Horizontal);
        slider->setObjectName(QString::fromLatin1(detail_controls[i].object_name));
        slider->setRange(0, 100);
        slider->setValue(std::lround(FaceDetail{}.*kFaceDetailSettings[i].value * 100));
        slider->setMinimumWidth(180);
        slider->setToolTip(QString::fromUtf8(detail_controls[i].tip));
        detail_sliders_[i] = slider;
        auto* value = new QLabel;
        value->setMinimumWidth(40);
        auto show_value = [value](int percent) {
            value->setText(QStringLiteral("%1 %").arg(percent));
        };
        show_value(slider->value());
        connect(slider, &QSlider::valueChanged, value, show_value);
        auto* row = new QHBoxLayout;
        row->addWidget(slider);
        row->addWidget(value);
        auto* label = new QLabel(QString::fromLatin1(detail_controls[i].label));
        label->setToolTip(slider->toolTip());
        detail_form->addRow(label, row);
    }
    auto* detail_button = new QToolButton;
    detail_button->setObjectName(QStringLiteral("lookButton"));
    detail_button->setText(QStringLiteral("Look"));
    detail_button->setToolTip(QStringLiteral(
        "How the swapped face is drawn: detail, your mouth and texture, expression and shape"));
    detail_button->setPopupMode(QToolButton::InstantPopup);
    auto* detail_menu = new QMenu(detail_button);
    auto* detail_action = new QWidgetAction(detail_menu);
    detail_action->setDefaultWidget(detail_panel);
    detail_menu->addAction(detail_action);
    detail_button->setMenu(detail_menu);

    start_button_ = new QPushButton(QStringLiteral("Start"));
    start_button_->setObjectName(QStringLiteral("startButton"));
    start_button_->setMinimumWidth(110);
    start_button_->setToolTip(QStringLiteral("Start or stop the swap (Space)"));
    start_button_->setStyleSheet(
        QStringLiteral("QPushButton { font-weight: bold; padding: 6px 14px; }"));
    record_button_ = new QPushButton(QStringLiteral("Record"));
    record_button_->setObjectName(QStringLiteral("recordButton"));
    record_button_->setToolTip(QStringLiteral("Record the swapped view to a video file (Ctrl+R)"));
    camera_button_ = new QPushButton(QStringLiteral("Virtual camera"));
    camera_button_->setObjectName(QStringLiteral("virtualCameraButton"));
    camera_button_->setCheckable(true);
    camera_button_->setToolTip(QStringLiteral(
        "Offer the swapped view as a camera that call programs, browsers and OBS can pick: a "
        "v4l2loopback device when there is one, else a PipeWire camera \"faceswap camera\". "
        "Marked AI-generated."));
    check_button_ = new QToolButton;
    check_button_->setObjectName(QStringLiteral("checkFileButton"));
    check_button_->setText(QStringLiteral("Check…"));
    check_button_->setToolTip(
        QStringLiteral("Check a photo or video for what marks it as made here: the invisible "
                       "watermark, the provenance metadata, the C2PA manifest"));
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
    new_model_button_ = new QToolButton;
    new_model_button_->setObjectName(QStringLiteral("newModelButton"));
    new_model_button_->setText(QStringLiteral("New…"));
    new_model_button_->setToolTip(
        QStringLiteral("Make a model of your own face: record yourself, pick their videos, train"));
    controls->addWidget(new_model_button_);
    controls->addWidget(direction_combo_);
    controls->addWidget(faces_combo_);
    controls->addWidget(detail_button);
    controls->addStretch();
    controls->addWidget(layout_button_);
    controls->addWidget(camera_button_);
    controls->addWidget(record_button_);
    controls->addWidget(check_button_);
    controls->addWidget(start_button_);
    column->addLayout(controls);

    // A banner for problems the user must act on, with the demo video on offer.
    banner_ = new QWidget;
    banner_->setObjectName(QStringLiteral("messageBanner"));
    banner_->setStyleSheet(
        QStringLiteral("#messageBanner { background: #5a3d12; border-radius: 4px; } "
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
    preview_->set_clickable(true);
    preview_->setToolTip(QStringLiteral("Click a face to swap only that person"));
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
    connect(camera_button_, &QPushButton::clicked, this, &MainWindow::toggle_virtual_camera);
    connect(layout_button_, &QPushButton::toggled, this, &MainWindow::set_layout_single);
    connect(banner_demo_, &QPushButton::clicked, this, &MainWindow::use_demo_video);
    connect(banner_close, &QToolButton::clicked, this, &MainWindow::hide_message);
    connect(swapped_, &VideoView::painted, this, [this](std::int64_t capture_us) {
        stats_.record(capture_us, faceswap::clock::now_us());
    });
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
            key = sources::key_of_option(file);
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
    connect(new_model_button_, &QToolButton::clicked, this, &MainWindow::open_new_model_dialog);
    connect(check_button_, &QToolButton::clicked, this, [this] {
        const QString file = QFileDialog::getOpenFileName(
            this, QStringLiteral("Check a photo or video"), QString(),
            QStringLiteral("Photos and videos (*.jpg *.jpeg *.png *.mp4 *.mkv *.mov *.webm *.avi);;"
                           "All files (*)"));
        if (!file.isEmpty()) check_file(file);
    });
    connect(preview_, &VideoView::clickedAt, this, &MainWindow::choose_face_at);
    connect(faces_combo_, qOverload<int>(&QComboBox::activated), this,
            &MainWindow::on_faces_mode_chosen);
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
    shortcut(QKeySequence(Qt::Key_Escape), [this] {
        if (isFullScreen()) showNormal();
    });
    shortcut(QKeySequence::Open, [this] {
        const int index = source_combo_->findData(kOpenKey);
        if (index >= 0) emit source_combo_->activated(index);
    });
    shortcut(QKeySequence::Quit, [this] { close(); });
}

}  // namespace faceswap::ui
