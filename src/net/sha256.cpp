#include "faceswap/net/sha256.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace faceswap::net {

struct Sha256::Impl {
    EVP_MD_CTX* context = EVP_MD_CTX_new();
    ~Impl() { EVP_MD_CTX_free(context); }
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
    if (!impl_->context) throw std::runtime_error("OpenSSL: cannot allocate a digest context");
    reset();
}

Sha256::~Sha256() = default;

void Sha256::reset() {
    if (EVP_DigestInit_ex(impl_->context, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("OpenSSL: SHA-256 is not available");
}

void Sha256::update(const void* data, std::size_t size) {
    if (size) EVP_DigestUpdate(impl_->context, data, size);
}

std::string Sha256::hex_digest() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(impl_->context, digest, &length);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    for (unsigned int i = 0; i < length; ++i) {
        hex += kHex[digest[i] >> 4];
        hex += kHex[digest[i] & 15];
    }
    reset();
    return hex;
}

std::string sha256_of_file(const std::string& path, std::int64_t length) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
    Sha256 hash;
    std::vector<char> buffer(1 << 20);
    std::int64_t left = length;
    while (in && left != 0) {
        std::streamsize want = static_cast<std::streamsize>(buffer.size());
        if (left > 0) want = std::min<std::streamsize>(want, left);
        in.read(buffer.data(), want);
        const std::streamsize got = in.gcount();
        if (got <= 0) break;
        hash.update(buffer.data(), static_cast<std::size_t>(got));
        if (left > 0) left -= got;
    }
    if (in.bad()) throw std::runtime_error("cannot read " + path + ": read error");
    if (left > 0) throw std::runtime_error(path + " is shorter than expected");
    return hash.hex_digest();
}

bool is_sha256_hex(const std::string& text) {
    return text.size() == 64 &&
           std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isxdigit(c); });
}

}  // namespace faceswap::net
