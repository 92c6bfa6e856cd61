// The browser client's files (server/web/), built into faceswap-server by server/web/embed.cmake
// and served at GET / (index.html) and GET /NAME.
#pragma once

#include <string_view>
#include <vector>

namespace faceswap::server {

struct WebAsset {
    const char* path;  // "/index.html", "/client.js"
    const char* content_type;
    std::string_view body;
};

const std::vector<WebAsset>& web_assets();

// The asset a request target names ("/" is index.html; a query string is ignored), or null.
inline const WebAsset* find_web_asset(std::string_view target) {
    target = target.substr(0, target.find('?'));
    if (target == "/") target = "/index.html";
    for (const WebAsset& asset : web_assets())
        if (target == asset.path) return &asset;
    return nullptr;
}

}  // namespace faceswap::server
