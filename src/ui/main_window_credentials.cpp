// The app's "Check a file" (issue 27): the same check as `faceswap verify`.
#include <QApplication>
#include <QFileInfo>
#include <QMessageBox>
#include <QPointer>
#include <QToolButton>

#include <thread>

#include "faceswap/capture/provenance_check.h"
#include "main_window.h"

namespace faceswap::ui {

void MainWindow::check_file(const QString& path) {
    check_button_->setEnabled(false);
    // Decoding a video's frames takes a second or two: never on the GUI thread.
    QPointer<MainWindow> window(this);
    std::thread([window, path] {
        const capture::ProvenanceCheck check = capture::check_provenance(path.toStdString());
        QStringList findings;
        for (const std::string& finding : check.findings)
            findings << QString::fromStdString(finding);
        QMetaObject::invokeMethod(
            qApp,
            [window, path, status = check.status, findings] {
                if (window) window->show_credentials(path, status, findings);
            },
            Qt::QueuedConnection);
    }).detach();
}

void MainWindow::show_credentials(const QString& path, int status, const QStringList& findings) {
    check_button_->setEnabled(true);
    credentials_ = findings.join(QLatin1Char('\n'));
    const QString verdict =
        status == 0   ? QStringLiteral("Marked as made by faceswap (AI-generated).")
        : status == 1 ? QStringLiteral(
                            "No faceswap mark found: this file was not made by this "
                            "product, or the mark was removed.")
                      : QStringLiteral("This file could not be read.");
    auto* box = new QMessageBox(status == 0   ? QMessageBox::Information
                                : status == 1 ? QMessageBox::Warning
                                              : QMessageBox::Critical,
                                QStringLiteral("Credentials of %1").arg(QFileInfo(path).fileName()),
                                verdict, QMessageBox::Close, this);
    box->setObjectName(QStringLiteral("credentialsBox"));
    box->setInformativeText(credentials_);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->setModal(false);
    box->show();
}

}  // namespace faceswap::ui
