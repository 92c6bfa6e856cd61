#include "http_routes.h"

#include <mutex>

#include "session.h"
#include "web_assets.h"

namespace faceswap::server::detail {

PlainAnswer answer_plain_request(Shared& shared, http::verb method, std::string_view target) {
    PlainAnswer answer;
    if (method != http::verb::get && method != http::verb::head) {
        answer.status = http::status::method_not_allowed;
        answer.body = "GET only\n";
    } else if (target == "/healthz") {
        answer.body = "ok\n";
    } else if (target == "/readyz") {
        if (shared.draining) {
            answer.status = http::status::service_unavailable;
            answer.body = "draining\n";
        } else if (!shared.ready) {
            answer.status = http::status::service_unavailable;
            std::lock_guard lock(shared.not_ready_mu);
            answer.body = shared.not_ready_reason + "\n";
        } else {
            answer.body = "ready\n";
        }
    } else if (target == "/metrics") {
        answer.body = shared.metrics.render();
        if (shared.scheduler) shared.scheduler->render_metrics(answer.body);
        answer.type = "text/plain; version=0.0.4; charset=utf-8";
    } else if (const WebAsset* asset = find_web_asset(target)) {
        // The browser client (docs/browser-client.md): public, like the page of any web app;
        // streaming from it needs a token where the server has tokens.
        answer.body = std::string(asset->body);
        answer.type = asset->content_type;
        answer.page = true;
    } else {
        answer.status = http::status::not_found;
        answer.body =
            "not found: try / (the browser client), /healthz, /readyz, /metrics, /v1/models or "
            "a WebSocket upgrade\n";
    }
    return answer;
}

}  // namespace faceswap::server::detail
