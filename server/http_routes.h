// Internal to faceswap-server: the plain HTTP routes (health, readiness, metrics, the browser
// page), apart from the connection that reads requests and writes answers (http_connection.h)
// and from the model API's transfers (http_connection.h with model_api_http.h).
#pragma once

#include <string>
#include <string_view>

#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>

namespace faceswap::server::detail {

struct Shared;

struct PlainAnswer {
    boost::beast::http::status status = boost::beast::http::status::ok;
    std::string body;
    std::string type = "text/plain; charset=utf-8";
    bool page = false;  // the browser client: its own headers (http_connection.h respond)
};

// What to answer a request for `target` that is neither a WebSocket upgrade nor the model API:
// /healthz, /readyz, /metrics, the browser client's files, or 404/405 naming what there is.
PlainAnswer answer_plain_request(Shared& shared, boost::beast::http::verb method,
                                 std::string_view target);

}  // namespace faceswap::server::detail
