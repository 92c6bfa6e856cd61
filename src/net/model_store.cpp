// ModelStoreClient: a server's model API (list, download, upload, delete) over HTTP(S).
#include "faceswap/net/model_store.h"

#include <nlohmann/json.hpp>

#include "faceswap/json_integer.h"

#include <filesystem>
#include <fstream>
#include <memory>

#include "curl_request.h"
#include "transfer_files.h"

namespace faceswap::net {
namespace {

using namespace detail;

std::string strip_trailing_slashes(std::string url) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
}

std::string json_string(const nlohmann::json& json, const char* key) {
    return json.contains(key) && json[key].is_string() ? json[key].get<std::string>() : "";
}

RemoteModel remote_model_of(const nlohmann::json& json) {
    RemoteModel model;
    model.id = json_string(json, "id");
    if (json.contains("identities") && json["identities"].is_array() &&
        json["identities"].size() == 2 && json["identities"][0].is_string() &&
        json["identities"][1].is_string()) {
        model.identity_a = json["identities"][0].get<std::string>();
        model.identity_b = json["identities"][1].get<std::string>();
    }
    // Numbers from the server: integers or nothing (json_integer.h says why).
    model.resolution = json_integer_or(json, "resolution", 0);
    model.size_bytes = json_integer_or(json, "size_bytes", std::int64_t{0});
    model.sha256 = json_string(json, "sha256");
    model.added = json_string(json, "added");
    model.training_steps = json_integer_or(json, "training_steps", std::int64_t{0});
    model.server_check_ms = json.contains("check_ms") && json["check_ms"].is_number()
                                ? json["check_ms"].get<double>()
                                : 0.0;
    if (model.id.empty()) throw std::runtime_error("a model entry without an id");
    return model;
}

}  // namespace

using namespace detail;

ModelStoreClient::ModelStoreClient(std::string server_url, HttpOptions options)
    : options_(std::move(options)) {
    if (server_url.rfind("ws://", 0) == 0)
        server_url = "http://" + server_url.substr(5);
    else if (server_url.rfind("wss://", 0) == 0)
        server_url = "https://" + server_url.substr(6);
    if (server_url.rfind("http://", 0) != 0 && server_url.rfind("https://", 0) != 0)
        throw TransferError(
            TransferErrorKind::kBadResponse,
            "'" + server_url + "' is not a server URL: use http://HOST:PORT or https://HOST:PORT");
    base_url_ = strip_trailing_slashes(server_url);
}

std::string ModelStoreClient::model_url(const std::string& id) const {
    if (!is_valid_model_id(id))
        throw TransferError(TransferErrorKind::kBadResponse,
                            "'" + id +
                                "' is not a model id: 1-128 letters, digits, '.', '_' or "
                                "'-', not starting with '.'");
    return base_url_ + "/v1/models/" + id;
}

std::vector<RemoteModel> ModelStoreClient::list() const {
    Request request("GET", base_url_ + "/v1/models", options_);
    std::string body;
    request.on_success_body = [&](const char* data, std::size_t size) {
        if (body.size() + size > (16u << 20)) return false;
        body.append(data, size);
        return true;
    };
    request.perform();
    std::vector<RemoteModel> models;
    try {
        const auto json = nlohmann::json::parse(body);
        for (const auto& entry : json.at("models")) models.push_back(remote_model_of(entry));
    } catch (const std::exception& e) {
        throw TransferError(
            TransferErrorKind::kBadResponse,
            request.what() + ": not a model list (" + e.what() + "); is this a faceswap-server?");
    }
    return models;
}

DownloadResult ModelStoreClient::download(const std::string& id, const std::string& dest_path,
                                          const DownloadOptions& options) const {
    return download_file(model_url(id), dest_path, options_, options);
}

RemoteModel ModelStoreClient::upload(const std::string& id, const std::string& file_path,
                                     const UploadOptions& options) const {
    const std::string url = model_url(id);
    std::FILE* file = std::fopen(file_path.c_str(), "rb");
    if (!file)
        throw TransferError(TransferErrorKind::kLocalFile,
                            "cannot read " + file_path + ": " + std::strerror(errno));
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(file, &std::fclose);
    const std::int64_t size = file_size_or(file_path, -1);
    if (size <= 0)
        throw TransferError(TransferErrorKind::kLocalFile, file_path + " is empty or unreadable");
    const std::string sha256 = sha256_of_file(file_path);

    Request request("PUT", url, options_);
    request.cancel = options.cancel;
    request.set(CURLOPT_UPLOAD, 1L);
    request.set(CURLOPT_READDATA, file);
    request.set(CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(size));
    request.set(CURLOPT_UPLOAD_BUFFERSIZE, 512L << 10);  // fewer, larger writes than 64 KiB
    request.header("Content-Type: application/octet-stream");
    request.header("X-Faceswap-Sha256: " + sha256);
    // The server refuses a wrong token or an oversized file before a byte of it is sent.
    request.header("Expect: 100-continue");
    request.set(CURLOPT_EXPECT_100_TIMEOUT_MS, 5000L);
    ProgressThrottle progress(options.progress);
    request.on_transfer = [&](std::int64_t, std::int64_t, std::int64_t, std::int64_t up_now) {
        progress.report({up_now, size, 0, 0});
    };
    std::string body;
    request.on_success_body = [&](const char* data, std::size_t n) {
        body.append(data, n);
        return body.size() < (1u << 20);
    };
    request.perform();
    progress.report({size, size, 0, 0}, true);
    try {
        return remote_model_of(nlohmann::json::parse(body));
    } catch (const std::exception& e) {
        throw TransferError(TransferErrorKind::kBadResponse,
                            request.what() +
                                ": the server accepted the file but its answer is "
                                "not a model entry (" +
                                e.what() + ")");
    }
}

void ModelStoreClient::remove(const std::string& id) const {
    Request request("DELETE", model_url(id), options_);
    request.perform();
}

}  // namespace faceswap::net
