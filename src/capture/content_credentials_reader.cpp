// Our own reader of C2PA manifests (the checks `faceswap verify` and the app's Check make). Built
// for hostile input: every length is checked against what is there, CBOR nesting and counts are
// bounded, and nothing throws past read_content_credentials (tests/fuzz/targets/
// content_credentials.cpp runs it on arbitrary bytes).
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>

#include "c2pa_internal.h"
#include "faceswap/capture/content_credentials.h"

namespace faceswap::capture {
namespace {

using c2pa::Bytes;
using c2pa::Deleter;
using c2pa::get_be;
using c2pa::kBmffUuid;
using c2pa::sha256;

// A failed check: becomes kInvalid with this reason.
struct Invalid {
    std::string reason;
};
[[noreturn]] void invalid(const std::string& reason) {
    throw Invalid{reason};
}

// ---- the file, read at offsets (videos are never read into memory whole) -----------------------
class File {
  public:
    explicit File(const std::string& path) : in_(path, std::ios::binary) {
        std::error_code error;
        size_ = std::filesystem::file_size(path, error);
        if (error || !in_) size_ = 0;
    }
    std::uint64_t size() const { return size_; }
    Bytes read(std::uint64_t offset, std::uint64_t length) {
        if (offset > size_ || length > size_ - offset) invalid("the file is shorter than it says");
        Bytes out(static_cast<std::size_t>(length));
        in_.clear();
        in_.seekg(static_cast<std::streamoff>(offset));
        in_.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(length));
        if (!in_) invalid("the file cannot be read");
        return out;
    }
    // SHA-256 of [offset, offset + length), streamed into `digest`.
    void hash(EVP_MD_CTX* digest, std::uint64_t offset, std::uint64_t length) {
        if (offset > size_ || length > size_ - offset) invalid("the file is shorter than it says");
        std::vector<char> buffer(1 << 20);
        in_.clear();
        in_.seekg(static_cast<std::streamoff>(offset));
        while (length > 0) {
            const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(length, buffer.size()));
            in_.read(buffer.data(), static_cast<std::streamsize>(n));
            if (!in_) invalid("the file cannot be read");
            EVP_DigestUpdate(digest, buffer.data(), n);
            length -= n;
        }
    }

  private:
    std::ifstream in_;
    std::uint64_t size_ = 0;
};

struct Range {
    std::uint64_t start = 0, length = 0;
};

struct TopBox {
    std::uint64_t offset = 0, size = 0;
    std::string type;
    bool c2pa = false;  // the C2PA uuid box
};

// ---- where the manifest store sits in each container -------------------------------------------
struct Found {
    enum class Kind { kNone, kJpeg, kPng, kBmff } kind = Kind::kNone;
    Bytes store;
    Range region;               // JPEG/PNG: the bytes the manifest occupies
    std::vector<TopBox> boxes;  // BMFF: the top-level boxes
};

Found find_in_jpeg(File& file) {
    Found found;
    found.kind = Found::Kind::kJpeg;
    std::uint64_t at = 2, first = 0, end = 0;
    while (at + 4 <= file.size()) {
        const Bytes head = file.read(at, 4);
        if (head[0] != 0xFF) break;
        if (head[1] == 0xDA || head[1] == 0xD9) break;  // the scan: no more metadata
        const std::uint64_t length = get_be(head.data() + 2, 2);
        if (length < 2) invalid("a JPEG segment has an impossible length");
        if (head[1] == 0xEB && length >= 2 + 8) {
            const Bytes segment = file.read(at + 4, length - 2);
            if (segment[0] == 'J' && segment[1] == 'P') {
                if (found.store.empty()) {
                    first = at;
                    found.store.insert(found.store.end(), segment.begin() + 8, segment.end());
                } else {
                    if (at != end) invalid("the manifest's APP11 segments are not contiguous");
                    if (segment.size() < 16) invalid("an APP11 continuation segment is cut");
                    found.store.insert(found.store.end(), segment.begin() + 16, segment.end());
                }
                end = at + 2 + length;
            }
        }
        at += 2 + length;
    }
    found.region = {first, end - first};
    return found;
}

Found find_in_png(File& file) {
    Found found;
    found.kind = Found::Kind::kPng;
    for (std::uint64_t at = 8; at + 12 <= file.size();) {
        const Bytes head = file.read(at, 8);
        const std::uint64_t length = get_be(head.data(), 4);
        if (length > file.size() - at - 12) invalid("a PNG chunk runs past the end of the file");
        if (std::memcmp(head.data() + 4, "caBX", 4) == 0) {
            if (!found.store.empty()) invalid("the PNG carries two manifest chunks");
            found.store = file.read(at + 8, length);
            found.region = {at, length + 12};
        }
        at += length + 12;
    }
    return found;
}

Found find_in_bmff(File& file) {
    Found found;
    found.kind = Found::Kind::kBmff;
    for (std::uint64_t at = 0; at < file.size();) {
        if (file.size() - at < 8) invalid("an MP4 box header is cut");
        Bytes head = file.read(at, 8);
        std::uint64_t size = get_be(head.data(), 4), header = 8;
        if (size == 1) {
            if (file.size() - at < 16) invalid("an MP4 box header is cut");
            size = get_be(file.read(at + 8, 8).data(), 8);
            header = 16;
        } else if (size == 0) {
            size = file.size() - at;
        }
        if (size < header || size > file.size() - at) invalid("an MP4 box runs past its end");
        TopBox box{at, size, std::string(reinterpret_cast<char*>(head.data() + 4), 4), false};
        if (box.type == "uuid" && size >= header + 16 + 4 + 9 + 8) {
            const Bytes id = file.read(at + header, 16);
            if (std::equal(id.begin(), id.end(), std::begin(kBmffUuid))) {
                box.c2pa = true;
                // version and flags (4), the purpose ("manifest\0"), the auxiliary offset (8)
                const Bytes rest = file.read(at + header + 16, size - header - 16);
                const auto nul = std::find(rest.begin() + 4, rest.end(), 0);
                if (nul == rest.end() || std::string(rest.begin() + 4, nul) != "manifest")
                    invalid("the C2PA uuid box is not a manifest box");
                const auto store_at = static_cast<std::size_t>(nul - rest.begin()) + 1 + 8;
                if (store_at > rest.size()) invalid("the C2PA uuid box is cut");
                if (!found.store.empty()) invalid("the MP4 carries two manifest boxes");
                found.store.assign(rest.begin() + static_cast<std::ptrdiff_t>(store_at),
                                   rest.end());
            }
        }
        found.boxes.push_back(box);
        at += size;
    }
    return found;
}

// Whether the bytes hold a C2PA manifest store's description box anywhere (the JUMBF type
// 'c2pa' followed by its UUID suffix): a damaged file with one is invalid, without one it has none.
bool content_credentials_in_file_quick(File& file) {
    Bytes store_type = {'c', '2', 'p', 'a'};
    store_type.insert(store_type.end(), std::begin(c2pa::kJumbfTypeSuffix),
                      std::end(c2pa::kJumbfTypeSuffix));
    const std::uint64_t length = std::min<std::uint64_t>(file.size(), 1 << 24);
    const Bytes bytes = file.read(0, length);
    return std::search(bytes.begin(), bytes.end(), store_type.begin(), store_type.end()) !=
           bytes.end();
}

Found find_store(File& file) {
    if (file.size() < 12) return {};
    const Bytes head = file.read(0, 12);
    static constexpr std::uint8_t kPng[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    const bool jpeg = head[0] == 0xFF && head[1] == 0xD8;
    const bool png = std::equal(std::begin(kPng), std::end(kPng), head.begin());
    const bool bmff = std::memcmp(head.data() + 4, "ftyp", 4) == 0;
    try {
        if (jpeg) return find_in_jpeg(file);
        if (png) return find_in_png(file);
        if (bmff) return find_in_bmff(file);
    } catch (const Invalid&) {
        // A damaged container: a manifest in it is one that cannot be checked; without one, the
        // file simply has none (its damage is the decoder's business, not provenance's).
        if (content_credentials_in_file_quick(file)) throw;
    }
    return {};
}

// ---- JUMBF --------------------------------------------------------------------------------------
struct Box {
    std::string type;
    const std::uint8_t* payload = nullptr;
    std::size_t size = 0;
};

std::vector<Box> boxes_in(const std::uint8_t* p, std::size_t n) {
    std::vector<Box> boxes;
    for (std::size_t at = 0; at < n;) {
        if (n - at < 8) invalid("a JUMBF box header is cut");
        const std::uint64_t size = get_be(p + at, 4);
        if (size < 8 || size > n - at) invalid("a JUMBF box runs past its parent");
        boxes.push_back({std::string(reinterpret_cast<const char*>(p + at + 4), 4), p + at + 8,
                         static_cast<std::size_t>(size - 8)});
        at += static_cast<std::size_t>(size);
    }
    return boxes;
}

// A superbox: its description's type code (the UUID's first four bytes), label and children.
struct Superbox {
    std::string code, label;
    std::vector<Box> children;  // after the description
    const std::uint8_t* payload = nullptr;
    std::size_t size = 0;
};

Superbox superbox(const Box& box) {
    if (box.type != "jumb") invalid("expected a JUMBF superbox, found '" + box.type + "'");
    Superbox s;
    s.payload = box.payload;
    s.size = box.size;
    std::vector<Box> children = boxes_in(box.payload, box.size);
    if (children.empty() || children.front().type != "jumd" || children.front().size < 17)
        invalid("a JUMBF superbox has no description");
    const Box& d = children.front();
    s.code.assign(reinterpret_cast<const char*>(d.payload), 4);
    if (d.payload[16] & 0x02) {  // labelled
        const auto* end =
            static_cast<const std::uint8_t*>(std::memchr(d.payload + 17, 0, d.size - 17));
        if (!end) invalid("a JUMBF label is not terminated");
        s.label.assign(reinterpret_cast<const char*>(d.payload + 17),
                       reinterpret_cast<const char*>(end));
    }
    s.children.assign(children.begin() + 1, children.end());
    return s;
}

// ---- CBOR (RFC 8949): the subset C2PA uses, bounded ---------------------------------------------
struct Value {
    enum class Kind { kUnsigned, kNegative, kBytes, kText, kArray, kMap, kTag, kSimple } kind;
    std::uint64_t number = 0;  // the integer, the tag number, the simple value
    std::string data;          // bytes and text
    std::vector<Value> items;  // array items; map keys and values alternate; the tagged value
    const Value* get(const std::string& key) const {
        if (kind != Kind::kMap) return nullptr;
        for (std::size_t i = 0; i + 1 < items.size(); i += 2)
            if (items[i].kind == Kind::kText && items[i].data == key) return &items[i + 1];
        return nullptr;
    }
    const Value* get(std::int64_t key) const {
        if (kind != Kind::kMap) return nullptr;
        for (std::size_t i = 0; i + 1 < items.size(); i += 2) {
            const Value& k = items[i];
            const bool match =
                key >= 0
                    ? k.kind == Kind::kUnsigned && k.number == static_cast<std::uint64_t>(key)
                    : k.kind == Kind::kNegative && k.number == static_cast<std::uint64_t>(-1 - key);
            if (match) return &items[i + 1];
        }
        return nullptr;
    }
    std::string text(const std::string& key) const {
        const Value* v = get(key);
        return v && v->kind == Kind::kText ? v->data : std::string();
    }
};

class CborReader {
  public:
    CborReader(const std::uint8_t* p, std::size_t n) : p_(p), n_(n) {}
    Value read(int depth = 0) {
        if (depth > 32) invalid("CBOR nested too deeply");
        if (at_ >= n_) invalid("CBOR is cut");
        const std::uint8_t initial = p_[at_++];
        const int major = initial >> 5, info = initial & 0x1F;
        std::uint64_t arg = info;
        if (info >= 24 && info <= 27) {
            const int width = 1 << (info - 24);
            if (n_ - at_ < static_cast<std::size_t>(width)) invalid("CBOR is cut");
            arg = get_be(p_ + at_, width);
            at_ += static_cast<std::size_t>(width);
        } else if (info > 27) {
            if (major == 7 && info == 31) invalid("CBOR break outside an indefinite item");
            invalid("indefinite-length CBOR is not used by C2PA manifests");
        }
        Value v{static_cast<Value::Kind>(major), arg, {}, {}};
        switch (major) {
            case 2:
            case 3:
                if (arg > n_ - at_) invalid("CBOR string runs past its end");
                v.data.assign(reinterpret_cast<const char*>(p_ + at_),
                              static_cast<std::size_t>(arg));
                at_ += static_cast<std::size_t>(arg);
                break;
            case 4:
            case 5: {
                const std::uint64_t count = major == 5 ? arg * 2 : arg;
                if (arg > n_ - at_ || count > n_ - at_) invalid("CBOR count exceeds the data");
                v.items.reserve(static_cast<std::size_t>(count));
                for (std::uint64_t i = 0; i < count; ++i) v.items.push_back(read(depth + 1));
                break;
            }
            case 6:
                v.items.push_back(read(depth + 1));
                break;
            case 7:
                // simple values (false, true, null) and floats: the value is in `number`
                break;
            default:
                break;
        }
        return v;
    }
    bool at_end() const { return at_ == n_; }

  private:
    const std::uint8_t* p_;
    std::size_t n_, at_ = 0;
};

Value cbor_of(const Box& box) {
    if (box.type != "cbor") invalid("expected a CBOR content box, found '" + box.type + "'");
    CborReader reader(box.payload, box.size);
    Value v = reader.read();
    if (!reader.at_end()) invalid("a CBOR box has bytes after its value");
    return v;
}

using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Digest = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;

Cert certificate_of(const std::string& der) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    Cert cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    if (!cert) invalid("the signing certificate cannot be read");
    return cert;
}

std::string subject_of(X509* cert) {
    std::string out;
    for (int nid : {NID_commonName, NID_organizationName}) {
        char text[256] = {};
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), nid, text, sizeof text) > 0)
            out += std::string(out.empty() ? "" : ", ") + text;
    }
    return out;
}

// ---- the checks ---------------------------------------------------------------------------------
void check_signature(const Value& cose, const Bytes& claim, CredentialsReading& reading,
                     const std::vector<std::string>& anchors) {
    const Value* sign1 = &cose;
    if (sign1->kind == Value::Kind::kTag) {
        if (sign1->number != 18 || sign1->items.empty()) invalid("the signature is not COSE_Sign1");
        sign1 = &sign1->items.front();
    }
    if (sign1->kind != Value::Kind::kArray || sign1->items.size() != 4 ||
        sign1->items[0].kind != Value::Kind::kBytes || sign1->items[3].kind != Value::Kind::kBytes)
        invalid("the signature is not a COSE_Sign1 structure");
    const std::string& protected_bytes = sign1->items[0].data;
    CborReader header_reader(reinterpret_cast<const std::uint8_t*>(protected_bytes.data()),
                             protected_bytes.size());
    const Value header = header_reader.read();
    const Value* alg = header.get(std::int64_t{1});
    if (!alg || alg->kind != Value::Kind::kNegative || alg->number != 6)
        invalid("the signature's algorithm is not ES256 (the only one this version checks)");
    const Value* chain = header.get(std::int64_t{33});
    if (!chain) chain = sign1->items[1].get(std::int64_t{33});
    if (!chain) invalid("the signature carries no certificate (x5chain)");
    std::vector<std::string> ders;
    if (chain->kind == Value::Kind::kBytes) ders.push_back(chain->data);
    for (const Value& item :
         chain->kind == Value::Kind::kArray ? chain->items : std::vector<Value>{})
        if (item.kind == Value::Kind::kBytes) ders.push_back(item.data);
    if (ders.empty()) invalid("the signature's certificate chain is empty");
    const Cert leaf = certificate_of(ders.front());
    reading.signer = subject_of(leaf.get());

    // Sig_structure = ["Signature1", protected, h'', the claim], as the writer signs it.
    Bytes to_verify = {0x84, 0x6A};
    const std::string context = "Signature1";
    to_verify.insert(to_verify.end(), context.begin(), context.end());
    const auto bstr_head = [&](std::size_t n) {
        if (n < 24) {
            to_verify.push_back(static_cast<std::uint8_t>(0x40 | n));
        } else if (n < 0x100) {
            to_verify.insert(to_verify.end(), {0x58, static_cast<std::uint8_t>(n)});
        } else if (n < 0x10000) {
            to_verify.insert(to_verify.end(), {0x59, static_cast<std::uint8_t>(n >> 8),
                                               static_cast<std::uint8_t>(n)});
        } else {
            to_verify.push_back(0x5A);
            for (int i = 3; i >= 0; --i)
                to_verify.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
        }
    };
    bstr_head(protected_bytes.size());
    to_verify.insert(to_verify.end(), protected_bytes.begin(), protected_bytes.end());
    bstr_head(0);
    bstr_head(claim.size());
    to_verify.insert(to_verify.end(), claim.begin(), claim.end());

    const std::string& raw = sign1->items[3].data;
    if (raw.size() != 64) invalid("the ES256 signature is not 64 bytes (r and s)");
    std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>> signature(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr);
    BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr);
    ECDSA_SIG_set0(signature.get(), r, s);
    unsigned char* der = nullptr;
    const int der_size = i2d_ECDSA_SIG(signature.get(), &der);
    EVP_PKEY* key = X509_get0_pubkey(leaf.get());
    Digest verify(EVP_MD_CTX_new());
    const bool good =
        der_size > 0 && key &&
        EVP_DigestVerifyInit(verify.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
        EVP_DigestVerify(verify.get(), der, static_cast<std::size_t>(der_size), to_verify.data(),
                         to_verify.size()) == 1;
    OPENSSL_free(der);
    if (!good) invalid("the claim's signature does not match (claimSignature.mismatch)");
    if (X509_cmp_current_time(X509_get0_notAfter(leaf.get())) < 0)
        invalid("the signing certificate has expired (signingCredential.expired)");
    if (X509_cmp_current_time(X509_get0_notBefore(leaf.get())) > 0)
        invalid("the signing certificate is not valid yet");

    reading.state = CredentialsReading::State::kValid;
    for (const std::string& pem : anchors) {
        std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>> bio(
            BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
        while (Cert anchor{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) {
            const bool same = X509_cmp(anchor.get(), leaf.get()) == 0;
            const bool issued = X509_check_issued(anchor.get(), leaf.get()) == X509_V_OK &&
                                X509_verify(leaf.get(), X509_get0_pubkey(anchor.get())) == 1;
            if (same || issued) reading.state = CredentialsReading::State::kTrusted;
        }
    }
}

void check_binding(const Superbox& assertion, const Value& body, File& file, const Found& found) {
    const Value* hash = body.get("hash");
    const Value* exclusions = body.get("exclusions");
    if (!hash || hash->kind != Value::Kind::kBytes || hash->data.size() != 32)
        invalid("the hard binding carries no SHA-256 hash");
    if (body.text("alg") != "" && body.text("alg") != "sha256")
        invalid("the hard binding's algorithm is not SHA-256");
    Digest digest(EVP_MD_CTX_new());
    EVP_DigestInit_ex(digest.get(), EVP_sha256(), nullptr);
    if (assertion.label == "c2pa.hash.data") {
        if (found.kind == Found::Kind::kBmff) invalid("an MP4 bound by a data hash");
        std::vector<Range> ranges;
        if (exclusions && exclusions->kind == Value::Kind::kArray)
            for (const Value& e : exclusions->items) {
                const Value* start = e.get("start");
                const Value* length = e.get("length");
                if (!start || !length || start->kind != Value::Kind::kUnsigned ||
                    length->kind != Value::Kind::kUnsigned)
                    invalid("a data-hash exclusion is malformed");
                ranges.push_back({start->number, length->number});
            }
        std::sort(ranges.begin(), ranges.end(),
                  [](const Range& a, const Range& b) { return a.start < b.start; });
        // The manifest's own bytes must be excluded: else the hash could not have been made.
        const bool covers = std::any_of(ranges.begin(), ranges.end(), [&](const Range& r) {
            return r.start == found.region.start && r.length == found.region.length;
        });
        if (!covers) invalid("the data hash does not exclude the manifest");
        std::uint64_t at = 0;
        for (const Range& r : ranges) {
            if (r.start < at || r.start > file.size() || r.length > file.size() - r.start)
                invalid("a data-hash exclusion is outside the file");
            file.hash(digest.get(), at, r.start - at);
            at = r.start + r.length;
        }
        file.hash(digest.get(), at, file.size() - at);
    } else {  // c2pa.hash.bmff.v2 / v3: every top-level box not excluded, after its offset
        if (found.kind != Found::Kind::kBmff) invalid("a BMFF hash on a file that is not MP4");
        std::vector<std::string> excluded;
        if (exclusions && exclusions->kind == Value::Kind::kArray)
            for (const Value& e : exclusions->items) excluded.push_back(e.text("xpath"));
        for (const TopBox& box : found.boxes) {
            const std::string path = "/" + box.type;
            const bool out = std::find(excluded.begin(), excluded.end(), path) != excluded.end() &&
                             (box.type != "uuid" || box.c2pa);
            if (out) continue;
            std::uint8_t offset[8];
            for (int i = 0; i < 8; ++i)
                offset[i] = static_cast<std::uint8_t>(box.offset >> (8 * (7 - i)));
            EVP_DigestUpdate(digest.get(), offset, 8);
            file.hash(digest.get(), box.offset, box.size);
        }
    }
    Bytes computed(32);
    unsigned int length = 0;
    EVP_DigestFinal_ex(digest.get(), computed.data(), &length);
    if (std::memcmp(computed.data(), hash->data.data(), 32) != 0)
        invalid(
            found.kind == Found::Kind::kBmff
                ? "the video's bytes do not match its manifest (assertion.bmffHash.mismatch)"
                : "the picture's bytes do not match its manifest (assertion.dataHash.mismatch)");
}

void check(File& file, const Found& found, CredentialsReading& reading,
           const std::vector<std::string>& anchors) {
    const std::vector<Box> top = boxes_in(found.store.data(), found.store.size());
    if (top.size() != 1) invalid("the manifest store is not one JUMBF superbox");
    const Superbox store = superbox(top.front());
    if (store.code != "c2pa") invalid("not a C2PA manifest store");
    if (store.children.empty()) invalid("the manifest store holds no manifest");
    // The active manifest is the last one.
    const Superbox manifest = superbox(store.children.back());
    if (manifest.code != "c2ma" && manifest.code != "c2um")
        invalid("the manifest store's last box is not a manifest");
    std::optional<Superbox> assertions, claim_box, signature_box;
    for (const Box& child : manifest.children) {
        Superbox s = superbox(child);
        if (s.code == "c2as") assertions = s;
        if (s.code == "c2cl") claim_box = s;
        if (s.code == "c2cs") signature_box = s;
    }
    if (!assertions || !claim_box || !signature_box)
        invalid("the manifest lacks its assertions, claim or signature");
    if (claim_box->children.empty() || signature_box->children.empty())
        invalid("the claim or the signature is empty");
    const Box& claim_cbor = claim_box->children.front();
    const Value claim = cbor_of(claim_cbor);
    if (claim.kind != Value::Kind::kMap) invalid("the claim is not a CBOR map");
    const Bytes claim_bytes(claim_cbor.payload, claim_cbor.payload + claim_cbor.size);

    // The signature first: nothing the claim says counts before it is known to be signed.
    check_signature(cbor_of(signature_box->children.front()), claim_bytes, reading, anchors);

    if (const Value* info = claim.get("claim_generator_info")) {
        const Value* first =
            info->kind == Value::Kind::kArray && !info->items.empty() ? &info->items.front() : info;
        reading.generator = first->text("name") + " " + first->text("version");
    } else {
        reading.generator = claim.text("claim_generator");
    }

    // Every assertion the claim lists, hashed as it was signed; and the hard binding.
    std::vector<const Value*> listed;
    for (const char* key : {"created_assertions", "gathered_assertions", "assertions"})
        if (const Value* list = claim.get(key); list && list->kind == Value::Kind::kArray)
            for (const Value& item : list->items) listed.push_back(&item);
    bool bound = false;
    for (const Value* uri : listed) {
        const std::string url = uri->text("url");
        const Value* hash = uri->get("hash");
        const std::string prefix = "self#jumbf=c2pa.assertions/";
        const auto slash = url.rfind('/');
        if (!hash || hash->kind != Value::Kind::kBytes || slash == std::string::npos)
            invalid("the claim lists a malformed assertion reference");
        const std::string label = url.substr(slash + 1);
        std::optional<Superbox> found_assertion;
        for (const Box& child : assertions->children) {
            Superbox s = superbox(child);
            if (s.label == label) found_assertion = s;
        }
        if (!found_assertion) invalid("the claim lists an assertion that is missing: " + label);
        const Bytes digest = sha256(found_assertion->payload, found_assertion->size);
        if (hash->data.size() != 32 || std::memcmp(digest.data(), hash->data.data(), 32) != 0)
            invalid("the assertion " + label + " was changed (assertion.hashedURI.mismatch)");
        if (found_assertion->children.empty()) continue;
        if (label == "c2pa.hash.data" || label.rfind("c2pa.hash.bmff", 0) == 0) {
            check_binding(*found_assertion, cbor_of(found_assertion->children.front()), file,
                          found);
            bound = true;
        } else if (label.rfind("c2pa.ingredient", 0) == 0 && reading.source.empty()) {
            const Value body = cbor_of(found_assertion->children.front());
            if (body.text("relationship") == "parentOf") {
                reading.source = body.text("dc:title");
                if (!body.text("description").empty())
                    reading.source += " (" + body.text("description") + ")";
            }
        } else if (label.rfind("c2pa.actions", 0) == 0 && reading.action.empty()) {
            const Value body = cbor_of(found_assertion->children.front());
            const Value* actions = body.get("actions");
            if (actions && actions->kind == Value::Kind::kArray && !actions->items.empty()) {
                // The action that says how the content was made (after an "opened", say).
                const Value* chosen = &actions->items.front();
                for (const Value& a : actions->items)
                    if (!a.text("digitalSourceType").empty()) {
                        chosen = &a;
                        break;
                    }
                const Value& first = *chosen;
                reading.action = first.text("action");
                const std::string source = first.text("digitalSourceType");
                const auto last = source.rfind('/');
                if (!source.empty())
                    reading.action +=
                        ", " + (last == std::string::npos ? source : source.substr(last + 1));
                reading.description = first.text("description");
            }
        }
    }
    if (!bound) invalid("the manifest has no hard binding to the file's bytes");
}

}  // namespace

CredentialsReading read_content_credentials(const std::string& path,
                                            const std::vector<std::string>& trust_anchors) {
    CredentialsReading reading;
    try {
        File file(path);
        if (file.size() == 0) return reading;
        Found found = find_store(file);
        if (found.store.empty()) return reading;
        reading.bytes = found.store.size();
        check(file, found, reading, trust_anchors);
    } catch (const Invalid& e) {
        reading.state = CredentialsReading::State::kInvalid;
        reading.reason = e.reason;
    } catch (const std::exception& e) {  // out of memory on a forged size, and the like
        reading.state = CredentialsReading::State::kInvalid;
        reading.reason = std::string("the manifest cannot be read: ") + e.what();
    }
    return reading;
}

}  // namespace faceswap::capture
