// Our C2PA writer, judged by the official implementation (c2pa-rs 0.92 through the pinned
// @contentauth/c2pa-wasm, tests/c2pa/verify.mjs): signed JPEG and PNG files are Valid, Trusted
// with our certificate as the anchor, Invalid after one changed byte; bad identities are one
// line naming the file.
#include <catch2/catch.hpp>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "faceswap/capture/content_credentials.h"
#include "test_support.h"

namespace fs = std::filesystem;
using faceswap::capture::add_content_credentials;
using faceswap::capture::ContentCredentials;
using faceswap::capture::ContentCredentialsError;
using faceswap::capture::installation_signing_identity;
using faceswap::capture::load_signing_identity;
using faceswap::test::quoted;
using faceswap::test::run_command;

namespace {

std::vector<std::uint8_t> encoded(const std::string& extension) {
    const cv::Mat photo = cv::imread((faceswap::test::media_dir() / "franck_02159.jpg").string());
    REQUIRE(!photo.empty());
    std::vector<std::uint8_t> bytes;
    REQUIRE(cv::imencode(extension, photo, bytes));
    return bytes;
}

void write(const fs::path& path, const std::vector<std::uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
}

ContentCredentials credentials(const std::string& title, bool with_source = false) {
    ContentCredentials c;
    c.title = title;
    if (with_source) {  // the parent ingredient, as convert names its input
        c.source_name = "franck_02159.jpg";
        c.source_format = "image/jpeg";
        c.source_sha256 = std::string(64, 'a');
    }
    c.software_version = "0.1.0";
    c.description = "face swapped with model demo.fsmodel (a2b)";
    return c;
}

// A key and a certificate that expired an hour ago, written as PEM files into `dir`.
void write_expired_identity(const fs::path& dir) {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    REQUIRE(key);
    X509* cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 7);
    X509_gmtime_adj(X509_getm_notBefore(cert), -7200);
    X509_gmtime_adj(X509_getm_notAfter(cert), -3600);
    X509_set_pubkey(cert, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>("expired signer"), -1, -1, 0);
    X509_set_issuer_name(cert, X509_get_subject_name(cert));
    REQUIRE(X509_sign(cert, key, EVP_sha256()) > 0);
    fs::create_directories(dir);
    FILE* out = std::fopen((dir / "signing-cert.pem").c_str(), "w");
    PEM_write_X509(out, cert);
    std::fclose(out);
    out = std::fopen((dir / "signing-key.pem").c_str(), "w");
    PEM_write_PrivateKey(out, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(out);
    X509_free(cert);
    EVP_PKEY_free(key);
}

}  // namespace

TEST_CASE(
    "an expired signing certificate is one line saying so, for the user's and the "
    "installation's own") {
    faceswap::test::TempDir dir;
    write_expired_identity(dir.path() / "expired");
    const std::string cert = (dir.path() / "expired" / "signing-cert.pem").string();
    const std::string key = (dir.path() / "expired" / "signing-key.pem").string();
    CHECK_THROWS_WITH(load_signing_identity(cert, key),
                      Catch::Contains(cert) && Catch::Contains("has expired: renew it"));
    CHECK_THROWS_WITH(installation_signing_identity((dir.path() / "expired").string()),
                      Catch::Contains("has expired"));
}

TEST_CASE(
    "signed JPEG and PNG files are Valid to the official C2PA implementation, Trusted "
    "with our certificate, Invalid after one changed byte") {
    faceswap::test::TempDir dir;
    const auto identity = installation_signing_identity((dir.path() / "signing").string());
    const fs::path certificate = dir.path() / "signing" / "signing-cert.pem";
    struct stat key_status {};
    REQUIRE(::stat((dir.path() / "signing" / "signing-key.pem").c_str(), &key_status) == 0);
    CHECK((key_status.st_mode & 0777) == 0600);  // the key is its owner's alone
    // The second use reads the same identity back.
    CHECK(installation_signing_identity((dir.path() / "signing").string()).certificate_chain_pem ==
          identity.certificate_chain_pem);

    for (const std::string extension : {".jpg", ".png"}) {
        INFO(extension);
        const auto original = encoded(extension);
        const auto signed_file =
            add_content_credentials(original, credentials("out" + extension, true), identity);
        CHECK(signed_file.size() > original.size());
        const fs::path path = dir.path() / ("out" + extension);
        write(path, signed_file);
        // The picture is untouched: it decodes to the same pixels.
        cv::Mat before = cv::imdecode(original, cv::IMREAD_COLOR);
        cv::Mat after = cv::imread(path.string());
        REQUIRE(after.size() == before.size());
        CHECK(cv::norm(before, after, cv::NORM_INF) == 0);

        // Our own reader agrees: valid, trusted with the certificate as the anchor.
        using State = faceswap::capture::CredentialsReading::State;
        const auto ours = faceswap::capture::read_content_credentials(path.string());
        CHECK(ours.state == State::kValid);
        CHECK(ours.signer.find("faceswap on") == 0);
        CHECK(ours.action == "c2pa.edited, compositeWithTrainedAlgorithmicMedia");
        CHECK_THAT(ours.source, Catch::Contains("franck_02159.jpg") &&
                                    Catch::Contains("sha256 " + std::string(64, 'a')));
        CHECK(faceswap::capture::read_content_credentials(path.string(),
                                                          {identity.certificate_chain_pem})
                  .state == State::kTrusted);
        std::string output;
        CHECK(faceswap::test::official_c2pa_verdict(path, &output) == 0);
        INFO(output);
        CHECK_THAT(output, Catch::Contains("\"validation_state\": \"Valid\""));
        CHECK_THAT(output, Catch::Contains("signingCredential.untrusted"));
        // What it says (the hard binding, c2pa.hash.data, is checked but not listed).
        CHECK_THAT(output, Catch::Contains("c2pa.actions.v2") &&
                               Catch::Contains("\"action\": \"c2pa.opened\"") &&
                               Catch::Contains("\"action\": \"c2pa.edited\"") &&
                               Catch::Contains("\"relationship\": \"parentOf\"") &&
                               Catch::Contains("compositeWithTrainedAlgorithmicMedia") &&
                               Catch::Contains("face swapped with model demo.fsmodel") &&
                               Catch::Contains("\"name\": \"faceswap\""));
        CHECK(faceswap::test::official_c2pa_verdict(path, &output, certificate) == 0);
        CHECK_THAT(output, Catch::Contains("\"validation_state\": \"Trusted\""));

        // One changed byte in the picture's data: the hard binding no longer holds.
        auto changed = signed_file;
        changed[changed.size() - 40] ^= 0x01;
        const fs::path tampered = dir.path() / ("changed" + extension);
        write(tampered, changed);
        CHECK(faceswap::test::official_c2pa_verdict(tampered, &output) == 1);
        CHECK_THAT(output, Catch::Contains("\"validation_state\": \"Invalid\""));
        CHECK_THAT(output, Catch::Contains("assertion.dataHash.mismatch"));
        const auto changed_reading = faceswap::capture::read_content_credentials(tampered.string());
        CHECK(changed_reading.state == State::kInvalid);
        CHECK_THAT(changed_reading.reason, Catch::Contains("assertion.dataHash.mismatch"));
        // A byte of the signature itself: the claim's signature no longer matches.
        auto forged = signed_file;
        const std::string text(forged.begin(), forged.end());
        // The signature box's label comes last (the claim names it too, earlier); 200 bytes on
        // is its certificate, inside the signed protected header.
        const auto signature_box = text.rfind("c2pa.signature");
        REQUIRE(signature_box != std::string::npos);
        REQUIRE(signature_box + 200 < forged.size());
        forged[signature_box + 200] ^= 0x01;
        write(dir.path() / ("forged" + extension), forged);
        const auto forged_reading = faceswap::capture::read_content_credentials(
            (dir.path() / ("forged" + extension)).string());
        CHECK(forged_reading.state == State::kInvalid);
    }
}

TEST_CASE(
    "signed MP4 files (moov last and first) are Valid and Trusted to the official C2PA "
    "implementation, still play frame for frame, and are Invalid after one changed byte") {
    faceswap::test::TempDir dir;
    const auto identity = installation_signing_identity((dir.path() / "signing").string());
    const fs::path certificate = dir.path() / "signing" / "signing-cert.pem";
    for (const std::string layout : {"", "-movflags +faststart"}) {
        INFO("ffmpeg " << layout);
        const fs::path original = dir.path() / "in.mp4", signed_path = dir.path() / "out.mp4";
        std::string output;
        REQUIRE(run_command("ffmpeg -v error -y -f lavfi -i testsrc=size=320x240:rate=10 -t 2 "
                            "-c:v libx264 -pix_fmt yuv420p " +
                                layout + " " + quoted(original),
                            &output) == 0);
        faceswap::capture::add_content_credentials_to_mp4(original.string(), signed_path.string(),
                                                          credentials("out.mp4"), identity);
        CHECK(faceswap::test::official_c2pa_verdict(signed_path, &output) == 0);
        INFO(output);
        CHECK_THAT(output, Catch::Contains("\"validation_state\": \"Valid\"") &&
                               Catch::Contains("compositeWithTrainedAlgorithmicMedia"));
        CHECK(faceswap::test::official_c2pa_verdict(signed_path, &output, certificate) == 0);
        CHECK_THAT(output, Catch::Contains("\"validation_state\": \"Trusted\""));
        // The chunk offsets moved with the inserted box: every frame decodes as before.
        cv::VideoCapture before(original.string()), after(signed_path.string());
        cv::Mat a, b;
        int frames = 0;
        while (before.read(a)) {
            REQUIRE(after.read(b));
            CHECK(cv::norm(a, b, cv::NORM_INF) == 0);
            ++frames;
        }
        CHECK(frames == 20);
        CHECK_FALSE(after.read(b));
        // One changed byte in the media data: the BMFF hash no longer holds.
        std::ifstream in(signed_path, std::ios::binary);
        std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
        const std::string text(bytes.begin(), bytes.end());
        const auto mdat = text.find("mdat");
        REQUIRE(mdat != std::string::npos);
        bytes[mdat + 100] ^= 0x01;
        write(dir.path() / "changed.mp4", bytes);
        CHECK(faceswap::test::official_c2pa_verdict(dir.path() / "changed.mp4", &output) == 1);
        CHECK_THAT(output, Catch::Contains("assertion.bmffHash.mismatch"));
    }
    // Not an MP4: refused, nothing written.
    std::ofstream(dir.path() / "not.mp4") << "not a video at all";
    CHECK_THROWS_AS(faceswap::capture::add_content_credentials_to_mp4(
                        (dir.path() / "not.mp4").string(), (dir.path() / "x.mp4").string(),
                        credentials("x.mp4"), identity),
                    ContentCredentialsError);
    CHECK_FALSE(fs::exists(dir.path() / "x.mp4"));
}

TEST_CASE("a missing, unreadable or mismatched signing identity is one line naming the file") {
    faceswap::test::TempDir dir;
    const auto first = installation_signing_identity((dir.path() / "a").string());
    installation_signing_identity((dir.path() / "b").string());
    const std::string cert_a = (dir.path() / "a" / "signing-cert.pem").string();
    const std::string key_b = (dir.path() / "b" / "signing-key.pem").string();
    CHECK_THROWS_WITH(load_signing_identity(cert_a, key_b),
                      Catch::Contains("does not belong to its certificate"));
    CHECK_THROWS_WITH(load_signing_identity((dir.path() / "missing.pem").string(), key_b),
                      Catch::Contains("missing.pem") && Catch::Contains("no such file"));
    std::ofstream(dir.path() / "not.pem") << "not a certificate";
    CHECK_THROWS_WITH(load_signing_identity((dir.path() / "not.pem").string(), key_b),
                      Catch::Contains("no PEM certificate"));
    CHECK_THROWS_WITH(load_signing_identity(cert_a, (dir.path() / "not.pem").string()),
                      Catch::Contains("not a PEM private key"));
    // Another format than JPEG and PNG is refused, the input untouched.
    const std::vector<std::uint8_t> bmp = encoded(".bmp");
    CHECK_THROWS_AS(add_content_credentials(bmp, credentials("x.bmp"), first),
                    ContentCredentialsError);
    // A truncated JPEG header.
    CHECK_THROWS_WITH(
        add_content_credentials({0xFF, 0xD8, 0xFF, 0xE0, 0x40, 0x00}, credentials("x.jpg"), first),
        Catch::Contains("damaged"));
}
