#include "server_models.h"

#include <QMetaObject>
#include <QPointer>

#include <thread>

#include "faceswap/net/model_store.h"

namespace faceswap::ui {

void list_server_models(const std::string& url, const std::string& token, QObject* receiver,
                        std::function<void(const QStringList& ids, const QString& error)> done) {
    net::HttpOptions http;
    http.token = token;
    http.connect_timeout = std::chrono::milliseconds(3000);
    QPointer<QObject> alive(receiver);
    std::thread([alive, url, http, done = std::move(done)] {
        QStringList ids;
        QString error;
        try {
            for (const net::RemoteModel& model : net::ModelStoreClient(url, http).list())
                ids << QString::fromStdString(model.id);
        } catch (const std::exception& e) {
            error = QString::fromUtf8(e.what());
        }
        if (!alive) return;
        // Queued onto the receiver's thread; dropped by Qt if the receiver is destroyed first.
        QMetaObject::invokeMethod(alive.data(), [alive, ids, error, done] {
            if (alive) done(ids, error);
        });
    }).detach();
}

}  // namespace faceswap::ui
