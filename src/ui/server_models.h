// The model list of a faceswap-server (GET /v1/models), fetched off the GUI thread.
#pragma once

#include <QObject>
#include <QString>
#include <QStringList>

#include <functional>
#include <string>

namespace faceswap::ui {

// Asks the server at `url` (ws://, wss://, http:// or https://) for its model ids on a worker
// thread, then calls `done` on `receiver`'s thread with the ids, or with one line of error.
// Nothing is called when `receiver` is gone by then.
void list_server_models(const std::string& url, const std::string& token, QObject* receiver,
                        std::function<void(const QStringList& ids, const QString& error)> done);

}  // namespace faceswap::ui
