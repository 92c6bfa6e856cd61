#include "transfer_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include "curl_request.h"  // trim

namespace faceswap::net::detail {

namespace fs = std::filesystem;

std::int64_t file_size_or(const std::string& path, std::int64_t fallback) {
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    return ec ? fallback : static_cast<std::int64_t>(size);
}

std::string read_small_file(const std::string& path) {
    std::ifstream in(path);
    std::string text;
    std::getline(in, text);
    return trim(text);
}

void fsync_directory_of(const std::string& path) {
    const fs::path parent = fs::absolute(path).parent_path();
    const int fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

std::int64_t content_range_start(const std::string& value) {
    long long start = -1;
    if (std::sscanf(value.c_str(), "bytes %lld-", &start) != 1) return -1;
    return start;
}

std::int64_t content_range_total(const std::string& value) {
    const auto slash = value.find('/');
    if (slash == std::string::npos || value.compare(slash + 1, 1, "*") == 0) return -1;
    return std::atoll(value.c_str() + slash + 1);
}

bool retryable(const TransferError& e) {
    if (e.kind() == TransferErrorKind::kNetwork) return true;
    return e.kind() == TransferErrorKind::kHttp &&
           (e.http_status() == 502 || e.http_status() == 503 || e.http_status() == 504);
}

bool hash_prefix(const std::string& path, std::int64_t length, Sha256& hash) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> buffer(1 << 20);
    while (length > 0 && in) {
        in.read(buffer.data(), std::min<std::int64_t>(length, buffer.size()));
        hash.update(buffer.data(), static_cast<std::size_t>(in.gcount()));
        length -= in.gcount();
    }
    return length == 0;
}

void remove_quietly(const std::string& path) {
    std::error_code ignored;
    fs::remove(path, ignored);
}

}  // namespace faceswap::net::detail
