#include "faceswap/net/url.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace faceswap::net {

WsUrl parse_ws_url(const std::string& url) {
    WsUrl parsed;
    std::string rest;
    if (url.rfind("ws://", 0) == 0) {
        rest = url.substr(5);
    } else if (url.rfind("wss://", 0) == 0) {
        parsed.tls = true;
        rest = url.substr(6);
    } else {
        throw std::invalid_argument("URL '" + url + "' must start with ws:// or wss://");
    }
    const auto slash = rest.find('/');
    if (slash != std::string::npos) {
        parsed.target = rest.substr(slash);
        rest = rest.substr(0, slash);
    }
    // An IPv6 literal is bracketed ([::1]:8080); its colons are not the port's.
    const auto bracket = rest.rfind(']');
    const auto colon = rest.rfind(':');
    if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) {
        parsed.host = rest.substr(0, colon);
        parsed.port = rest.substr(colon + 1);
    } else {
        parsed.host = rest;
        parsed.port = parsed.tls ? "443" : "80";
    }
    if (parsed.host.size() > 2 && parsed.host.front() == '[' && parsed.host.back() == ']')
        parsed.host = parsed.host.substr(1, parsed.host.size() - 2);
    const bool digits = !parsed.port.empty() && parsed.port.size() <= 5 &&
                        std::all_of(parsed.port.begin(), parsed.port.end(),
                                    [](unsigned char c) { return std::isdigit(c) != 0; });
    if (parsed.host.empty() || !digits || std::stoi(parsed.port) < 1 ||
        std::stoi(parsed.port) > 65535)
        throw std::invalid_argument("URL '" + url + "' has no host or a bad port");
    return parsed;
}

}  // namespace faceswap::net
