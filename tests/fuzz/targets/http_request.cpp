// An HTTP request as faceswap-server reads it before the model API answers: Beast's parser with
// the server's 16 KiB header limit, then our own decisions on its fields: the model id from the
// target, the bearer token, If-None-Match / Range / If-Range for downloads and the upload's
// X-Faceswap-Sha256. No input may crash, and every decision stays within the file.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <cstdint>

#include "faceswap/net/protocol.h"
#include "fuzz_support.h"
#include "model_api_http.h"

namespace http = boost::beast::http;
namespace api = faceswap::server::model_api;

namespace {

std::optional<std::string_view> value_of(const http::fields& fields, http::field name) {
    const auto it = fields.find(name);
    if (it == fields.end()) return std::nullopt;
    return std::string_view(it->value());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    http::request_parser<http::empty_body> parser;
    parser.header_limit(16 << 10);
    parser.eager(false);
    boost::beast::error_code ec;
    parser.put(boost::asio::buffer(data, size), ec);
    if (ec && ec != http::error::need_more) return 0;
    if (!parser.is_header_done()) return 0;
    const auto& request = parser.get();

    if (const auto id = api::model_id_of(request.target()); id && !id->empty()) {
        // What the server then checks before the id names a file.
        if (faceswap::net::is_valid_model_id(*id)) {
            FUZZ_ASSERT(id->find('/') == std::string::npos && (*id)[0] != '.');
        }
    }
    const auto authorization = value_of(request, http::field::authorization);
    if (authorization) {
        const std::string token = api::bearer_token_of(*authorization);
        FUZZ_ASSERT(token.empty() || token.size() < authorization->size());
    }
    for (const std::int64_t file_size : {std::int64_t{0}, std::int64_t{1}, std::int64_t{1} << 20}) {
        const auto answer = api::answer_download(
            "\"0123\"", file_size, value_of(request, http::field::if_none_match),
            value_of(request, http::field::range), value_of(request, http::field::if_range));
        if (answer.kind == api::DownloadAnswer::kPartial ||
            (answer.kind == api::DownloadAnswer::kWhole && file_size > 0)) {
            FUZZ_ASSERT(answer.first >= 0 && answer.first <= answer.last);
            FUZZ_ASSERT(answer.last < file_size);
        }
    }
    if (const auto sha = api::upload_sha256_of(request["X-Faceswap-Sha256"]); sha && !sha->empty())
        FUZZ_ASSERT(sha->size() == 64);
    return 0;
}
