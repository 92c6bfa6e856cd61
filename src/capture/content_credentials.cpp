#include "faceswap/capture/content_credentials.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>

#include "c2pa_internal.h"

namespace faceswap::capture {
namespace {

using c2pa::Bytes;
using c2pa::Deleter;
using c2pa::get_be;
using c2pa::kBmffUuid;
using c2pa::put_be;
using c2pa::sha256;
namespace fs = std::filesystem;

[[noreturn]] void fail(const std::string& message) {
    throw ContentCredentialsError(message);
}

// The newest OpenSSL error as text (for the rare failures of the library itself).
std::string openssl_reason() {
    const unsigned long code = ERR_get_error();
    if (code == 0) return "unknown OpenSSL error";
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    return text;
}

using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

// ---- CBOR (RFC 8949), definite lengths and shortest heads, what C2PA's structures need ---------
class Cbor {
  public:
    Cbor& map(std::uint64_t pairs) { return head(5, pairs); }
    Cbor& array(std::uint64_t items) { return head(4, items); }
    Cbor& tag(std::uint64_t number) { return head(6, number); }
    Cbor& integer(std::int64_t value) {
        return value >= 0 ? head(0, static_cast<std::uint64_t>(value))
                          : head(1, static_cast<std::uint64_t>(-1 - value));
    }
    Cbor& text(const std::string& value) {
        head(3, value.size());
        out_.insert(out_.end(), value.begin(), value.end());
        return *this;
    }
    Cbor& bytes(const Bytes& value) {
        head(2, value.size());
        out_.insert(out_.end(), value.begin(), value.end());
        return *this;
    }
    Cbor& null() {
        out_.push_back(0xF6);
        return *this;
    }
    const Bytes& out() const { return out_; }

  private:
    Cbor& head(int major, std::uint64_t n) {
        const auto m = static_cast<std::uint8_t>(major << 5);
        if (n < 24) {
            out_.push_back(static_cast<std::uint8_t>(m | n));
            return *this;
        }
        const int width = n < 0x100 ? 1 : n < 0x10000 ? 2 : n < 0x100000000ULL ? 4 : 8;
        out_.push_back(static_cast<std::uint8_t>(m | (width == 1   ? 24
                                                      : width == 2 ? 25
                                                      : width == 4 ? 26
                                                                   : 27)));
        for (int i = width - 1; i >= 0; --i)
            out_.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
        return *this;
    }
    Bytes out_;
};

// ---- JUMBF (ISO 19566-5) boxes -----------------------------------------------------------------
void put32(Bytes& out, std::uint32_t value) {
    for (int i = 3; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}

Bytes box(const char (&type)[5], const Bytes& payload) {
    // Sized once and filled (GCC 12 misreads a chain of inserts into a fresh vector as overflow).
    Bytes out(8 + payload.size());
    const auto size = static_cast<std::uint32_t>(out.size());
    for (int i = 0; i < 4; ++i) out[i] = static_cast<std::uint8_t>(size >> (8 * (3 - i)));
    std::memcpy(out.data() + 4, type, 4);
    if (!payload.empty()) std::memcpy(out.data() + 8, payload.data(), payload.size());
    return out;
}

// A description box: the content type (a C2PA UUID made of a four-letter code), "requestable,
// labelled", the label.
Bytes description(const char (&code)[5], const std::string& label) {
    Bytes payload(code, code + 4);
    payload.insert(payload.end(), std::begin(c2pa::kJumbfTypeSuffix),
                   std::end(c2pa::kJumbfTypeSuffix));
    payload.push_back(0x03);
    payload.insert(payload.end(), label.begin(), label.end());
    payload.push_back(0);
    return box("jumd", payload);
}

Bytes superbox(const char (&code)[5], const std::string& label,
               const std::vector<Bytes>& children) {
    Bytes payload = description(code, label);
    for (const Bytes& child : children) payload.insert(payload.end(), child.begin(), child.end());
    return box("jumb", payload);
}

std::string uuid4() {
    std::array<std::uint8_t, 16> b{};
    if (RAND_bytes(b.data(), 16) != 1) fail("no random bytes: " + openssl_reason());
    b[6] = static_cast<std::uint8_t>((b[6] & 0x0F) | 0x40);
    b[8] = static_cast<std::uint8_t>((b[8] & 0x3F) | 0x80);
    char text[37];
    std::snprintf(text, sizeof text,
                  "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                  b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
                  b[14], b[15]);
    return text;
}

// ---- the signing identity ----------------------------------------------------------------------
struct ParsedIdentity {
    Key key;
    std::vector<Bytes> chain_der;  // leaf first
};

std::string read_text(const std::string& path, const char* what) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        fail("cannot read the signing " + std::string(what) + " " + path +
             ": no such file or no permission; give a readable PEM file");
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

ParsedIdentity parse_identity(const SigningIdentity& identity) {
    ParsedIdentity parsed;
    Bio key_bio(BIO_new_mem_buf(identity.private_key_pem.data(),
                                static_cast<int>(identity.private_key_pem.size())));
    parsed.key.reset(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
    if (!parsed.key)
        fail("the signing key of " + identity.origin +
             " is not a PEM private key (an unencrypted 'BEGIN PRIVATE KEY' file)");
    char group[64] = {};
    size_t group_length = 0;
    if (EVP_PKEY_get_base_id(parsed.key.get()) != EVP_PKEY_EC ||
        EVP_PKEY_get_group_name(parsed.key.get(), group, sizeof group, &group_length) != 1 ||
        std::string(group) != "prime256v1")
        fail("the signing key of " + identity.origin +
             " is not an EC P-256 key (ES256): make one with 'openssl ecparam -name prime256v1'");
    Bio cert_bio(BIO_new_mem_buf(identity.certificate_chain_pem.data(),
                                 static_cast<int>(identity.certificate_chain_pem.size())));
    Cert leaf;
    while (Cert cert{PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr)}) {
        const int size = i2d_X509(cert.get(), nullptr);
        Bytes der(static_cast<std::size_t>(std::max(size, 0)));
        unsigned char* at = der.data();
        if (size <= 0 || i2d_X509(cert.get(), &at) != size)
            fail("cannot encode the certificate of " + identity.origin);
        parsed.chain_der.push_back(std::move(der));
        if (!leaf) leaf = std::move(cert);
    }
    ERR_clear_error();  // the read that ended the loop
    if (!leaf)
        fail("the signing certificate of " + identity.origin +
             " holds no PEM certificate ('BEGIN CERTIFICATE')");
    if (X509_check_private_key(leaf.get(), parsed.key.get()) != 1)
        fail("the signing key of " + identity.origin +
             " does not belong to its certificate: give the key the certificate was made for");
    if (X509_cmp_current_time(X509_get0_notAfter(leaf.get())) < 0)
        fail("the signing certificate of " + identity.origin +
             " has expired: renew it, or remove it to let faceswap make a new one");
    if (X509_cmp_current_time(X509_get0_notBefore(leaf.get())) > 0)
        fail("the signing certificate of " + identity.origin +
             " is not valid yet: check the clock, or its dates");
    return parsed;
}

void add_extension(X509* cert, int nid, const char* value) {
    X509V3_CTX context;
    X509V3_set_ctx(&context, cert, cert, nullptr, nullptr, 0);
    X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
    if (!extension || X509_add_ext(cert, extension, -1) != 1) {
        X509_EXTENSION_free(extension);
        fail("cannot make the signing certificate: " + openssl_reason());
    }
    X509_EXTENSION_free(extension);
}

// A new P-256 key and a self-signed certificate of the C2PA signer profile.
SigningIdentity make_identity() {
    Key key(EVP_EC_gen("P-256"));
    if (!key) fail("cannot make a signing key: " + openssl_reason());
    Cert cert(X509_new());
    X509_set_version(cert.get(), 2);  // v3
    std::array<std::uint8_t, 16> serial{};
    RAND_bytes(serial.data(), static_cast<int>(serial.size()));
    serial[0] &= 0x7F;  // positive
    BIGNUM* number = BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr);
    BN_to_ASN1_INTEGER(number, X509_get_serialNumber(cert.get()));
    BN_free(number);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
    X509_set_pubkey(cert.get(), key.get());
    char host[256] = "this computer";
    ::gethostname(host, sizeof host - 1);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>("faceswap installation"), -1,
                               -1, 0);
    const std::string common_name = std::string("faceswap on ") + host;
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                               0);
    X509_set_issuer_name(cert.get(), name);
    add_extension(cert.get(), NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert.get(), NID_key_usage, "critical,digitalSignature");
    add_extension(cert.get(), NID_ext_key_usage, "emailProtection");
    add_extension(cert.get(), NID_subject_key_identifier, "hash");
    add_extension(cert.get(), NID_authority_key_identifier, "keyid:always");
    if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0)
        fail("cannot sign the signing certificate: " + openssl_reason());
    SigningIdentity identity;
    Bio key_out(BIO_new(BIO_s_mem())), cert_out(BIO_new(BIO_s_mem()));
    if (PEM_write_bio_PrivateKey(key_out.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
            1 ||
        PEM_write_bio_X509(cert_out.get(), cert.get()) != 1)
        fail("cannot write the signing identity: " + openssl_reason());
    char* data = nullptr;
    long size = BIO_get_mem_data(key_out.get(), &data);
    identity.private_key_pem.assign(data, static_cast<std::size_t>(size));
    size = BIO_get_mem_data(cert_out.get(), &data);
    identity.certificate_chain_pem.assign(data, static_cast<std::size_t>(size));
    return identity;
}

// Written under a temporary name and renamed: a crash never leaves half a key.
void write_private(const fs::path& path, const std::string& text, mode_t mode) {
    const fs::path partial = path.string() + ".partial" + std::to_string(::getpid());
    {
        std::ofstream out(partial, std::ios::binary | std::ios::trunc);
        ::chmod(partial.c_str(), mode);
        out << text;
        if (!out.flush())
            fail("cannot write " + partial.string() + " (disk full or no permission)");
    }
    ::chmod(partial.c_str(), mode);
    std::error_code error;
    fs::rename(partial, path, error);
    if (error) fail("cannot write " + path.string() + ": " + error.message());
}

// ---- the manifest ------------------------------------------------------------------------------
constexpr const char* kDigitalSourceType =
    "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia";

struct Assertion {
    std::string label;
    Bytes box;  // the assertion's superbox
};

Assertion cbor_assertion(const std::string& label, const Bytes& cbor) {
    return {label, superbox("cbor", label, {box("cbor", cbor)})};
}

// The COSE_Sign1 (RFC 9052) over the claim, detached: ES256, the chain in the protected header.
Bytes cose_sign(const Bytes& claim, const ParsedIdentity& identity) {
    Cbor protected_header;
    protected_header.map(2).integer(1).integer(-7).integer(33);
    if (identity.chain_der.size() == 1) {
        protected_header.bytes(identity.chain_der.front());
    } else {
        protected_header.array(identity.chain_der.size());
        for (const Bytes& der : identity.chain_der) protected_header.bytes(der);
    }
    Cbor to_sign;
    to_sign.array(4).text("Signature1").bytes(protected_header.out()).bytes({}).bytes(claim);
    std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>> context(EVP_MD_CTX_new());
    size_t der_size = 0;
    if (EVP_DigestSignInit(context.get(), nullptr, EVP_sha256(), nullptr, identity.key.get()) !=
            1 ||
        EVP_DigestSign(context.get(), nullptr, &der_size, to_sign.out().data(),
                       to_sign.out().size()) != 1)
        fail("cannot sign the manifest: " + openssl_reason());
    Bytes der(der_size);
    if (EVP_DigestSign(context.get(), der.data(), &der_size, to_sign.out().data(),
                       to_sign.out().size()) != 1)
        fail("cannot sign the manifest: " + openssl_reason());
    // COSE wants the raw r || s (32 bytes each), not OpenSSL's DER sequence.
    const unsigned char* at = der.data();
    std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>> signature(
        d2i_ECDSA_SIG(nullptr, &at, static_cast<long>(der_size)));
    if (!signature) fail("cannot read the signature: " + openssl_reason());
    Bytes raw(64);
    const BIGNUM *r = nullptr, *s = nullptr;
    ECDSA_SIG_get0(signature.get(), &r, &s);
    if (BN_bn2binpad(r, raw.data(), 32) != 32 || BN_bn2binpad(s, raw.data() + 32, 32) != 32)
        fail("cannot encode the signature");
    Cbor cose;
    cose.tag(18).array(4).bytes(protected_header.out()).map(0).null().bytes(raw);
    return cose.out();
}

// The hard binding of a JPEG or PNG: the hash of the file's bytes outside [start, start + length)
// (where the manifest sits).
Assertion data_hash_assertion(const Bytes& data_hash, std::uint64_t start, std::uint64_t length) {
    Cbor hash;
    hash.map(5);
    hash.text("exclusions").array(1).map(2).text("start").integer(static_cast<std::int64_t>(start));
    hash.text("length").integer(static_cast<std::int64_t>(length));
    hash.text("name").text("jumbf manifest").text("alg").text("sha256");
    hash.text("hash").bytes(data_hash).text("pad").bytes({});
    return cbor_assertion("c2pa.hash.data", hash.out());
}

// The manifest store: the actions assertion, the hard binding, the claim and its signature.
Bytes manifest_store(const ContentCredentials& credentials, const ParsedIdentity& identity,
                     const std::string& manifest_label, const std::string& instance_id,
                     const Assertion& binding) {
    std::vector<Assertion> assertions;
    const bool has_source = !credentials.source_name.empty();
    Bytes ingredient_hash;
    if (has_source) {
        // The file the face was swapped in, as the parent ingredient: its name, format and hash.
        Cbor ingredient;
        ingredient.map(5).text("relationship").text("parentOf");
        ingredient.text("dc:title").text(credentials.source_name);
        ingredient.text("dc:format").text(credentials.source_format);
        ingredient.text("instanceID").text("sha256:" + credentials.source_sha256);
        ingredient.text("description").text("the source, sha256 " + credentials.source_sha256);
        assertions.push_back(cbor_assertion("c2pa.ingredient.v3", ingredient.out()));
        ingredient_hash =
            sha256(assertions.back().box.data() + 8, assertions.back().box.size() - 8);
    }
    // A source: opened, then edited by a trained model; else made from nothing but the camera.
    Cbor actions;
    actions.map(1).text("actions").array(has_source ? 2 : 1);
    if (has_source) {
        actions.map(2).text("action").text("c2pa.opened").text("parameters").map(1);
        actions.text("ingredients")
            .array(1)
            .map(2)
            .text("url")
            .text("self#jumbf=c2pa.assertions/c2pa.ingredient.v3");
        actions.text("hash").bytes(ingredient_hash);
    }
    actions.map(4).text("action").text(has_source ? "c2pa.edited" : "c2pa.created");
    actions.text("softwareAgent")
        .map(2)
        .text("name")
        .text(credentials.software_name)
        .text("version")
        .text(credentials.software_version);
    actions.text("digitalSourceType").text(kDigitalSourceType);
    actions.text("description").text(credentials.description);
    assertions.push_back(cbor_assertion("c2pa.actions.v2", actions.out()));
    assertions.push_back(binding);

    Cbor claim;
    claim.map(6).text("instanceID").text(instance_id);
    claim.text("claim_generator_info")
        .map(2)
        .text("name")
        .text(credentials.software_name)
        .text("version")
        .text(credentials.software_version);
    claim.text("signature").text("self#jumbf=/c2pa/" + manifest_label + "/c2pa.signature");
    claim.text("created_assertions").array(assertions.size());
    std::vector<Bytes> assertion_boxes;
    for (const Assertion& assertion : assertions) {
        // The hashed URI covers the assertion's superbox without its own 8-byte header.
        claim.map(2).text("url").text("self#jumbf=c2pa.assertions/" + assertion.label);
        claim.text("hash").bytes(sha256(assertion.box.data() + 8, assertion.box.size() - 8));
        assertion_boxes.push_back(assertion.box);
    }
    claim.text("dc:title").text(credentials.title).text("alg").text("sha256");

    const Bytes manifest = superbox(
        "c2ma", manifest_label,
        {superbox("c2as", "c2pa.assertions", assertion_boxes),
         superbox("c2cl", "c2pa.claim.v2", {box("cbor", claim.out())}),
         superbox("c2cs", "c2pa.signature", {box("cbor", cose_sign(claim.out(), identity))})});
    return superbox("c2pa", "c2pa", {manifest});
}

// ---- the containers ----------------------------------------------------------------------------
// JPEG: the store in APP11 segments of at most 64000 bytes of it each; every segment after the
// first repeats the store's 8-byte box header (ISO 19566-5's JPEG embedding).
Bytes jpeg_segments(const Bytes& store) {
    constexpr std::size_t kChunk = 64000;
    Bytes out;
    std::uint32_t sequence = 1;
    for (std::size_t at = 0; at < store.size(); at += kChunk, ++sequence) {
        const std::size_t size = std::min(kChunk, store.size() - at);
        Bytes payload = {'J', 'P', 0x00, 0x01};
        put32(payload, sequence);
        if (at > 0) payload.insert(payload.end(), store.begin(), store.begin() + 8);
        payload.insert(payload.end(), store.begin() + static_cast<std::ptrdiff_t>(at),
                       store.begin() + static_cast<std::ptrdiff_t>(at + size));
        const std::size_t length = payload.size() + 2;
        out.insert(out.end(), {0xFF, 0xEB, static_cast<std::uint8_t>(length >> 8),
                               static_cast<std::uint8_t>(length & 0xFF)});
        out.insert(out.end(), payload.begin(), payload.end());
    }
    return out;
}

std::uint32_t crc32(const std::uint8_t* data, std::size_t size) {
    std::uint32_t crc = 0xFFFFFFFFu;
    for (std::size_t i = 0; i < size; ++i) {
        crc ^= data[i];
        for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return crc ^ 0xFFFFFFFFu;
}

Bytes png_chunk(const Bytes& store) {
    Bytes out;
    put32(out, static_cast<std::uint32_t>(store.size()));
    out.insert(out.end(), {'c', 'a', 'B', 'X'});
    out.insert(out.end(), store.begin(), store.end());
    put32(out, crc32(out.data() + 4, out.size() - 4));
    return out;
}

// ---- ISO BMFF (MP4) ----------------------------------------------------------------------------
struct TopBox {
    std::uint64_t offset = 0, size = 0;
    std::string type;
};

std::vector<TopBox> top_level_boxes(std::ifstream& in, std::uint64_t file_size) {
    std::vector<TopBox> boxes;
    for (std::uint64_t at = 0; at < file_size;) {
        std::uint8_t header[16];
        if (file_size - at < 8) fail("the MP4 is damaged (a box header is cut)");
        in.seekg(static_cast<std::streamoff>(at));
        in.read(reinterpret_cast<char*>(header), 8);
        std::uint64_t size = get_be(header, 4);
        if (size == 1) {
            if (file_size - at < 16) fail("the MP4 is damaged (a box header is cut)");
            in.read(reinterpret_cast<char*>(header + 8), 8);
            size = get_be(header + 8, 8);
        } else if (size == 0) {
            size = file_size - at;  // to the end of the file
        }
        if (size < 8 || size > file_size - at) fail("the MP4 is damaged (a box runs past its end)");
        boxes.push_back({at, size, std::string(reinterpret_cast<char*>(header + 4), 4)});
        at += size;
    }
    if (!in) fail("cannot read the MP4");
    return boxes;
}

// Moves every chunk offset (stco, co64) in a moov box by `delta`, in place.
void shift_chunk_offsets(std::uint8_t* box, std::uint64_t size, std::uint64_t delta) {
    static const std::string kContainers[] = {"moov", "trak", "mdia", "minf", "stbl", "edts"};
    const std::string type(reinterpret_cast<char*>(box + 4), 4);
    if (type == "stco" || type == "co64") {
        const bool wide = type == "co64";
        if (size < 16) fail("the MP4 is damaged (a chunk offset table is cut)");
        const std::uint64_t count = get_be(box + 12, 4);
        const int width = wide ? 8 : 4;
        if (count > (size - 16) / width) fail("the MP4 is damaged (a chunk offset table is cut)");
        for (std::uint64_t i = 0; i < count; ++i) {
            std::uint8_t* entry = box + 16 + i * width;
            const std::uint64_t moved = get_be(entry, width) + delta;
            if (!wide && moved > 0xFFFFFFFFull)
                fail("the MP4's chunk offsets would pass 4 GB once the manifest is added");
            put_be(entry, moved, width);
        }
        return;
    }
    if (std::find(std::begin(kContainers), std::end(kContainers), type) == std::end(kContainers))
        return;
    for (std::uint64_t at = 8; at + 8 <= size;) {
        std::uint64_t child = get_be(box + at, 4);
        if (child == 0) child = size - at;
        if (child < 8 || child > size - at) fail("the MP4 is damaged (a box runs past its parent)");
        shift_chunk_offsets(box + at, child, delta);
        at += child;
    }
}

// The C2PA 'uuid' box holding the manifest store.
Bytes c2pa_uuid_box(const Bytes& store) {
    Bytes payload(std::begin(kBmffUuid), std::end(kBmffUuid));
    payload.insert(payload.end(), {0, 0, 0, 0});  // version 0, flags 0
    const std::string purpose = "manifest";
    payload.insert(payload.end(), purpose.begin(), purpose.end());
    payload.push_back(0);
    payload.insert(payload.end(), 8, 0);  // no auxiliary (Merkle) boxes
    payload.insert(payload.end(), store.begin(), store.end());
    return box("uuid", payload);
}

Assertion bmff_hash_assertion(const Bytes& hash) {
    Cbor cbor;
    cbor.map(4).text("exclusions").array(2);
    cbor.map(2).text("xpath").text("/uuid").text("data").array(1).map(2).text("offset").integer(8);
    cbor.text("value").bytes(Bytes(std::begin(kBmffUuid), std::end(kBmffUuid)));
    cbor.map(1).text("xpath").text("/ftyp");
    cbor.text("alg").text("sha256").text("hash").bytes(hash).text("name").text("jumbf manifest");
    return cbor_assertion("c2pa.hash.bmff.v3", cbor.out());
}

bool ends_with(std::string text, const std::string& suffix) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text.size() >= suffix.size() &&
           text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

SigningIdentity installation_signing_identity(const std::string& dir) {
    const fs::path folder(dir), key_path = folder / "signing-key.pem",
                                cert_path = folder / "signing-cert.pem";
    if (fs::exists(key_path) && fs::exists(cert_path)) {
        SigningIdentity identity = load_signing_identity(cert_path.string(), key_path.string());
        identity.origin = "this installation (" + folder.string() + ")";
        return identity;
    }
    std::error_code error;
    fs::create_directories(folder, error);
    ::chmod(folder.c_str(), 0700);
    if (error && !fs::is_directory(folder))
        fail("cannot make " + folder.string() + " for the signing key: " + error.message());
    SigningIdentity identity = make_identity();
    write_private(key_path, identity.private_key_pem, 0600);
    write_private(cert_path, identity.certificate_chain_pem, 0644);
    identity.origin = "this installation (" + folder.string() + ")";
    return identity;
}

SigningIdentity load_signing_identity(const std::string& certificate_path,
                                      const std::string& key_path) {
    SigningIdentity identity;
    identity.certificate_chain_pem = read_text(certificate_path, "certificate");
    identity.private_key_pem = read_text(key_path, "key");
    identity.origin = certificate_path;
    parse_identity(identity);  // throws with the reason
    return identity;
}

std::string default_signing_dir() {
    if (const char* dir = std::getenv("FACESWAP_SIGNING_DIR"); dir && *dir) return dir;
    if (const char* data = std::getenv("XDG_DATA_HOME"); data && *data)
        return (fs::path(data) / "faceswap" / "signing").string();
    const char* home = std::getenv("HOME");
    return (fs::path(home && *home ? home : ".") / ".local" / "share" / "faceswap" / "signing")
        .string();
}

bool content_credentials_supported_video(const std::string& path) {
    return ends_with(path, ".mp4") || ends_with(path, ".mov") || ends_with(path, ".m4v");
}

void add_content_credentials_to_mp4(const std::string& in_path, const std::string& out_path,
                                    const ContentCredentials& credentials,
                                    const SigningIdentity& identity) {
    const ParsedIdentity parsed = parse_identity(identity);
    std::ifstream in(in_path, std::ios::binary);
    if (!in) fail("cannot read " + in_path);
    std::error_code error;
    const std::uint64_t file_size = fs::file_size(in_path, error);
    if (error) fail("cannot read " + in_path + ": " + error.message());
    const std::vector<TopBox> boxes = top_level_boxes(in, file_size);
    if (boxes.empty() || boxes.front().type != "ftyp") fail("not an MP4 file (no ftyp box first)");
    for (const TopBox& b : boxes) {
        if (b.type == "moof") fail("fragmented MP4 is not signed by this version");
        if (b.type == "uuid") {
            std::uint8_t id[16];
            in.seekg(static_cast<std::streamoff>(b.offset + 8));
            in.read(reinterpret_cast<char*>(id), 16);
            if (in && std::equal(std::begin(id), std::end(id), std::begin(kBmffUuid)))
                fail("the file already carries a C2PA manifest");
            in.clear();
        }
    }
    // The moov box is small (the sample tables): read it, to move its chunk offsets.
    const auto moov =
        std::find_if(boxes.begin(), boxes.end(), [](const TopBox& b) { return b.type == "moov"; });
    if (moov == boxes.end()) fail("the MP4 is damaged (no moov box)");
    Bytes moov_original(moov->size);
    in.seekg(static_cast<std::streamoff>(moov->offset));
    in.read(reinterpret_cast<char*>(moov_original.data()),
            static_cast<std::streamsize>(moov->size));
    if (!in) fail("cannot read the MP4's moov box");
    if (get_be(moov_original.data(), 4) == 1)
        fail("a moov box of 64-bit size is not signed by this version");

    const std::uint64_t ftyp_size = boxes.front().size;
    // Streams [offset, offset + size) of the input through `sink`.
    const auto stream = [&](std::uint64_t offset, std::uint64_t size, const auto& sink) {
        std::vector<char> buffer(1 << 20);
        in.clear();
        in.seekg(static_cast<std::streamoff>(offset));
        while (size > 0) {
            const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(size, buffer.size()));
            in.read(buffer.data(), static_cast<std::streamsize>(n));
            if (!in) fail("cannot read " + in_path);
            sink(reinterpret_cast<const std::uint8_t*>(buffer.data()), n);
            size -= n;
        }
    };
    const std::string manifest_label = "urn:c2pa:" + uuid4();
    const std::string instance_id = "xmp:iid:" + uuid4();
    // The uuid box's size moves every later box and chunk offset, and the hash covers those:
    // settle the size with a placeholder hash first (the hash's value never changes its size).
    std::uint64_t uuid_size =
        c2pa_uuid_box(manifest_store(credentials, parsed, manifest_label, instance_id,
                                     bmff_hash_assertion(Bytes(32, 0))))
            .size();
    Bytes moov_moved, uuid;
    for (int round = 0; round < 4; ++round) {
        moov_moved = moov_original;
        shift_chunk_offsets(moov_moved.data(), moov_moved.size(), uuid_size);
        // The BMFF hash: every top-level box but ftyp and the manifest's, each preceded by its
        // offset in the signed file (a 64-bit big-endian number).
        std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>> digest(EVP_MD_CTX_new());
        EVP_DigestInit_ex(digest.get(), EVP_sha256(), nullptr);
        for (std::size_t i = 1; i < boxes.size(); ++i) {
            std::uint8_t offset[8];
            put_be(offset, boxes[i].offset + uuid_size, 8);
            EVP_DigestUpdate(digest.get(), offset, 8);
            if (boxes[i].type == "moov")
                EVP_DigestUpdate(digest.get(), moov_moved.data(), moov_moved.size());
            else
                stream(boxes[i].offset, boxes[i].size, [&](const std::uint8_t* p, std::size_t n) {
                    EVP_DigestUpdate(digest.get(), p, n);
                });
        }
        Bytes hash(32);
        unsigned int length = 0;
        EVP_DigestFinal_ex(digest.get(), hash.data(), &length);
        uuid = c2pa_uuid_box(manifest_store(credentials, parsed, manifest_label, instance_id,
                                            bmff_hash_assertion(hash)));
        if (uuid.size() == uuid_size) break;
        uuid_size = uuid.size();
    }
    if (uuid.size() != uuid_size) fail("the manifest's size did not settle");

    std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
    if (!out) fail("cannot write " + out_path);
    const auto write = [&](const std::uint8_t* p, std::size_t n) {
        out.write(reinterpret_cast<const char*>(p), static_cast<std::streamsize>(n));
    };
    stream(0, ftyp_size, write);
    write(uuid.data(), uuid.size());
    for (std::size_t i = 1; i < boxes.size(); ++i) {
        if (boxes[i].type == "moov")
            write(moov_moved.data(), moov_moved.size());
        else
            stream(boxes[i].offset, boxes[i].size, write);
    }
    if (!out.flush()) fail("cannot write " + out_path + " (disk full?)");
}

bool content_credentials_supported(const std::string& path) {
    return ends_with(path, ".jpg") || ends_with(path, ".jpeg") || ends_with(path, ".png");
}

std::vector<std::uint8_t> add_content_credentials(const std::vector<std::uint8_t>& file,
                                                  const ContentCredentials& credentials,
                                                  const SigningIdentity& identity) {
    const ParsedIdentity parsed = parse_identity(identity);
    const bool jpeg = file.size() >= 4 && file[0] == 0xFF && file[1] == 0xD8;
    static constexpr std::uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    const bool png = file.size() >= 33 &&
                     std::equal(std::begin(kPngSignature), std::end(kPngSignature), file.begin());
    std::size_t insert_at = 0;
    if (jpeg) {
        insert_at = 2;  // after SOI, and after an APP0 (JFIF) segment that follows it
        if (file.size() >= 6 && file[2] == 0xFF && file[3] == 0xE0)
            insert_at += 2 + (static_cast<std::size_t>(file[4]) << 8 | file[5]);
        if (insert_at > file.size()) fail("the JPEG is damaged (its APP0 segment is cut)");
    } else if (png) {
        // IHDR (13 bytes of data) comes first in every PNG.
        if (std::string(file.begin() + 12, file.begin() + 16) != "IHDR")
            fail("the PNG is damaged (IHDR is not its first chunk)");
        insert_at = 33;
    } else {
        fail("Content Credentials are written into JPEG and PNG files only");
    }
    // The manifest is inserted and nothing else changes, so the bytes outside it are the file.
    const Bytes data_hash = sha256(file.data(), file.size());
    const std::string manifest_label = "urn:c2pa:" + uuid4();
    const std::string instance_id = "xmp:iid:" + uuid4();
    // The exclusion's length is the wrapped store's size, which depends on how many bytes that
    // length takes in CBOR: settle it in a few rounds.
    std::uint64_t length = 0;
    Bytes wrapped;
    for (int round = 0; round < 5; ++round) {
        const Bytes store = manifest_store(credentials, parsed, manifest_label, instance_id,
                                           data_hash_assertion(data_hash, insert_at, length));
        wrapped = jpeg ? jpeg_segments(store) : png_chunk(store);
        if (wrapped.size() == length) break;
        length = wrapped.size();
    }
    if (wrapped.size() != length) fail("the manifest's size did not settle");
    Bytes out(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(insert_at));
    out.insert(out.end(), wrapped.begin(), wrapped.end());
    out.insert(out.end(), file.begin() + static_cast<std::ptrdiff_t>(insert_at), file.end());
    return out;
}

}  // namespace faceswap::capture
