// Shows one video stream: the newest image, scaled to fit with its aspect kept, a caption, and
// a centred message when there is nothing to show yet.
#pragma once

#include <QImage>
#include <QString>
#include <QWidget>

#include <cstdint>

namespace faceswap::ui {

class VideoView : public QWidget {
    Q_OBJECT
  public:
    explicit VideoView(QString caption, QWidget* parent = nullptr);
    // capture_us: when the image's frame was captured (steady clock), reported back by painted().
    void show_image(QImage image, std::int64_t capture_us = 0);
    void clear(const QString& message);
    const QImage& image() const { return image_; }
    QRect image_rect() const;  // where the image is drawn, in widget coordinates
    QSize sizeHint() const override { return {480, 360}; }

  signals:
    void painted(std::int64_t capture_us);  // an image reached the screen

  protected:
    void paintEvent(QPaintEvent* event) override;

  private:
    QString caption_;
    QString message_;
    QImage image_;
    std::int64_t capture_us_ = 0;
    bool fresh_ = false;  // shown but not painted yet
};

}  // namespace faceswap::ui
