// Face pack reading and writing (plain C++; see faceswap/face_pack.h for the layout).
#include "faceswap/face_pack.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace faceswap {
namespace {

constexpr char kMagic[8] = {'F', 'S', 'P', 'A', 'C', 'K', '\0', '\0'};
constexpr std::uint32_t kMaxFaces = 10'000'000;
constexpr std::uint32_t kMaxNameLength = 4096;

Error pack_error(const std::string& path, const std::string& what) {
    return Error(ErrorCode::kInvalidArgument,
                 path + ": " + what + "; make the pack again with 'faceswap pack'");
}

class PackReader {
  public:
    PackReader(std::ifstream& in, const std::string& path) : in_(in), path_(path) {}
    template <typename T>
    T value(const char* what) {
        T v{};
        bytes(reinterpret_cast<char*>(&v), sizeof v, what);
        return v;
    }
    void bytes(char* out, std::size_t n, const std::string& what) {
        if (n > 0 && !in_.read(out, static_cast<std::streamsize>(n)))
            throw pack_error(path_, "truncated: the file ends inside " + what);
    }

  private:
    std::ifstream& in_;
    const std::string& path_;
};

template <typename T>
void put(std::string& out, T v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

}  // namespace

bool is_face_pack(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    char magic[sizeof kMagic];
    return in.read(magic, sizeof magic) && std::memcmp(magic, kMagic, sizeof kMagic) == 0;
}

FaceSet read_face_pack(const std::string& path, const FaceDecoder& decoder) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(ErrorCode::kInvalidArgument,
                    path + " cannot be opened; make it with 'faceswap pack SET_DIR " + path + "'");
    PackReader read(in, path);
    char magic[sizeof kMagic];
    if (!in.read(magic, sizeof magic) || std::memcmp(magic, kMagic, sizeof kMagic) != 0)
        throw pack_error(path, "not a face pack (no FSPACK magic)");
    const auto version = read.value<std::uint32_t>("the header");
    if (version == 0 || version > kFacePackVersion)
        throw Error(ErrorCode::kInvalidArgument,
                    path + ": face pack version " + std::to_string(version) +
                        " is not supported (this faceswap reads version " +
                        std::to_string(kFacePackVersion) + "); update faceswap or pack again");
    const auto encoding = read.value<std::uint32_t>("the header");
    const auto size = read.value<std::uint32_t>("the header");
    const auto count = read.value<std::uint32_t>("the header");
    const auto coverage = read.value<float>("the header");
    const auto name_length = read.value<std::uint32_t>("the header");
    if (encoding > 1) throw pack_error(path, "unknown face encoding " + std::to_string(encoding));
    if (size < 16 || size > 2048)
        throw pack_error(path, "implausible face size " + std::to_string(size));
    if (count > kMaxFaces)
        throw pack_error(path, "implausible face count " + std::to_string(count));
    if (!(coverage > 0.f && coverage < 4.f)) throw pack_error(path, "implausible coverage");
    if (name_length > kMaxNameLength) throw pack_error(path, "implausible name length");
    if (encoding == 1 && !decoder)
        throw Error(ErrorCode::kInvalidArgument,
                    path +
                        " holds JPEG faces and this program has no JPEG decoder; convert it "
                        "with scripts/fspack_to_raw.py first");
    FaceSet set;
    set.name.resize(name_length);
    read.bytes(set.name.data(), name_length, "the identity name");
    set.size = static_cast<int>(size);
    set.coverage = coverage;
    const std::size_t face_bytes = static_cast<std::size_t>(size) * size * 3;
    // Each face takes at least its landmarks and byte count in the file (and a raw one its
    // pixels): a count the file cannot hold is refused before anything is sized by it.
    const std::uint64_t least_per_face = sizeof(float) * 2 * kLandmarkCount +
                                         sizeof(std::uint32_t) + (encoding == 0 ? face_bytes : 1);
    std::error_code file_size_error;
    const std::uint64_t file_bytes = std::filesystem::file_size(path, file_size_error);
    if (!file_size_error && static_cast<std::uint64_t>(count) * least_per_face > file_bytes)
        throw pack_error(path, "is truncated: its " + std::to_string(file_bytes) +
                                   " bytes cannot hold the " + std::to_string(count) +
                                   " faces it declares");
    if (encoding == 0) set.rgb.reserve(face_bytes * count);  // in the file: bounded by its size
    set.landmarks.reserve(count);
    std::vector<std::uint8_t> stored, decoded;
    for (std::uint32_t i = 0; i < count; ++i) {
        const std::string which = "face " + std::to_string(i + 1) + " of " + std::to_string(count);
        float points[2 * kLandmarkCount];
        read.bytes(reinterpret_cast<char*>(points), sizeof points, which);
        Landmarks68 landmarks;
        for (int k = 0; k < kLandmarkCount; ++k) landmarks[k] = {points[2 * k], points[2 * k + 1]};
        const auto length = read.value<std::uint32_t>(which.c_str());
        if (encoding == 0 && length != face_bytes)
            throw pack_error(path, which + " holds " + std::to_string(length) + " bytes, not the " +
                                       std::to_string(face_bytes) + " of a raw face");
        if (length > face_bytes * 2 + 65536)
            throw pack_error(
                path, which + " declares an implausible " + std::to_string(length) + " bytes");
        stored.resize(length);
        read.bytes(reinterpret_cast<char*>(stored.data()), length, which);
        if (encoding == 0) {
            set.rgb.insert(set.rgb.end(), stored.begin(), stored.end());
        } else {
            decoded.clear();
            if (!decoder(stored.data(), stored.size(), set.size, decoded) ||
                decoded.size() != face_bytes)
                throw pack_error(
                    path, which + " does not decode to a " + std::to_string(size) + " px face");
            set.rgb.insert(set.rgb.end(), decoded.begin(), decoded.end());
        }
        set.landmarks.push_back(landmarks);
    }
    if (in.peek() != std::char_traits<char>::eof())
        throw pack_error(path, "has bytes after its last face");
    return set;
}

void write_face_pack(const FaceSet& set, const std::string& path, FacePackEncoding encoding,
                     const FaceEncoder& encoder) {
    const std::size_t face_bytes = static_cast<std::size_t>(set.size) * set.size * 3;
    if (set.rgb.size() != face_bytes * set.landmarks.size())
        throw Error(ErrorCode::kInvalidArgument,
                    "face set '" + set.name + "' pixel data has the wrong size");
    if (encoding == FacePackEncoding::kJpeg && !encoder)
        throw Error(ErrorCode::kInvalidArgument, "a JPEG face pack needs an encoder");
    std::string out(kMagic, sizeof kMagic);
    put(out, kFacePackVersion);
    put(out, static_cast<std::uint32_t>(encoding));
    put(out, static_cast<std::uint32_t>(set.size));
    put(out, static_cast<std::uint32_t>(set.count()));
    put(out, set.coverage);
    put(out, static_cast<std::uint32_t>(set.name.size()));
    out += set.name;
    std::vector<std::uint8_t> compressed;
    for (int i = 0; i < set.count(); ++i) {
        for (const Point2f& p : set.landmarks[i]) put(out, p.x), put(out, p.y);
        const std::uint8_t* rgb = set.rgb.data() + face_bytes * i;
        if (encoding == FacePackEncoding::kRaw) {
            put(out, static_cast<std::uint32_t>(face_bytes));
            out.append(reinterpret_cast<const char*>(rgb), face_bytes);
        } else {
            compressed.clear();
            if (!encoder(rgb, set.size, compressed))
                throw Error(ErrorCode::kInternal, "cannot encode face " + std::to_string(i + 1));
            put(out, static_cast<std::uint32_t>(compressed.size()));
            out.append(reinterpret_cast<const char*>(compressed.data()), compressed.size());
        }
    }
    const std::string partial = path + ".partial-" + std::to_string(::getpid());
    {
        std::ofstream file(partial, std::ios::binary | std::ios::trunc);
        file.write(out.data(), static_cast<std::streamsize>(out.size()));
        file.flush();
        if (!file) {
            std::error_code ec;
            std::filesystem::remove(partial, ec);
            throw Error(ErrorCode::kInternal,
                        "cannot write " + path + " (disk full or no permission?)");
        }
    }
    std::filesystem::rename(partial, path);
}

}  // namespace faceswap
