// Internal to faceswap_net_http: the files of a download (the partial file it appends to,
// fsync of the folder after the rename) and the answers' range headers. Not installed.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "faceswap/net/model_store.h"
#include "faceswap/net/sha256.h"

namespace faceswap::net::detail {

std::int64_t file_size_or(const std::string& path, std::int64_t fallback);
std::string read_small_file(const std::string& path);  // its first line, trimmed
void fsync_directory_of(const std::string& path);      // so a rename survives a crash
void remove_quietly(const std::string& path);
// Feeds the first `length` bytes of a file to hash; false when they cannot all be read.
bool hash_prefix(const std::string& path, std::int64_t length, Sha256& hash);
std::int64_t content_range_start(const std::string& value);  // "bytes START-END/TOTAL" -> START
std::int64_t content_range_total(const std::string& value);  // -> TOTAL (or -1)
bool retryable(const TransferError& e);                      // network errors and 502/503/504

// The partial file of a download, appended to by the transfer.
class PartialFile {
  public:
    explicit PartialFile(std::string path) : path_(std::move(path)) {}
    ~PartialFile() { close(); }

    void open(bool truncate) {
        close();
        fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | (truncate ? O_TRUNC : O_APPEND), 0644);
        if (fd_ < 0)
            throw TransferError(TransferErrorKind::kLocalFile,
                                "cannot write " + path_ + ": " + std::strerror(errno));
    }
    void truncate() {
        if (::ftruncate(fd_, 0) != 0 || ::lseek(fd_, 0, SEEK_SET) < 0)
            throw TransferError(TransferErrorKind::kLocalFile,
                                "cannot truncate " + path_ + ": " + std::strerror(errno));
    }
    bool write(const char* data, std::size_t size, std::string& error) {
        while (size > 0) {
            const ssize_t n = ::write(fd_, data, size);
            if (n < 0) {
                if (errno == EINTR) continue;
                error = "cannot write " + path_ + ": " + std::strerror(errno);
                return false;
            }
            data += n;
            size -= static_cast<std::size_t>(n);
        }
        return true;
    }
    void sync_and_close() {
        if (fd_ >= 0 && ::fsync(fd_) != 0)
            throw TransferError(TransferErrorKind::kLocalFile,
                                "cannot flush " + path_ + ": " + std::strerror(errno));
        close();
    }
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

  private:
    std::string path_;
    int fd_ = -1;
};

}  // namespace faceswap::net::detail
