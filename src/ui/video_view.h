// Shows one video stream: the newest image, scaled to fit with its aspect kept, a caption, and
// a centred message when there is nothing to show yet.
#pragma once

#include <QImage>
#include <QPointF>
#include <QRectF>
#include <QString>
#include <QWidget>

#include <cstdint>
#include <optional>
#include <vector>

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
    // Rectangles drawn as frames over the image (image pixels), e.g. the chosen person's face.
    void set_marked_boxes(std::vector<QRectF> boxes);
    const std::vector<QRectF>& marked_boxes() const { return marked_; }
    // The image pixel under a widget point (nullopt outside the image), and the inverse.
    std::optional<QPointF> image_point(QPointF widget_point) const;
    QPointF widget_point(QPointF image_point) const;
    // Clicks on the image are reported as clickedAt(image pixel); the cursor shows it.
    void set_clickable(bool clickable);

  signals:
    void painted(std::int64_t capture_us);  // an image reached the screen
    void clickedAt(QPointF image_point);

  protected:
    void paintEvent(QPaintEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;

  private:
    QString caption_;
    QString message_;
    QImage image_;
    std::vector<QRectF> marked_;
    bool clickable_ = false;
    std::int64_t capture_us_ = 0;
    bool fresh_ = false;  // shown but not painted yet
};

}  // namespace faceswap::ui
