#include "video_view.h"

#include <QMouseEvent>
#include <QPainter>

namespace faceswap::ui {

VideoView::VideoView(QString caption, QWidget* parent)
    : QWidget(parent), caption_(std::move(caption)) {
    setAttribute(Qt::WA_OpaquePaintEvent);
    setMinimumSize(160, 120);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
}

void VideoView::show_image(QImage image, std::int64_t capture_us) {
    image_ = std::move(image);
    capture_us_ = capture_us;
    fresh_ = true;
    message_.clear();
    update();
}

void VideoView::clear(const QString& message) {
    image_ = QImage();
    message_ = message;
    fresh_ = false;
    update();
}

QRect VideoView::image_rect() const {
    if (image_.isNull()) return {};
    const QSize fitted = image_.size().scaled(size(), Qt::KeepAspectRatio);
    return QRect(QPoint((width() - fitted.width()) / 2, (height() - fitted.height()) / 2), fitted);
}

void VideoView::set_marked_boxes(std::vector<QRectF> boxes) {
    if (boxes == marked_) return;
    marked_ = std::move(boxes);
    update();
}

void VideoView::set_clickable(bool clickable) {
    clickable_ = clickable;
    setCursor(clickable ? Qt::PointingHandCursor : Qt::ArrowCursor);
}

std::optional<QPointF> VideoView::image_point(QPointF widget_point) const {
    const QRect shown = image_rect();
    if (shown.isEmpty() || !QRectF(shown).contains(widget_point)) return std::nullopt;
    return QPointF((widget_point.x() - shown.x()) * image_.width() / shown.width(),
                   (widget_point.y() - shown.y()) * image_.height() / shown.height());
}

QPointF VideoView::widget_point(QPointF image_point) const {
    const QRect shown = image_rect();
    if (shown.isEmpty()) return {};
    return {shown.x() + image_point.x() * shown.width() / image_.width(),
            shown.y() + image_point.y() * shown.height() / image_.height()};
}

void VideoView::mousePressEvent(QMouseEvent* event) {
    if (clickable_ && event->button() == Qt::LeftButton)
        if (const auto point = image_point(event->position())) emit clickedAt(*point);
    QWidget::mousePressEvent(event);
}

void VideoView::paintEvent(QPaintEvent*) {
    QPainter painter(this);
    painter.fillRect(rect(), QColor(24, 24, 28));
    if (!image_.isNull()) {
        painter.setRenderHint(QPainter::SmoothPixmapTransform, image_.width() > width());
        painter.drawImage(image_rect(), image_);
        if (!marked_.empty()) {
            painter.setPen(QPen(QColor(80, 220, 120), 3));
            painter.setBrush(Qt::NoBrush);
            for (const QRectF& box : marked_)
                painter.drawRect(
                    QRectF(widget_point(box.topLeft()), widget_point(box.bottomRight())));
        }
    } else if (!message_.isEmpty()) {
        painter.setPen(QColor(200, 200, 210));
        painter.drawText(rect().adjusted(16, 16, -16, -16), Qt::AlignCenter | Qt::TextWordWrap,
                         message_);
    }
    // The caption on a translucent strip, top left.
    QFont font = painter.font();
    font.setBold(true);
    painter.setFont(font);
    const QRect caption_rect(8, 8, painter.fontMetrics().horizontalAdvance(caption_) + 16,
                             painter.fontMetrics().height() + 8);
    painter.fillRect(caption_rect, QColor(0, 0, 0, 140));
    painter.setPen(Qt::white);
    painter.drawText(caption_rect, Qt::AlignCenter, caption_);
    if (fresh_) {
        fresh_ = false;
        emit painted(capture_us_);
    }
}

}  // namespace faceswap::ui
