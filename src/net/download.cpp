// download_file: resumable, verified (sha256), atomic (rename into place) downloads.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <thread>

#include "curl_request.h"
#include "faceswap/net/model_store.h"
#include "faceswap/net/sha256.h"
#include "transfer_files.h"

namespace faceswap::net {

namespace fs = std::filesystem;
using namespace detail;

DownloadResult download_file(const std::string& url, const std::string& dest_path,
                             const HttpOptions& http, const DownloadOptions& options) {
    const auto started = Clock::now();
    if (!options.expected_sha256.empty() && !is_sha256_hex(options.expected_sha256))
        throw TransferError(
            TransferErrorKind::kBadResponse,
            "--sha256 must be 64 hex digits, not '" + options.expected_sha256 + "'");
    const std::string expected = lower(options.expected_sha256);
    DownloadResult result;
    result.path = dest_path;
    if (!expected.empty() && options.reuse_existing && fs::is_regular_file(dest_path) &&
        sha256_of_file(dest_path) == expected) {
        result.sha256 = expected;
        result.size_bytes = file_size_or(dest_path, 0);
        result.already_present = true;
        return result;
    }
    if (const auto parent = fs::path(dest_path).parent_path(); !parent.empty()) {
        std::error_code ec;
        fs::create_directories(parent, ec);
        if (ec)
            throw TransferError(TransferErrorKind::kLocalFile,
                                "cannot create " + parent.string() + ": " + ec.message());
    }
    const std::string partial_path = dest_path + ".partial";
    const std::string validator_path = partial_path + ".etag";  // ETag or Last-Modified
    if (!options.resume) {
        remove_quietly(partial_path);
        remove_quietly(validator_path);
    }
    auto discard_partial = [&] {
        remove_quietly(partial_path);
        remove_quietly(validator_path);
    };

    ProgressThrottle progress(options.progress);
    PartialFile file(partial_path);
    Sha256 hash;
    std::string server_sha256;
    std::int64_t total = -1;
    for (int attempt = 1;; ++attempt) {
        result.attempts = attempt;
        // Resume only what a validator can vouch for: If-Range makes the server send the whole
        // file instead when it changed since.
        std::string validator = read_small_file(validator_path);
        std::int64_t offset = file_size_or(partial_path, 0);
        if (validator.empty() || offset == 0) offset = 0;
        hash.reset();
        if (offset > 0 && !hash_prefix(partial_path, offset, hash)) {
            offset = 0;
            hash.reset();
        }
        file.open(offset == 0);
        if (attempt == 1) result.resumed_from = offset;

        Request request("GET", url, http);
        request.cancel = options.cancel;
        const std::string& cached = options.cached_validator;
        if (!cached.empty()) {
            const bool etag = cached.front() == '"' || cached.rfind("W/", 0) == 0;
            request.header((etag ? "If-None-Match: " : "If-Modified-Since: ") + cached);
            request.is_success = [](int status) { return status / 100 == 2 || status == 304; };
        }
        if (offset > 0) {
            request.header("Range: bytes=" + std::to_string(offset) + "-");
            request.header("If-Range: " + validator);
        }
        bool started_body = false;
        std::int64_t written = offset;
        request.on_success_body = [&](const char* data, std::size_t size) {
            if (!started_body) {
                started_body = true;
                const std::string range = request.response_header("content-range");
                if (offset > 0 && (range.empty() || content_range_start(range) != offset)) {
                    // 200: the whole file again (it changed, or ranges are not supported).
                    file.truncate();
                    hash.reset();
                    written = 0;
                    if (attempt == 1) result.resumed_from = 0;
                }
                if (!range.empty())
                    total = content_range_total(range);
                else if (const auto length = request.response_header("content-length");
                         !length.empty())
                    total = written + std::atoll(length.c_str());
                const std::string etag = request.response_header("etag");
                const std::string modified = request.response_header("last-modified");
                const std::string fresh = etag.rfind("W/", 0) == 0 ? modified
                                          : etag.empty()           ? modified
                                                                   : etag;
                std::ofstream(validator_path, std::ios::trunc) << fresh << "\n";
                result.validator = fresh;
                server_sha256 = lower(request.response_header("x-faceswap-sha256"));
            }
            std::string error;
            if (!file.write(data, size, error)) {
                request.fail_write(error);
                return false;
            }
            hash.update(data, size);
            written += static_cast<std::int64_t>(size);
            progress.report({written, total, result.resumed_from, 0});
            return true;
        };
        try {
            request.perform();
            if (request.status() == 304) {
                file.close();
                if (offset == 0) discard_partial();
                result.not_modified = true;
                result.validator = cached;
                result.seconds = std::chrono::duration<double>(Clock::now() - started).count();
                return result;
            }
            if (request.status() != 200 && request.status() != 206)
                throw TransferError(
                    TransferErrorKind::kBadResponse,
                    request.what() + ": unexpected HTTP " + std::to_string(request.status()));
            if (!started_body && offset > 0) {
                // An empty 206/200: nothing new arrived; start over next time.
                discard_partial();
                throw TransferError(TransferErrorKind::kBadResponse,
                                    request.what() + ": empty answer to a resume");
            }
            if (total >= 0 && written != total)
                throw TransferError(TransferErrorKind::kNetwork,
                                    request.what() + ": connection ended at " +
                                        std::to_string(written) + " of " + std::to_string(total) +
                                        " bytes");
            file.sync_and_close();
            result.size_bytes = written;
            break;
        } catch (const TransferError& e) {
            file.close();
            if (e.kind() == TransferErrorKind::kCancelled) throw;  // DEST.partial stays
            if (e.kind() == TransferErrorKind::kHttp && e.http_status() == 416) {
                discard_partial();  // our partial is not a prefix of what is there now
                if (attempt < options.max_attempts) continue;
            }
            if (retryable(e) && attempt < options.max_attempts) {
                std::this_thread::sleep_for(std::chrono::milliseconds(250 << attempt));
                continue;
            }
            if (e.kind() == TransferErrorKind::kNetwork && fs::exists(validator_path) &&
                file_size_or(partial_path, 0) > 0)
                throw TransferError(e.kind(),
                                    std::string(e.what()) + "; " +
                                        std::to_string(file_size_or(partial_path, 0)) +
                                        " bytes kept in " + partial_path + ": run again to resume",
                                    e.http_status(), e.server_message());
            discard_partial();
            throw;
        }
    }
    result.sha256 = hash.hex_digest();
    progress.report({result.size_bytes, result.size_bytes, result.resumed_from, 0}, true);
    for (const auto& [wanted, who] :
         {std::pair{expected, std::string("expected (--sha256)")},
          std::pair{server_sha256, std::string("the server's X-Faceswap-Sha256")}}) {
        if (!wanted.empty() && wanted != result.sha256) {
            discard_partial();
            throw TransferError(TransferErrorKind::kIntegrity,
                                "GET " + url + ": sha256 of the download is " + result.sha256 +
                                    ", " + who + " is " + wanted +
                                    "; nothing was kept (check the hash, or the source changed)");
        }
    }
    std::error_code ec;
    fs::rename(partial_path, dest_path, ec);
    if (ec) {
        discard_partial();
        throw TransferError(
            TransferErrorKind::kLocalFile,
            "cannot rename " + partial_path + " to " + dest_path + ": " + ec.message());
    }
    remove_quietly(validator_path);
    fsync_directory_of(dest_path);
    result.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    return result;
}

}  // namespace faceswap::net
