// The desktop app's window: the camera preview and the swapped view, the source, mode, model and
// direction pickers, whose faces are swapped (all, the largest, or the person clicked in the
// camera view), Start/Stop following the backend's real state, recording, and a status bar
// with FPS, capture-to-display latency, skipped frames, faces and the connection state.
#pragma once

#include <QMainWindow>
#include <QSize>
#include <QString>

#include <array>
#include <iterator>
#include <memory>
#include <optional>
#include <thread>

#include "face_picker.h"
#include "faceswap/capture/frame_mailbox.h"
#include "faceswap/engine.h"
#include "faceswap/face_choice.h"
#include "faceswap/face_detail.h"
#include "live_stats.h"
#include "new_model_dialog.h"
#include "swap_backend.h"

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSettings;
class QSlider;
class QTimer;
class QToolButton;
class QWidget;

namespace faceswap::capture {
class FrameSource;
class FrameOutput;
}  // namespace faceswap::capture

namespace faceswap::ui {

class LocalBackend;
class RemoteBackend;
class Recorder;
class VideoView;

struct AppOptions {
    QString source;     // "camera", "camera:<id>", "demo", "pattern" or a video file; "" = saved
    QString mode;       // "local" or "remote"; "" = saved (local at first)
    QString server;     // remote: ws:// or wss:// URL
    QString token;      // remote: auth token
    QString model;      // local: .fsmodel file; remote: the server's model id
    QString direction;  // "a2b" or "b2a"
    QString face_model_dir;
    QSize size;             // capture size (the demo video is scaled to it); empty = saved
    double camera_fps = 0;  // camera / test pattern rate; 0 = saved (30 at first)
    double file_fps = 0;    // pace video files at this rate; 0 = the file's own
    bool pipelined = true;  // local mode: two engine stages on two threads
    bool background_detection = true;        // local mode: the periodic detector off the frame path
    Precision precision = Precision::kAuto;  // local mode: the nets' arithmetic
    bool use_settings = true;                // read and write QSettings
    QString record_dir;                      // where recordings go; "" = the user's Videos folder
    NewModelOptions new_model;               // the New model dialog's (tests: a quick recipe)
};

class MainWindow : public QMainWindow {
    Q_OBJECT
  public:
    explicit MainWindow(AppOptions options, QWidget* parent = nullptr);
    ~MainWindow() override;

    // For tests, the benchmark and scripted runs.
    QPushButton* start_button() const { return start_button_; }
    VideoView* preview_view() const { return preview_; }
    VideoView* swapped_view() const { return swapped_; }
    SwapBackend* backend() const { return backend_; }
    QString message() const;  // the banner's text ("" when hidden)
    StatsSnapshot stats() const;
    std::shared_ptr<const SwappedFrame> last_swapped() const { return last_swapped_; }
    double mean_fps() const { return stats_.mean_fps(); }
    void reset_stats() { stats_.reset(); }
    std::int64_t preview_frames() const { return preview_frames_; }
    QString current_source() const;
    QString last_recording() const { return last_recording_; }  // its path, once finished
    QPushButton* camera_button() const { return camera_button_; }
    QComboBox* faces_combo() const { return faces_combo_; }
    FaceChoice face_choice() const;  // whose faces the next start swaps
    bool picking_face() const { return picking_; }
    NewModelDialog* new_model_dialog() const { return new_model_dialog_; }
    QToolButton* new_model_button() const { return new_model_button_; }
    capture::FrameOutput* virtual_camera() const { return virtual_camera_.get(); }
    QString credentials() const { return credentials_; }  // the last "Check a file" report

  public slots:
    void toggle_swap();
    void toggle_recording();
    // The virtual camera (a PipeWire node or a v4l2loopback device) on or off; remembered.
    void toggle_virtual_camera();
    void use_demo_video();
    // Swap only the person whose face is at `image_point` of the camera view (a click there):
    // the recogniser describes that face off the GUI thread, then a running swap restarts
    // with the new choice. A click beside every face says so in the banner.
    void choose_face_at(QPointF image_point);
    // The New model dialog (one per window: closing it leaves its training running).
    void open_new_model_dialog();
    // Swap with this model file now (local mode): what the New model dialog's Try and its end do.
    void use_model_file(const QString& path);
    // "Check a file": what marks a photo or video as made by this product (the watermark, the
    // metadata, the C2PA manifest; capture::check_provenance, as `faceswap verify`), read off
    // the GUI thread and shown in a box that stays open beside the window.
    void check_file(const QString& path);

  protected:
    void closeEvent(QCloseEvent* event) override;

  private:
    void build_ui();
    void load_settings();
    void save_settings() const;
    void restart_source();
    QSize capture_size() const;
    FaceDetail face_detail() const;  // the detail sliders' settings
    double capture_rate() const;
    void select_source_key(const QString& key);
    void refresh_sources();
    void start_backend();
    void on_backend_state(BackendState state, const QString& detail);
    void on_swapped_frame();
    void on_source_failed(const QString& message);
    void update_preview();
    void update_status();
    void update_mode_widgets();
    void refresh_remote_models();
    void show_message(const QString& text, bool offer_demo = false);
    void hide_message();
    void set_layout_single(bool single);
    QString model_provenance() const;
    void on_face_picked(std::optional<PickedFace> picked, const QString& error);
    void on_faces_mode_chosen();
    void restart_swap();  // stop, then start again once stopped (new settings)
    void show_credentials(const QString& path, int status, const QStringList& findings);

    AppOptions options_;
    std::unique_ptr<QSettings> settings_;
    std::shared_ptr<capture::FrameMailbox> mailbox_;
    std::unique_ptr<capture::FrameSource> source_;
    QString source_key_;
    LocalBackend* local_ = nullptr;
    RemoteBackend* remote_ = nullptr;
    SwapBackend* backend_ = nullptr;
    std::unique_ptr<Recorder> recorder_;
    std::unique_ptr<capture::FrameOutput> virtual_camera_;
    std::shared_ptr<const SwappedFrame> last_swapped_;
    QString recording_path_, last_recording_;
    LiveStats stats_;
    std::int64_t preview_sequence_ = 0;
    std::int64_t preview_frames_ = 0;
    int faces_ = 0;
    QString state_detail_;
    // The person chosen by a click, for the whole session: never saved, as it is a biometric
    // descriptor of someone who may not know they were clicked.
    std::optional<FaceDescriptor> chosen_person_;
    std::unique_ptr<FacePicker> face_picker_;
    std::thread pick_thread_;
    bool picking_ = false;
    bool restart_pending_ = false;

    VideoView* preview_ = nullptr;
    VideoView* swapped_ = nullptr;
    QComboBox* source_combo_ = nullptr;
    QComboBox* mode_combo_ = nullptr;
    QComboBox* size_combo_ = nullptr;  // capture size: cameras, the demo video, the test pattern
    QComboBox* rate_combo_ = nullptr;  // camera and test-pattern frame rate
    QLineEdit* server_edit_ = nullptr;
    QLineEdit* token_edit_ = nullptr;
    QComboBox* model_combo_ = nullptr;
    QToolButton* model_browse_ = nullptr;
    QToolButton* model_refresh_ = nullptr;
    QComboBox* direction_combo_ = nullptr;
    QComboBox* faces_combo_ = nullptr;  // all faces, the largest, or the person clicked
    // One 0..100 % slider per kFaceDetailSettings entry: detail stage, mouth, texture,
    // expression, shape.
    std::array<QSlider*, std::size(kFaceDetailSettings)> detail_sliders_{};
    QPushButton* start_button_ = nullptr;
    QToolButton* new_model_button_ = nullptr;
    NewModelDialog* new_model_dialog_ = nullptr;
    QPushButton* record_button_ = nullptr;
    QToolButton* check_button_ = nullptr;
    QString credentials_;
    QPushButton* camera_button_ = nullptr;
    QPushButton* layout_button_ = nullptr;
    QWidget* remote_fields_ = nullptr;
    QWidget* banner_ = nullptr;
    QLabel* banner_text_ = nullptr;
    QPushButton* banner_demo_ = nullptr;
    QLabel* state_label_ = nullptr;
    QLabel* fps_label_ = nullptr;
    QLabel* latency_label_ = nullptr;
    QLabel* dropped_label_ = nullptr;
    QLabel* faces_label_ = nullptr;
    QTimer* preview_timer_ = nullptr;
    QTimer* status_timer_ = nullptr;
};

}  // namespace faceswap::ui
