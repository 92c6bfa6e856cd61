// The model API's HTTP pieces that need no Beast: routing a target to a model id, Range
// headers, error bodies. Unit-tested on their own (tests/unit/test_http_parsing.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace faceswap::server::model_api {

inline constexpr std::string_view kPrefix = "/v1/models";

// {"error": message} and a newline.
std::string json_error(const std::string& message);

// "/v1/models" -> "" (the list), "/v1/models/ID" -> "ID", anything else -> nullopt. The query
// string is ignored.
std::optional<std::string> model_id_of(std::string_view target);

// A single "bytes=START-[END]" or "bytes=-SUFFIX" range within size, as [first, last]; nullopt
// to send the whole file (no range, several ranges, or a malformed one, as RFC 9110 allows).
// Sets unsatisfiable for a range that starts past the end (answered 416).
std::optional<std::pair<std::int64_t, std::int64_t>> byte_range(std::string_view value,
                                                                std::int64_t size,
                                                                bool& unsatisfiable);

// The token of an "Authorization: Bearer TOKEN" value; empty for any other value.
std::string bearer_token_of(std::string_view authorization);

// How GET/HEAD /v1/models/ID answers, from the request's conditional and range headers (each
// nullopt when absent) and the file's ETag and size.
struct DownloadAnswer {
    enum Kind { kWhole, kPartial, kNotModified, kUnsatisfiable } kind = kWhole;
    std::int64_t first = 0;  // the bytes sent, inclusive (kWhole, kPartial)
    std::int64_t last = -1;
};
DownloadAnswer answer_download(std::string_view etag, std::int64_t size,
                               std::optional<std::string_view> if_none_match,
                               std::optional<std::string_view> range,
                               std::optional<std::string_view> if_range);

// The X-Faceswap-Sha256 of an upload in lower case: empty when absent, nullopt when it is not
// 64 hex digits (answered 400 before a byte of the body is read).
std::optional<std::string> upload_sha256_of(std::string_view value);

}  // namespace faceswap::server::model_api
