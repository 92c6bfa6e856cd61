#include "video_view.h"

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

void VideoView::paintEvent(QPaintEvent*) {
    QPainter painter(this);
    painter.fillRect(rect(), QColor(24, 24, 28));
    if (!image_.isNull()) {
        painter.setRenderHint(QPainter::SmoothPixmapTransform, image_.width() > width());
        painter.drawImage(image_rect(), image_);
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
