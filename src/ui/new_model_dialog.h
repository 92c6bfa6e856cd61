// "New model...": from the user's own face (recorded from the camera with guidance, or files)
// and another person's videos or photos to a trained model, in one window.
//
// The work is `faceswap make-model --progress-json` in a child process at low priority (nice
// 10): the same function as the CLI, and a process of its own so that training never holds
// the window or the live swap's threads, a crash or an out-of-memory cannot take the app down,
// and Cancel is a SIGTERM on which the trainer saves where it is (Resume runs the same command
// again, which make-model continues). The dialog shows its JSON events: the stage, a progress
// bar with ETA, the preview grid and the quality chart as they are written, and the model once
// a snapshot is saved (Try it) or training ends (selected and swapping at once).
#pragma once

#include <QDialog>
#include <QProcess>
#include <QString>
#include <QStringList>

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <thread>

#include "faceswap/capture/frame_mailbox.h"
#include "recording_coverage.h"

class QButtonGroup;
class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QRadioButton;
class QStackedWidget;
class QTimer;

namespace faceswap::ui {

class Recorder;
class VideoView;

struct NewModelOptions {
    QString cli;               // the faceswap executable; "" = next to the app, else on PATH
    QString models_dir;        // where new models go; "" = the app's data folder /models
    QString face_model_dir;    // --models for make-model ("" = its default)
    int min_recording_s = 20;  // Next is offered after this much recording
    QStringList extra_args;    // appended to make-model's (the tests: a quick recipe)
    QString budget_override;   // --time-budget instead of the one picked (the tests: seconds)
};

class NewModelDialog : public QDialog {
    Q_OBJECT
  public:
    enum Page { kNamePage, kRecordPage, kTheirFacesPage, kBudgetPage, kProgressPage };

    // camera: the app's capture (what the main window shows), recorded for "me".
    NewModelDialog(std::shared_ptr<capture::FrameMailbox> camera, NewModelOptions options,
                   QWidget* parent = nullptr);
    ~NewModelDialog() override;  // stops a running training (it saves) and a recording

    // For the tests and the screenshots.
    Page page() const;
    QLineEdit* name_edit() const { return name_edit_; }
    QRadioButton* record_choice() const { return record_choice_; }
    QLineEdit* a_files_edit() const { return a_files_edit_; }
    QLineEdit* b_files_edit() const { return b_files_edit_; }
    QComboBox* budget_combo() const { return budget_combo_; }
    QPushButton* next_button() const { return next_button_; }
    QPushButton* record_button() const { return record_button_; }
    QPushButton* cancel_button() const { return cancel_button_; }
    QPushButton* try_button() const { return try_button_; }
    QPushButton* resume_earlier_button() const { return resume_earlier_button_; }
    QString model_path() const;               // the model this dialog makes
    QString error() const { return error_; }  // the last run's one-line error ("" = none)
    bool training() const { return process_ && process_->state() != QProcess::NotRunning; }
    bool finished_model() const { return finished_; }
    double recorded_seconds() const;
    const RecordingCoverage& coverage() const { return coverage_; }
    QString stage_text() const;

  signals:
    // A model to try (a snapshot) or the finished one: the window selects it and swaps.
    void modelReady(QString path, bool finished);

  protected:
    // Hidden (closed): a recording in progress is finished and the camera analysis stops;
    // training goes on. Shown again: the page it was on resumes.
    void hideEvent(QHideEvent* event) override;
    void showEvent(QShowEvent* event) override;

  private:
    void build_name_page();
    void build_record_page();
    void build_their_faces_page();
    void build_budget_page();
    void build_progress_page();
    void go_next();
    // An earlier run of the model named on the first page (its faces prepared in the work
    // folder): offered on that page; Resume takes its sources and goes to the budget.
    void update_earlier_run();
    void resume_earlier_run();
    void go_back();
    void show_page(Page page);
    void update_buttons();
    void toggle_recording();
    void on_camera_tick();
    void on_coverage(const Landmarks68& landmarks, bool found);
    void start_training();
    void stop_training();
    void on_output();
    void on_event(const QByteArray& line);
    void on_finished(int exit_code, QProcess::ExitStatus status);
    QString cli_path() const;
    QString work_dir() const;
    QString a_source() const;

    std::shared_ptr<capture::FrameMailbox> camera_;
    NewModelOptions options_;

    QStackedWidget* pages_ = nullptr;
    QPushButton* back_button_ = nullptr;
    QPushButton* next_button_ = nullptr;
    QLabel* page_error_ = nullptr;

    // Name and "me".
    QLineEdit* name_edit_ = nullptr;
    QRadioButton* record_choice_ = nullptr;
    QRadioButton* files_choice_ = nullptr;
    QLineEdit* a_files_edit_ = nullptr;
    QWidget* earlier_run_ = nullptr;
    QLabel* earlier_run_text_ = nullptr;
    QPushButton* resume_earlier_button_ = nullptr;
    // Recording.
    VideoView* camera_view_ = nullptr;
    QLabel* guidance_ = nullptr;
    std::array<QLabel*, kCoverageCount> coverage_cells_{};
    QLabel* recorded_label_ = nullptr;
    QPushButton* record_button_ = nullptr;
    QTimer* camera_timer_ = nullptr;
    std::unique_ptr<Recorder> recorder_;
    QString recording_path_;  // the finished recording ("" = none yet)
    QString recording_in_progress_;
    std::int64_t camera_sequence_ = 0;
    std::int64_t record_first_us_ = -1, record_last_us_ = -1;
    RecordingCoverage coverage_;
    // The coverage analysis: the newest camera frame, looked at on a thread of its own.
    std::thread analysis_thread_;
    std::atomic<bool> analysis_stop_{false};
    // Their faces.
    QLineEdit* b_files_edit_ = nullptr;
    // Budget.
    QComboBox* budget_combo_ = nullptr;
    QLabel* budget_note_ = nullptr;
    // Progress.
    QLabel* stage_label_ = nullptr;
    QProgressBar* progress_bar_ = nullptr;
    QLabel* eta_label_ = nullptr;
    QLabel* preview_image_ = nullptr;
    QLabel* chart_image_ = nullptr;
    QLabel* faces_note_ = nullptr;
    QPlainTextEdit* log_ = nullptr;
    QPushButton* cancel_button_ = nullptr;
    QPushButton* try_button_ = nullptr;
    QProcess* process_ = nullptr;
    QByteArray stdout_buffer_;
    QString error_;
    QString last_stderr_line_;
    bool finished_ = false;
    bool stopping_ = false;
    QString saved_model_;
};

}  // namespace faceswap::ui
