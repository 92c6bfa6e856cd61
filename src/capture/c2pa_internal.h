// What the C2PA writer (content_credentials.cpp) and reader (content_credentials_reader.cpp)
// share: byte order, OpenSSL ownership, the C2PA type identifiers, SHA-256. Private to the
// capture library.
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "faceswap/capture/content_credentials.h"

namespace faceswap::capture::c2pa {

using Bytes = std::vector<std::uint8_t>;

// unique_ptr's deleter for an OpenSSL object: std::unique_ptr<X509, Deleter<X509, X509_free>>.
template <typename T, void (*Free)(T*)>
struct Deleter {
    void operator()(T* p) const { Free(p); }
};

inline std::uint64_t get_be(const std::uint8_t* p, int bytes) {
    std::uint64_t value = 0;
    for (int i = 0; i < bytes; ++i) value = value << 8 | p[i];
    return value;
}

inline void put_be(std::uint8_t* p, std::uint64_t value, int bytes) {
    for (int i = bytes - 1; i >= 0; --i, value >>= 8) p[i] = static_cast<std::uint8_t>(value);
}

// C2PA's MP4 'uuid' box type (C2PA 2.x, 11.3.4).
inline constexpr std::uint8_t kBmffUuid[16] = {0xD8, 0xFE, 0xC3, 0xD6, 0x1B, 0x0E, 0x48, 0x3C,
                                               0x92, 0x97, 0x58, 0x28, 0x87, 0x7E, 0xC4, 0x81};

// A JUMBF content type is a four-letter code ("c2pa", "c2ma", "cbor", ...) and these 12 bytes.
inline constexpr std::uint8_t kJumbfTypeSuffix[12] = {0x00, 0x11, 0x00, 0x10, 0x80, 0x00,
                                                      0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};

inline Bytes sha256(const std::uint8_t* data, std::size_t size) {
    Bytes digest(32);
    unsigned int length = 0;
    if (EVP_Digest(data, size, digest.data(), &length, EVP_sha256(), nullptr) != 1 || length != 32)
        throw ContentCredentialsError("SHA-256 failed");
    return digest;
}

}  // namespace faceswap::capture::c2pa
