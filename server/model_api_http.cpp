#include "model_api_http.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <exception>

#include "faceswap/net/sha256.h"

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

std::string bearer_token_of(std::string_view authorization) {
    constexpr std::string_view kBearer = "bearer ";
    if (authorization.size() <= kBearer.size()) return {};
    for (std::size_t i = 0; i < kBearer.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(authorization[i])) != kBearer[i]) return {};
    return std::string(authorization.substr(kBearer.size()));
}

DownloadAnswer answer_download(std::string_view etag, std::int64_t size,
                               std::optional<std::string_view> if_none_match,
                               std::optional<std::string_view> range,
                               std::optional<std::string_view> if_range) {
    DownloadAnswer answer;
    if (if_none_match && (*if_none_match == etag || *if_none_match == "*")) {
        answer.kind = DownloadAnswer::kNotModified;
        return answer;
    }
    answer.last = size - 1;
    // If-Range: a resume of another version gets the whole file instead of a wrong tail.
    if (!range || (if_range && *if_range != etag)) return answer;
    bool unsatisfiable = false;
    const auto bytes = byte_range(*range, size, unsatisfiable);
    if (unsatisfiable) {
        answer.kind = DownloadAnswer::kUnsatisfiable;
    } else if (bytes) {
        answer.kind = DownloadAnswer::kPartial;
        answer.first = bytes->first;
        answer.last = bytes->second;
    }
    return answer;
}

std::optional<std::string> upload_sha256_of(std::string_view value) {
    if (value.empty()) return std::string{};
    std::string lower(value);
    if (!net::is_sha256_hex(lower)) return std::nullopt;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return lower;
}

}  // namespace faceswap::server::model_api
