// WebSocket URLs as the client takes them (ws://host[:port][/path], wss://...). No Boost here.
#pragma once

#include <string>

namespace faceswap::net {

struct WsUrl {
    bool tls = false;
    std::string host;  // a name or an address, IPv6 without its brackets
    std::string port;  // digits; 80 or 443 when the URL gives none
    std::string target = "/";
    // host:port as the Host header wants it (an IPv6 host in brackets).
    std::string authority() const {
        return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port;
    }
};

// Throws std::invalid_argument with a one-line reason for anything else.
WsUrl parse_ws_url(const std::string& url);

}  // namespace faceswap::net
