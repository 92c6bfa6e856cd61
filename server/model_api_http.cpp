#include "model_api_http.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <exception>

namespace faceswap::server::model_api {

std::string json_error(const std::string& message) {
    return nlohmann::json{{"error", message}}.dump() + "\n";
}

std::optional<std::string> model_id_of(std::string_view target) {
    target = target.substr(0, target.find('?'));
    if (target.rfind(kPrefix, 0) != 0) return std::nullopt;
    target.remove_prefix(kPrefix.size());
    if (target.empty() || target == "/") return std::string{};
    if (target[0] != '/' || target.find('/', 1) != std::string_view::npos) return std::nullopt;
    return std::string(target.substr(1));
}

std::optional<std::pair<std::int64_t, std::int64_t>> byte_range(std::string_view value,
                                                                std::int64_t size,
                                                                bool& unsatisfiable) {
    unsatisfiable = false;
    if (value.rfind("bytes=", 0) != 0 || value.find(',') != std::string_view::npos)
        return std::nullopt;  // several ranges: the whole file is a valid answer
    const std::string spec(value.substr(6));
    const auto dash = spec.find('-');
    if (dash == std::string::npos) return std::nullopt;
    try {
        std::int64_t first, last = size - 1;
        if (dash == 0) {
            const std::int64_t suffix = std::stoll(spec.substr(1));
            if (suffix <= 0) return std::nullopt;
            first = std::max<std::int64_t>(0, size - suffix);
        } else {
            first = std::stoll(spec.substr(0, dash));
            if (dash + 1 < spec.size())
                last = std::min<std::int64_t>(last, std::stoll(spec.substr(dash + 1)));
        }
        if (first >= size) {
            unsatisfiable = true;
            return std::nullopt;
        }
        if (first < 0 || last < first) return std::nullopt;
        return std::pair{first, last};
    } catch (const std::exception&) {
        return std::nullopt;  // malformed: ignored, as RFC 9110 allows
    }
}

}  // namespace faceswap::server::model_api
