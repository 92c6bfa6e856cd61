#include "curl_request.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <mutex>

namespace faceswap::net::detail {

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    return text;
}

std::string trim(const std::string& text) {
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return {};
    return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

std::string server_message_of(const std::string& body, const std::string& content_type) {
    if (body.empty()) return {};
    try {
        const auto json = nlohmann::json::parse(body);
        if (json.is_object() && json.contains("error") && json["error"].is_string())
            return json["error"].get<std::string>();
    } catch (const nlohmann::json::exception&) {
    }
    if (lower(content_type).find("html") != std::string::npos) return {};
    std::string line = trim(body.substr(0, body.find('\n')));
    if (line.size() > 300) line = line.substr(0, 300) + "...";
    return line;
}

const char* reason_of(int status) {
    switch (status) {
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 409:
            return "Conflict";
        case 411:
            return "Length Required";
        case 413:
            return "Payload Too Large";
        case 416:
            return "Range Not Satisfiable";
        case 422:
            return "Unprocessable Content";
        case 500:
            return "Internal Server Error";
        case 501:
            return "Not Implemented";
        case 502:
            return "Bad Gateway";
        case 503:
            return "Service Unavailable";
        case 504:
            return "Gateway Timeout";
        default:
            return "";
    }
}

// What to do about an HTTP error status, said once for all calls.
std::string hint_of(int status) {
    switch (status) {
        case 401:
            return " (pass the server's token: --token or $FACESWAP_TOKEN)";
        case 413:
            return " (the server's limits.max_model_bytes is lower than the file)";
        default:
            return {};
    }
}

}  // namespace faceswap::net::detail
