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

}  // namespace faceswap::server::model_api
