#include "new_model_dialog.h"

#include <QComboBox>
#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QRadioButton>
#include <QRegularExpression>
#include <QStackedWidget>
#include <QStandardPaths>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>

#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "faceswap/clock.h"
#include "faceswap/paths.h"
#include "recorder.h"
#include "swap_backend.h"
#include "video_view.h"

namespace faceswap::ui {

namespace {

QString format_seconds(double seconds) {
    const int s = static_cast<int>(std::lround(std::max(0.0, seconds)));
    if (s < 60) return QStringLiteral("%1 s").arg(s);
    if (s < 3600) return QStringLiteral("%1 min %2 s").arg(s / 60).arg(s % 60, 2, 10, QChar('0'));
    return QStringLiteral("%1 h %2 min").arg(s / 3600).arg(s % 3600 / 60, 2, 10, QChar('0'));
}

QLabel* heading(const QString& text) {
    auto* label = new QLabel(text);
    QFont font = label->font();
    font.setPointSizeF(font.pointSizeF() * 1.3);
    font.setBold(true);
    label->setFont(font);
    return label;
}

QLabel* wrapped(const QString& text) {
    auto* label = new QLabel(text);
    label->setWordWrap(true);
    return label;
}

// A line edit with "File…" and "Folder…" buttons beside it.
QWidget* path_picker(QLineEdit* edit, QWidget* dialog, const QString& title) {
    auto* row = new QWidget;
    auto* layout = new QHBoxLayout(row);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(edit, 1);
    auto* file = new QPushButton(QStringLiteral("File…"));
    auto* folder = new QPushButton(QStringLiteral("Folder…"));
    layout->addWidget(file);
    layout->addWidget(folder);
    QObject::connect(file, &QPushButton::clicked, dialog, [=] {
        const QString path = QFileDialog::getOpenFileName(
            dialog, title, QDir::homePath(),
            QStringLiteral("Videos and photos (*.mp4 *.mkv *.mov *.avi *.webm *.jpg *.jpeg *.png "
                           "*.bmp *.webp);;All files (*)"));
        if (!path.isEmpty()) edit->setText(path);
    });
    QObject::connect(folder, &QPushButton::clicked, dialog, [=] {
        const QString path = QFileDialog::getExistingDirectory(dialog, title, QDir::homePath());
        if (!path.isEmpty()) edit->setText(path);
    });
    return row;
}

struct Budget {
    const char* label;
    const char* value;  // make-model's --time-budget
    const char* expect;
};
// What to expect, from what was measured on the project's 2-core CPU (docs/make-model.md).
constexpr Budget kBudgets[] = {
    {"10 minutes", "10m",
     "A first look at your model and the whole flow. Measured on a 2-core CPU: a few hundred "
     "training steps; the face still looks like the demo model's rather than like yours or "
     "theirs. Good to check the recording, not to use."},
    {"30 minutes", "30m",
     "Still early on a CPU: expect a soft face that starts to take their shape. Not measured "
     "yet on this machine."},
    {"1 hour", "1h",
     "The quality chart shows from when the swap reads as them on your own held-out frames. "
     "Not measured yet on this machine."},
    {"2 hours", "2h",
     "The recipe's default. Reference tools train for days on a GPU; on a CPU, more time keeps "
     "helping: Resume trains on from where it stopped."},
    {"8 hours (overnight)", "8h",
     "Overnight on a CPU. Training runs at low priority: the live swap keeps its speed."},
};

}  // namespace

NewModelDialog::NewModelDialog(std::shared_ptr<capture::FrameMailbox> camera,
                               NewModelOptions options, QWidget* parent)
    : QDialog(parent), camera_(std::move(camera)), options_(std::move(options)) {
    setWindowTitle(QStringLiteral("New model"));
    setObjectName(QStringLiteral("newModelDialog"));
    setModal(false);
    resize(820, 620);
    auto* column = new QVBoxLayout(this);
    pages_ = new QStackedWidget;
    column->addWidget(pages_, 1);
    page_error_ = new QLabel;
    page_error_->setObjectName(QStringLiteral("newModelError"));
    page_error_->setWordWrap(true);
    page_error_->setStyleSheet(QStringLiteral("color: #b03a2e; font-weight: bold;"));
    page_error_->hide();
    column->addWidget(page_error_);
    auto* buttons = new QHBoxLayout;
    back_button_ = new QPushButton(QStringLiteral("Back"));
    next_button_ = new QPushButton(QStringLiteral("Next"));
    next_button_->setObjectName(QStringLiteral("newModelNext"));
    next_button_->setDefault(true);
    buttons->addStretch();
    buttons->addWidget(back_button_);
    buttons->addWidget(next_button_);
    column->addLayout(buttons);
    connect(back_button_, &QPushButton::clicked, this, &NewModelDialog::go_back);
    connect(next_button_, &QPushButton::clicked, this, &NewModelDialog::go_next);

    build_name_page();
    build_record_page();
    build_their_faces_page();
    build_budget_page();
    build_progress_page();
    camera_timer_ = new QTimer(this);
    connect(camera_timer_, &QTimer::timeout, this, &NewModelDialog::on_camera_tick);
    show_page(kNamePage);
    update_earlier_run();
}

namespace {
// The source a prepared face set was made from (its make-model stamp), or "".
QString prepared_source(const QString& work_dir, const QString& set) {
    QFile stamp(QDir(work_dir).filePath(set + QStringLiteral("/curated.done")));
    if (!stamp.open(QIODevice::ReadOnly)) return {};
    return QString::fromUtf8(stamp.readLine()).trimmed();
}
}  // namespace

void NewModelDialog::update_earlier_run() {
    const QString a = prepared_source(work_dir(), QStringLiteral("a"));
    const QString b = prepared_source(work_dir(), QStringLiteral("b"));
    const bool usable =
        !a.isEmpty() && !b.isEmpty() && QFileInfo::exists(a) && QFileInfo::exists(b);
    earlier_run_->setVisible(usable);
    if (!usable) return;
    earlier_run_text_->setText(
        QStringLiteral("<b>An earlier “%1” is here</b> (you: %2; them: %3)%4. Resume trains it "
                       "on from where it stopped, with the faces already found.")
            .arg(name_edit_->text().trimmed(), QFileInfo(a).fileName(), QFileInfo(b).fileName(),
                 QFileInfo::exists(model_path()) ? QStringLiteral(", trained before") : QString()));
}

void NewModelDialog::resume_earlier_run() {
    files_choice_->setChecked(true);
    a_files_edit_->setText(prepared_source(work_dir(), QStringLiteral("a")));
    b_files_edit_->setText(prepared_source(work_dir(), QStringLiteral("b")));
    show_page(kBudgetPage);
}

NewModelDialog::~NewModelDialog() {
    analysis_stop_ = true;
    if (analysis_thread_.joinable()) analysis_thread_.join();
    recorder_.reset();
    if (training()) {
        // The trainer saves on SIGTERM: Resume (or make-model with the same arguments) continues.
        process_->terminate();
        if (!process_->waitForFinished(30'000)) process_->kill();
    }
}

void NewModelDialog::build_name_page() {
    auto* page = new QWidget;
    auto* layout = new QVBoxLayout(page);
    layout->addWidget(heading(QStringLiteral("A model of your own face")));
    layout->addWidget(wrapped(QStringLiteral(
        "A model swaps one face (A, you) for another (B). It learns both from videos or photos: "
        "about a minute of you on camera and a few minutes of them is enough to start.")));
    auto* name_row = new QHBoxLayout;
    name_row->addWidget(new QLabel(QStringLiteral("Name of the model")));
    name_edit_ = new QLineEdit(QStringLiteral("me"));
    name_edit_->setObjectName(QStringLiteral("newModelName"));
    name_row->addWidget(name_edit_, 1);
    layout->addLayout(name_row);
    layout->addSpacing(12);
    layout->addWidget(new QLabel(QStringLiteral("<b>You (A)</b>")));
    record_choice_ = new QRadioButton(
        QStringLiteral("Record me now with the camera (about a minute, with guidance)"));
    record_choice_->setChecked(true);
    files_choice_ = new QRadioButton(QStringLiteral("Use videos or photos of me:"));
    a_files_edit_ = new QLineEdit;
    a_files_edit_->setPlaceholderText(QStringLiteral("a video, a photo, or a folder of photos"));
    layout->addWidget(record_choice_);
    layout->addWidget(files_choice_);
    layout->addWidget(path_picker(a_files_edit_, this, QStringLiteral("Videos or photos of you")));
    connect(a_files_edit_, &QLineEdit::textEdited, this,
            [this] { files_choice_->setChecked(true); });
    earlier_run_ = new QWidget;
    auto* earlier = new QHBoxLayout(earlier_run_);
    earlier->setContentsMargins(0, 8, 0, 0);
    earlier_run_text_ = wrapped({});
    resume_earlier_button_ = new QPushButton(QStringLiteral("Resume it"));
    resume_earlier_button_->setObjectName(QStringLiteral("newModelResumeEarlier"));
    earlier->addWidget(earlier_run_text_, 1);
    earlier->addWidget(resume_earlier_button_);
    layout->addWidget(earlier_run_);
    connect(resume_earlier_button_, &QPushButton::clicked, this,
            &NewModelDialog::resume_earlier_run);
    connect(name_edit_, &QLineEdit::textChanged, this, &NewModelDialog::update_earlier_run);
    layout->addStretch();
    pages_->addWidget(page);
}

void NewModelDialog::build_record_page() {
    auto* page = new QWidget;
    auto* layout = new QVBoxLayout(page);
    layout->addWidget(heading(QStringLiteral("Record yourself")));
    layout->addWidget(wrapped(QStringLiteral(
        "Face the camera in good light, then press Record and follow the prompts: the model "
        "only learns the poses and expressions it sees. The boxes fill as each is seen.")));
    camera_view_ = new VideoView(QStringLiteral("Camera"));
    camera_view_->setObjectName(QStringLiteral("recordView"));
    layout->addWidget(camera_view_, 1);
    guidance_ = new QLabel;
    guidance_->setObjectName(QStringLiteral("recordGuidance"));
    guidance_->setAlignment(Qt::AlignCenter);
    QFont font = guidance_->font();
    font.setPointSizeF(font.pointSizeF() * 1.5);
    font.setBold(true);
    guidance_->setFont(font);
    layout->addWidget(guidance_);
    auto* cells = new QHBoxLayout;
    for (std::size_t i = 0; i < kCoverageCount; ++i) {
        auto* cell = new QLabel(QString::fromLatin1(kCoverageItems[i].label));
        cell->setAlignment(Qt::AlignCenter);
        cell->setMinimumWidth(64);
        cell->setToolTip(QString::fromLatin1(kCoverageItems[i].instruction));
        coverage_cells_[i] = cell;
        cells->addWidget(cell);
    }
    layout->addLayout(cells);
    auto* row = new QHBoxLayout;
    recorded_label_ = new QLabel;
    record_button_ = new QPushButton(QStringLiteral("● Record"));
    record_button_->setObjectName(QStringLiteral("recordMeButton"));
    row->addWidget(recorded_label_, 1);
    row->addWidget(record_button_);
    layout->addLayout(row);
    connect(record_button_, &QPushButton::clicked, this, &NewModelDialog::toggle_recording);
    pages_->addWidget(page);
}

void NewModelDialog::build_their_faces_page() {
    auto* page = new QWidget;
    auto* layout = new QVBoxLayout(page);
    layout->addWidget(heading(QStringLiteral("Their face (B)")));
    layout->addWidget(wrapped(QStringLiteral(
        "Videos or photos of the person whose face you will wear, with their face large, sharp "
        "and seen from several sides. Only the person seen most is used; others in the frames "
        "are dropped (the progress page says how many). Use only faces you have the right to "
        "use.")));
    b_files_edit_ = new QLineEdit;
    b_files_edit_->setObjectName(QStringLiteral("newModelB"));
    b_files_edit_->setPlaceholderText(QStringLiteral("a video, a photo, or a folder of photos"));
    layout->addWidget(path_picker(b_files_edit_, this, QStringLiteral("Videos or photos of B")));
    layout->addStretch();
    pages_->addWidget(page);
}

void NewModelDialog::build_budget_page() {
    auto* page = new QWidget;
    auto* layout = new QVBoxLayout(page);
    layout->addWidget(heading(QStringLiteral("How long to train")));
    budget_combo_ = new QComboBox;
    budget_combo_->setObjectName(QStringLiteral("newModelBudget"));
    for (const Budget& budget : kBudgets)
        budget_combo_->addItem(QString::fromUtf8(budget.label), QString::fromLatin1(budget.value));
    budget_combo_->setCurrentIndex(3);  // 2 hours, the recipe's default
    layout->addWidget(budget_combo_);
    budget_note_ = wrapped({});
    layout->addWidget(budget_note_);
    layout->addWidget(wrapped(QStringLiteral(
        "Training runs in the background at low priority: you can keep swapping live meanwhile. "
        "Finding the faces comes first (a few minutes). You can try the model at every saved "
        "snapshot, stop at any time and resume later: nothing trained is lost.")));
    layout->addStretch();
    const auto explain = [this] {
        budget_note_->setText(QStringLiteral("<b>What to expect:</b> ") +
                              QString::fromUtf8(kBudgets[budget_combo_->currentIndex()].expect));
    };
    connect(budget_combo_, qOverload<int>(&QComboBox::currentIndexChanged), this, explain);
    explain();
    pages_->addWidget(page);
}

void NewModelDialog::build_progress_page() {
    auto* page = new QWidget;
    auto* layout = new QVBoxLayout(page);
    stage_label_ = heading(QStringLiteral("Starting…"));
    stage_label_->setObjectName(QStringLiteral("newModelStage"));
    layout->addWidget(stage_label_);
    auto* bar_row = new QHBoxLayout;
    progress_bar_ = new QProgressBar;
    progress_bar_->setRange(0, 1000);
    progress_bar_->setTextVisible(false);
    eta_label_ = new QLabel;
    bar_row->addWidget(progress_bar_, 1);
    bar_row->addWidget(eta_label_);
    layout->addLayout(bar_row);
    faces_note_ = wrapped({});
    layout->addWidget(faces_note_);
    auto* images = new QHBoxLayout;
    preview_image_ =
        new QLabel(QStringLiteral("The preview grid appears here once training "
                                  "starts: each row a face, as the model draws "
                                  "it now."));
    preview_image_->setWordWrap(true);
    preview_image_->setAlignment(Qt::AlignCenter);
    preview_image_->setMinimumSize(360, 240);
    chart_image_ =
        new QLabel(QStringLiteral("The quality chart appears after the first check "
                                  "on your held-out frames."));
    chart_image_->setWordWrap(true);
    chart_image_->setAlignment(Qt::AlignCenter);
    chart_image_->setMinimumSize(360, 240);
    images->addWidget(preview_image_, 1);
    images->addWidget(chart_image_, 1);
    layout->addLayout(images, 1);
    log_ = new QPlainTextEdit;
    log_->setReadOnly(true);
    log_->setMaximumBlockCount(300);
    log_->setMaximumHeight(110);
    layout->addWidget(log_);
    auto* row = new QHBoxLayout;
    try_button_ = new QPushButton(QStringLiteral("Try it now"));
    try_button_->setObjectName(QStringLiteral("newModelTry"));
    try_button_->setToolTip(QStringLiteral("Swap live with the latest saved snapshot"));
    try_button_->setEnabled(false);
    cancel_button_ = new QPushButton(QStringLiteral("Stop"));
    cancel_button_->setObjectName(QStringLiteral("newModelCancel"));
    row->addStretch();
    row->addWidget(try_button_);
    row->addWidget(cancel_button_);
    layout->addLayout(row);
    connect(try_button_, &QPushButton::clicked, this,
            [this] { emit modelReady(saved_model_, false); });
    connect(cancel_button_, &QPushButton::clicked, this, [this] {
        if (training())
            stop_training();
        else
            start_training();  // Resume: the same command continues where it stopped
    });
    pages_->addWidget(page);
}

void NewModelDialog::hideEvent(QHideEvent* event) {
    if (recorder_) toggle_recording();
    camera_timer_->stop();
    analysis_stop_ = true;
    if (analysis_thread_.joinable()) analysis_thread_.join();
    QDialog::hideEvent(event);
}

void NewModelDialog::showEvent(QShowEvent* event) {
    QDialog::showEvent(event);
    show_page(page());  // the record page starts its camera view and analysis again
    update_earlier_run();
    if (!error_.isEmpty() && page() == kProgressPage) {
        page_error_->setText(error_);
        page_error_->show();
    }
}

NewModelDialog::Page NewModelDialog::page() const {
    return static_cast<Page>(pages_->currentIndex());
}

QString NewModelDialog::stage_text() const {
    return stage_label_->text();
}

QString NewModelDialog::model_path() const {
    QString dir = options_.models_dir;
    if (dir.isEmpty())
        dir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) +
              QStringLiteral("/models");
    return QDir(dir).filePath(name_edit_->text().trimmed() + QStringLiteral(".fsmodel"));
}

QString NewModelDialog::work_dir() const {
    return model_path() + QStringLiteral(".work");
}

QString NewModelDialog::a_source() const {
    return record_choice_->isChecked() ? recording_path_ : a_files_edit_->text().trimmed();
}

double NewModelDialog::recorded_seconds() const {
    return record_first_us_ < 0 ? 0.0 : (record_last_us_ - record_first_us_) / 1e6;
}

void NewModelDialog::show_page(Page page) {
    page_error_->hide();
    pages_->setCurrentIndex(page);
    const bool recording_page = page == kRecordPage;
    if (recording_page) {
        camera_timer_->start(15);
        if (camera_ && !analysis_thread_.joinable()) {
            analysis_stop_ = false;
            const std::string model_dir =
                paths::face_model_dir(options_.face_model_dir.toStdString());
            // Looks at the newest frame a few times a second: poses and expressions change
            // slower than that, and the live swap keeps the rest of the CPU.
            analysis_thread_ = std::thread([this, model_dir] {
                try {
                    EngineConfig config = EngineConfig::defaults();
                    config.model_dir = model_dir;
                    config.device = DeviceKind::kCpu;
                    config.cpu_threads = 1;
                    FaceAnalyzer analyzer(FaceModels::load(config), config);
                    std::int64_t seen = 0;
                    while (!analysis_stop_) {
                        const capture::FramePtr frame =
                            camera_->wait_newer(seen, std::chrono::milliseconds(200));
                        if (!frame) continue;
                        seen = frame->sequence;
                        const FrameView view{frame->bgr.data, frame->bgr.cols, frame->bgr.rows,
                                             static_cast<int>(frame->bgr.step[0]),
                                             PixelFormat::BGR24};
                        const FrameAnalysis analysis = analyzer.analyze(view);
                        const Face* face = largest_face(analysis.faces);
                        const Landmarks68 landmarks = face ? face->landmarks : Landmarks68{};
                        const bool found = face != nullptr;
                        QMetaObject::invokeMethod(
                            this, [this, landmarks, found] { on_coverage(landmarks, found); },
                            Qt::QueuedConnection);
                        std::this_thread::sleep_for(std::chrono::milliseconds(120));
                    }
                } catch (const std::exception& e) {
                    const QString message = QString::fromStdString(e.what());
                    QMetaObject::invokeMethod(
                        this, [this, message] { guidance_->setText(message); },
                        Qt::QueuedConnection);
                }
            });
        }
    } else {
        camera_timer_->stop();
        analysis_stop_ = true;
        if (analysis_thread_.joinable()) analysis_thread_.join();
    }
    update_buttons();
}

void NewModelDialog::update_buttons() {
    const Page current = page();
    back_button_->setVisible(current != kNamePage && current != kProgressPage);
    next_button_->setText(current == kBudgetPage     ? QStringLiteral("Start training")
                          : current == kProgressPage ? QStringLiteral("Close")
                                                     : QStringLiteral("Next"));
    if (current == kRecordPage) {
        const double seconds = recorded_seconds();
        const bool long_enough = seconds >= options_.min_recording_s;
        next_button_->setEnabled(!recorder_ && !recording_path_.isEmpty() && long_enough);
        QString text = QStringLiteral("Recorded %1").arg(format_seconds(seconds));
        if (!long_enough)
            text += QStringLiteral(" (at least %1 needed)")
                        .arg(format_seconds(options_.min_recording_s));
        text += QStringLiteral("  ·  %1 of %2 poses and expressions seen")
                    .arg(coverage_.covered_count())
                    .arg(kCoverageCount);
        recorded_label_->setText(text);
    } else {
        next_button_->setEnabled(true);
    }
    if (current == kProgressPage) {
        cancel_button_->setVisible(!finished_);
        cancel_button_->setText(training() ? QStringLiteral("Stop") : QStringLiteral("Resume"));
    }
}

void NewModelDialog::go_back() {
    const Page current = page();
    if (current == kRecordPage && recorder_) toggle_recording();
    if (current == kRecordPage)
        show_page(kNamePage);
    else if (current == kTheirFacesPage)
        show_page(record_choice_->isChecked() ? kRecordPage : kNamePage);
    else if (current == kBudgetPage)
        show_page(kTheirFacesPage);
}

void NewModelDialog::go_next() {
    const auto refuse = [this](const QString& why) {
        page_error_->setText(why);
        page_error_->show();
    };
    switch (page()) {
        case kNamePage: {
            const QString name = name_edit_->text().trimmed();
            if (!QRegularExpression(QStringLiteral("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"))
                     .match(name)
                     .hasMatch())
                return refuse(
                    QStringLiteral("Give the model a name of letters, digits, '-', '_' "
                                   "or '.' (at most 64)."));
            if (files_choice_->isChecked()) {
                if (!QFileInfo::exists(a_source()))
                    return refuse(
                        QStringLiteral("%1 does not exist: pick a video, a photo or a "
                                       "folder of photos of you.")
                            .arg(a_source().isEmpty() ? QStringLiteral("The path") : a_source()));
                return show_page(kTheirFacesPage);
            }
            return show_page(kRecordPage);
        }
        case kRecordPage:
            return show_page(kTheirFacesPage);
        case kTheirFacesPage: {
            const QString b = b_files_edit_->text().trimmed();
            if (b.isEmpty() || !QFileInfo::exists(b))
                return refuse(QStringLiteral("%1: pick a video, a photo or a folder of photos of "
                                             "the other person.")
                                  .arg(b.isEmpty() ? QStringLiteral("Nothing chosen")
                                                   : b + QStringLiteral(" does not exist")));
            return show_page(kBudgetPage);
        }
        case kBudgetPage:
            show_page(kProgressPage);
            start_training();
            return;
        case kProgressPage:
            hide();  // training goes on; "New model…" shows this dialog again
            return;
    }
}

void NewModelDialog::on_camera_tick() {
    const capture::FramePtr frame = camera_ ? camera_->latest() : nullptr;
    const std::int64_t now = clock::now_us();
    if (!frame || now - frame->capture_us > 3'000'000) {
        camera_view_->clear(QStringLiteral(
            "No picture from the camera: pick a camera under Source in the main window (close "
            "other programs that use it), or go Back and use videos or photos of you."));
        return;
    }
    if (frame->sequence == camera_sequence_) return;
    camera_sequence_ = frame->sequence;
    const QImage image = frame_image(frame);
    camera_view_->show_image(image, frame->capture_us);
    if (!recorder_) return;
    recorder_->add(image, frame->capture_us);
    if (record_first_us_ < 0) record_first_us_ = frame->capture_us;
    record_last_us_ = frame->capture_us;
    update_buttons();
}

void NewModelDialog::on_coverage(const Landmarks68& landmarks, bool found) {
    if (page() != kRecordPage) return;
    if (!found) {
        guidance_->setText(QStringLiteral("No face in view: face the camera, in good light"));
        return;
    }
    if (recorder_) coverage_.add(landmarks);
    for (std::size_t i = 0; i < kCoverageCount; ++i)
        coverage_cells_[i]->setStyleSheet(
            coverage_.covered(static_cast<Coverage>(i))
                ? QStringLiteral("background: #2e8b57; color: white; border-radius: 4px; "
                                 "padding: 4px;")
                : QStringLiteral("background: #d8d8dc; color: #333; border-radius: 4px; "
                                 "padding: 4px;"));
    if (!recorder_) {
        guidance_->setText(recording_path_.isEmpty()
                               ? QStringLiteral("Face the camera and press Record")
                               : QStringLiteral("Recorded: Next, or Record again to start over"));
    } else if (!coverage_.calibrated()) {
        guidance_->setText(QStringLiteral("Look straight at the camera"));
    } else {
        const char* next = coverage_.next_instruction();
        guidance_->setText(*next ? QString::fromLatin1(next)
                                 : QStringLiteral("All seen: keep going a little, then Stop"));
    }
    update_buttons();
}

void NewModelDialog::toggle_recording() {
    if (recorder_) {
        try {
            const std::string note = recorder_->finish();
            if (!note.empty()) log_->appendPlainText(QString::fromStdString(note));
            recording_path_ = recording_in_progress_;
        } catch (const std::exception& e) {
            page_error_->setText(
                QStringLiteral("The recording failed: %1").arg(QString::fromStdString(e.what())));
            page_error_->show();
        }
        recorder_.reset();
        record_button_->setText(QStringLiteral("● Record again"));
        update_buttons();
        return;
    }
    const capture::FramePtr frame = camera_ ? camera_->latest() : nullptr;
    if (!frame) {
        page_error_->setText(QStringLiteral("No picture from the camera to record."));
        page_error_->show();
        return;
    }
    QDir().mkpath(work_dir());
    // Named with the date: the model's provenance lists its sources by name and hash.
    const QString path = QDir(work_dir())
                             .filePath(QStringLiteral("camera-%1.mp4")
                                           .arg(QDateTime::currentDateTime().toString(
                                               QStringLiteral("yyyy-MM-dd-HHmmss"))));
    try {
        recorder_ = std::make_unique<Recorder>(path, frame->bgr.cols, frame->bgr.rows, 25.0,
                                               "faceswap New model: camera recording of A",
                                               /*ai_mark=*/false);
    } catch (const std::exception& e) {
        page_error_->setText(
            QStringLiteral("Cannot record: %1").arg(QString::fromStdString(e.what())));
        page_error_->show();
        return;
    }
    if (!recording_path_.isEmpty()) QFile::remove(recording_path_);  // Record again: replaced
    recording_path_.clear();
    recording_in_progress_ = path;
    record_first_us_ = record_last_us_ = -1;
    coverage_ = RecordingCoverage{};
    page_error_->hide();
    record_button_->setText(QStringLiteral("■ Stop"));
    update_buttons();
}

QString NewModelDialog::cli_path() const {
    if (!options_.cli.isEmpty()) return options_.cli;
    const QString beside =
        QDir(QCoreApplication::applicationDirPath()).filePath(QStringLiteral("faceswap"));
    if (QFileInfo(beside).isExecutable()) return beside;
    // The build tree: src/ui/faceswap-app beside src/cli/faceswap.
    const QString build =
        QDir(QCoreApplication::applicationDirPath()).filePath(QStringLiteral("../cli/faceswap"));
    if (QFileInfo(build).isExecutable()) return build;
    const QString on_path = QStandardPaths::findExecutable(QStringLiteral("faceswap"));
    return on_path.isEmpty() ? QStringLiteral("faceswap") : on_path;
}

void NewModelDialog::start_training() {
    error_.clear();
    page_error_->hide();
    finished_ = false;
    stopping_ = false;
    QDir().mkpath(QFileInfo(model_path()).absolutePath());
    // make-model refuses to mix faces of another source into a prepared set; this dialog owns
    // the work folder, so a new recording (or other files) replaces the earlier faces.
    for (const auto& [set, source] :
         {std::pair{QStringLiteral("a"), a_source()},
          std::pair{QStringLiteral("b"), b_files_edit_->text().trimmed()}}) {
        const QString made_from = prepared_source(work_dir(), set);
        if (made_from.isEmpty()) continue;
        if (made_from != QFileInfo(source).absoluteFilePath()) {
            log_->appendPlainText(QStringLiteral("new faces for %1: the faces found earlier in %2 "
                                                 "are replaced")
                                      .arg(set.toUpper(), made_from));
            QDir(QDir(work_dir()).filePath(set)).removeRecursively();
        }
    }
    QStringList args = {QStringLiteral("make-model"),
                        QStringLiteral("--a"),
                        a_source(),
                        QStringLiteral("--b"),
                        b_files_edit_->text().trimmed(),
                        QStringLiteral("--out"),
                        model_path(),
                        QStringLiteral("--time-budget"),
                        options_.budget_override.isEmpty() ? budget_combo_->currentData().toString()
                                                           : options_.budget_override,
                        QStringLiteral("--progress-json")};
    if (record_choice_->isChecked() ||
        QFileInfo(a_source()).fileName().startsWith(QLatin1String("camera-")))
        args << QStringLiteral("--name-a") << QStringLiteral("me");
    if (!options_.face_model_dir.isEmpty())
        args << QStringLiteral("--models") << options_.face_model_dir;
    args << options_.extra_args;

    delete process_;
    process_ = new QProcess(this);
    process_->setProgram(cli_path());
    process_->setArguments(args);
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("OMP_WAIT_POLICY"), QStringLiteral("PASSIVE"));  // no spinning
    process_->setProcessEnvironment(env);
    // Low priority: the live swap and the window come first.
    process_->setChildProcessModifier([] { (void)::nice(10); });
    connect(process_, &QProcess::readyReadStandardOutput, this, &NewModelDialog::on_output);
    connect(process_, &QProcess::readyReadStandardError, this, [this] {
        const QString text = QString::fromLocal8Bit(process_->readAllStandardError());
        for (const QString& line :
             text.split(QRegularExpression(QStringLiteral("[\r\n]")), Qt::SkipEmptyParts)) {
            // Progress bars arrive as JSON too; keep the log to what happened.
            if (line.startsWith(QLatin1String("extract [")) ||
                line.startsWith(QLatin1String("train [")))
                continue;
            log_->appendPlainText(line);
            last_stderr_line_ = line;
        }
    });
    connect(process_, &QProcess::finished, this, &NewModelDialog::on_finished);
    connect(process_, &QProcess::errorOccurred, this, [this](QProcess::ProcessError error) {
        if (error != QProcess::FailedToStart) return;
        error_ = QStringLiteral(
                     "Cannot run %1 (%2): reinstall faceswap, or set the path of the "
                     "faceswap command.")
                     .arg(process_->program(), process_->errorString());
        page_error_->setText(error_);
        page_error_->show();
        update_buttons();
    });
    log_->appendPlainText(QStringLiteral("$ faceswap ") + args.join(QLatin1Char(' ')));
    stage_label_->setText(QStringLiteral("Starting…"));
    process_->start();
    update_buttons();
}

void NewModelDialog::stop_training() {
    if (!training()) return;
    stopping_ = true;
    stage_label_->setText(QStringLiteral("Stopping: saving the model where it is…"));
    process_->terminate();  // SIGTERM: the trainer saves and exits
    cancel_button_->setEnabled(false);
}

void NewModelDialog::on_output() {
    stdout_buffer_ += process_->readAllStandardOutput();
    for (int end = stdout_buffer_.indexOf('\n'); end >= 0; end = stdout_buffer_.indexOf('\n')) {
        const QByteArray line = stdout_buffer_.left(end);
        stdout_buffer_.remove(0, end + 1);
        if (!line.trimmed().isEmpty()) on_event(line);
    }
}

void NewModelDialog::on_event(const QByteArray& line) {
    const QJsonObject event = QJsonDocument::fromJson(line).object();
    const QString kind = event.value(QStringLiteral("event")).toString();
    const auto load_into = [](QLabel* label, const QString& path) {
        QImage image(path);
        if (image.isNull()) return;
        label->setPixmap(QPixmap::fromImage(
            image.scaled(label->size(), Qt::KeepAspectRatio, Qt::SmoothTransformation)));
    };
    if (kind == QLatin1String("stage")) {
        const QString stage = event.value(QStringLiteral("stage")).toString();
        if (stage == QLatin1String("faces")) {
            const bool a = event.value(QStringLiteral("identity")).toString() == QLatin1String("A");
            stage_label_->setText(a ? QStringLiteral("1/2 · Finding your faces")
                                    : QStringLiteral("1/2 · Finding their faces"));
        } else if (stage == QLatin1String("training")) {
            stage_label_->setText(QStringLiteral("2/2 · Training for %1")
                                      .arg(event.value(QStringLiteral("budget")).toString()));
            if (!event.value(QStringLiteral("quality_checks")).toBool())
                chart_image_->setText(QStringLiteral(
                    "No quality checks: they need a video of you (its last part is held out "
                    "to check on); photos have no frames to spare."));
        }
        progress_bar_->setValue(0);
    } else if (kind == QLatin1String("progress")) {
        const QJsonValue fraction = event.value(QStringLiteral("fraction"));
        if (fraction.isDouble())
            progress_bar_->setValue(static_cast<int>(fraction.toDouble() * 1000));
        const QJsonValue eta = event.value(QStringLiteral("eta_s"));
        eta_label_->setText(
            eta.isDouble() ? QStringLiteral("about %1 left").arg(format_seconds(eta.toDouble()))
                           : QString());
    } else if (kind == QLatin1String("curated")) {
        const bool a = event.value(QStringLiteral("identity")).toString() == QLatin1String("A");
        faces_note_->setText(
            faces_note_->text() + (faces_note_->text().isEmpty() ? "" : "<br>") +
            QStringLiteral("<b>%1</b>: %2 faces kept; dropped %3 of another person, %4 too small, "
                           "%5 blurred, %6 looking away, %7 near-copies, %8 of poses seen too "
                           "often")
                .arg(a ? QStringLiteral("You") : QStringLiteral("Them"))
                .arg(event.value(QStringLiteral("kept")).toInt())
                .arg(event.value(QStringLiteral("other_person")).toInt())
                .arg(event.value(QStringLiteral("too_small")).toInt())
                .arg(event.value(QStringLiteral("blurred")).toInt())
                .arg(event.value(QStringLiteral("looking_away")).toInt())
                .arg(event.value(QStringLiteral("near_duplicates")).toInt())
                .arg(event.value(QStringLiteral("pose_balance")).toInt()));
    } else if (kind == QLatin1String("preview")) {
        load_into(preview_image_, event.value(QStringLiteral("path")).toString());
    } else if (kind == QLatin1String("quality")) {
        load_into(chart_image_, event.value(QStringLiteral("chart")).toString());
        log_->appendPlainText(QStringLiteral("quality at step %1: %2")
                                  .arg(event.value(QStringLiteral("step")).toInteger())
                                  .arg(event.value(QStringLiteral("summary")).toString()));
    } else if (kind == QLatin1String("saved")) {
        saved_model_ = event.value(QStringLiteral("model")).toString();
        try_button_->setEnabled(true);
    } else if (kind == QLatin1String("done")) {
        finished_ = true;
        saved_model_ = event.value(QStringLiteral("model")).toString();
        stage_label_->setText(
            QStringLiteral("Done in %1: swapping with %2")
                .arg(format_seconds(event.value(QStringLiteral("seconds")).toDouble()),
                     QFileInfo(saved_model_).fileName()));
        progress_bar_->setValue(1000);
        eta_label_->clear();
        try_button_->setEnabled(true);
        emit modelReady(saved_model_, true);
    } else if (kind == QLatin1String("stopped")) {
        stage_label_->setText(
            QStringLiteral("Stopped: the model is saved where it was. Resume "
                           "trains on from there."));
    } else if (kind == QLatin1String("error")) {
        error_ = event.value(QStringLiteral("message")).toString();
    }
    update_buttons();
}

void NewModelDialog::on_finished(int exit_code, QProcess::ExitStatus status) {
    on_output();  // what is left
    cancel_button_->setEnabled(true);
    if (!finished_ && error_.isEmpty() && !stopping_ &&
        (exit_code != 0 || status != QProcess::NormalExit))
        error_ = last_stderr_line_.isEmpty()
                     ? QStringLiteral("faceswap make-model stopped unexpectedly (exit %1)")
                           .arg(exit_code)
                     : last_stderr_line_;
    if (!error_.isEmpty()) {
        stage_label_->setText(QStringLiteral("Stopped on an error"));
        page_error_->setText(error_);
        page_error_->show();
    } else if (stopping_ && !finished_ &&
               stage_label_->text().startsWith(QLatin1String("Stopping"))) {
        stage_label_->setText(QStringLiteral("Stopped. Resume continues from where it was."));
    }
    stopping_ = false;
    update_buttons();
}

}  // namespace faceswap::ui
