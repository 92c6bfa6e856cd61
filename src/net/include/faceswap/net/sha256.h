// SHA-256 of bytes and files (OpenSSL), as lowercase hex: the identity of a model file in the
// model API (ETag, listings, --sha256 checks). No OpenSSL type appears here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace faceswap::net {

class Sha256 {
  public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;

    void update(const void* data, std::size_t size);
    std::string hex_digest();  // finishes; the object starts over afterwards
    void reset();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Reads the whole file (or its first `length` bytes when length >= 0).
// Throws std::runtime_error naming the file when it cannot be read.
std::string sha256_of_file(const std::string& path, std::int64_t length = -1);

// True for 64 hex digits (either case).
bool is_sha256_hex(const std::string& text);

}  // namespace faceswap::net
