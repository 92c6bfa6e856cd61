// Signed C2PA Content Credentials in the photos the product writes (issue 27; docs/provenance.md,
// and docs/c2pa-notes.md for the byte layouts, hash rules and certificate profile the official
// implementation accepts). Our own writer: a manifest store of one manifest (an actions
// assertion saying the face was swapped by a trained model, with the software agent, and the hard
// binding to the file's bytes), a v2 claim, and an ES256 COSE signature made with OpenSSL.
//
//   SigningIdentity me = installation_signing_identity(dir);  // made on first use
//   bytes = add_content_credentials(bytes, {title, ...}, me);  // JPEG or PNG, in memory
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace faceswap::capture {

class ContentCredentialsError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct SigningIdentity {
    std::string private_key_pem;        // an EC P-256 key (ES256)
    std::string certificate_chain_pem;  // the signer's certificate first, then its issuers
    std::string origin;                 // where it came from, for messages
};

// The installation's own identity in `dir` (signing-key.pem, readable by its owner only, and
// signing-cert.pem, a self-signed certificate of the profile C2PA asks for: v3, CA:FALSE,
// digitalSignature, emailProtection, subject and authority key ids), made on first use. Throws
// ContentCredentialsError when they cannot be read or made.
SigningIdentity installation_signing_identity(const std::string& dir);

// The user's own certificate chain and key (PEM files). Throws ContentCredentialsError naming the
// file and what to do: missing, unreadable, not PEM, not an EC P-256 key, a key that does not
// match the certificate, a certificate outside its validity period.
SigningIdentity load_signing_identity(const std::string& certificate_path,
                                      const std::string& key_path);

struct ContentCredentials {
    std::string title;  // the file's name
    std::string software_name = "faceswap";
    std::string software_version;
    std::string description;  // e.g. "face swapped with model demo.fsmodel (a2b)"
    // The file the face was swapped in (the parent ingredient: "c2pa.opened", then
    // "c2pa.edited"); empty: made from a camera ("c2pa.created").
    std::string source_name, source_format, source_sha256;  // format: "image/jpeg", "video/mp4"
};

// Who signs a written file and what its credentials say (the title is set to the file's name).
struct ContentSigning {
    SigningIdentity identity;
    ContentCredentials credentials;
};

// Where the installation's identity lives: $FACESWAP_SIGNING_DIR, else
// $XDG_DATA_HOME/faceswap/signing, else ~/.local/share/faceswap/signing.
std::string default_signing_dir();

// Whether add_content_credentials() can sign a file of this name (JPEG and PNG).
bool content_credentials_supported(const std::string& path);

// The file with a signed manifest store added (JPEG: APP11 segments after SOI and APP0; PNG: a
// caBX chunk after IHDR). The rest of the file is unchanged, so its hard binding is the hash of
// `file` itself. Throws ContentCredentialsError for another format or a damaged file.
std::vector<std::uint8_t> add_content_credentials(const std::vector<std::uint8_t>& file,
                                                  const ContentCredentials& credentials,
                                                  const SigningIdentity& identity);

// An MP4 (or another ISO BMFF file: .mov, .m4v) with a signed manifest store added in a top-level
// 'uuid' box after 'ftyp', its chunk offsets (stco, co64) moved by that box's size, and the hard
// binding a BMFF hash (c2pa.hash.bmff.v3) of every other top-level box. Reads `in_path` as it
// goes (the media data is never all in memory) and writes `out_path`; throws
// ContentCredentialsError for a file it cannot sign (fragmented, damaged) and leaves `in_path`.
void add_content_credentials_to_mp4(const std::string& in_path, const std::string& out_path,
                                    const ContentCredentials& credentials,
                                    const SigningIdentity& identity);

// Whether add_content_credentials_to_mp4() takes a file of this name (.mp4, .mov, .m4v).
bool content_credentials_supported_video(const std::string& path);

// What a file's Content Credentials say, checked by our own reader (not a full C2PA validator:
// it checks what this product writes and what a verifier must: the hashed assertions, the hard
// binding, the ES256 signature over the claim, the signer certificate's dates, and trust).
struct CredentialsReading {
    enum class State { kNone, kInvalid, kValid, kTrusted };
    State state = State::kNone;
    std::string reason;     // kInvalid: the first check that failed
    std::string signer;     // the certificate's subject ("faceswap on HOST, faceswap installation")
    std::string generator;  // the claim generator ("faceswap 0.1.0")
    std::string action;     // the first action and its digital source type
    std::string description;
    std::string source;     // the parent ingredient: its name and what it says of itself
    std::size_t bytes = 0;  // of manifest data in the file
};

// Reads and checks the manifest of a JPEG, PNG or MP4 file. `trust_anchors` are PEM
// certificates: a signer that is one of them, or is issued by one, is kTrusted. Never throws for
// a damaged or forged file (it is kInvalid with the reason); kNone when the file has none or
// cannot be read.
CredentialsReading read_content_credentials(const std::string& path,
                                            const std::vector<std::string>& trust_anchors = {});

}  // namespace faceswap::capture
