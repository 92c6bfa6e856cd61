#include "faceswap/capture/image_writer.h"

#include <opencv2/imgcodecs.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "faceswap/capture/media_reader.h"

namespace faceswap::capture {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<unsigned char>;

std::string lower_extension(const std::string& path) {
    std::string ext = fs::path(path).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
    return ext;
}

bool is_jpeg_name(const std::string& path) {
    const std::string ext = lower_extension(path);
    return ext == ".jpg" || ext == ".jpeg";
}

// PNG's chunk checksum (ISO 3309 CRC-32, as zlib's crc32).
std::uint32_t png_crc32(const unsigned char* bytes, size_t length) {
    static const std::array<std::uint32_t, 256> table = [] {
        std::array<std::uint32_t, 256> t{};
        for (std::uint32_t n = 0; n < 256; ++n) {
            std::uint32_t c = n;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[n] = c;
        }
        return t;
    }();
    std::uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < length; ++i) c = table[(c ^ bytes[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

void put_u32_be(Bytes& out, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
        out.push_back(static_cast<unsigned char>(v >> shift));
}

std::uint32_t get_u32_be(const unsigned char* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           p[3];
}

constexpr unsigned char kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
constexpr char kCommentKeyword[] = "Comment";

// A JPEG COM segment right after SOI (the text capped at the segment's 65533 bytes).
void add_jpeg_comment(Bytes& jpeg, const std::string& text) {
    if (jpeg.size() < 2 || jpeg[0] != 0xFF || jpeg[1] != 0xD8) return;
    const size_t length = std::min<size_t>(text.size(), 65533);
    Bytes segment = {0xFF, 0xFE, static_cast<unsigned char>((length + 2) >> 8),
                     static_cast<unsigned char>((length + 2) & 0xFF)};
    segment.insert(segment.end(), text.begin(), text.begin() + static_cast<long>(length));
    jpeg.insert(jpeg.begin() + 2, segment.begin(), segment.end());
}

// A PNG iTXt chunk "Comment" (UTF-8, uncompressed) right after IHDR.
void add_png_comment(Bytes& png, const std::string& text) {
    constexpr size_t kAfterIhdr = 8 + 4 + 4 + 13 + 4;
    if (png.size() < kAfterIhdr ||
        !std::equal(std::begin(kPngSignature), std::end(kPngSignature), png.begin()))
        return;
    Bytes body = {'i', 'T', 'X', 't'};
    body.insert(body.end(), std::begin(kCommentKeyword), std::end(kCommentKeyword));  // with \0
    body.insert(body.end(), {0, 0, 0, 0});  // uncompressed, method 0, no language, no translation
    body.insert(body.end(), text.begin(), text.end());
    Bytes chunk;
    put_u32_be(chunk, static_cast<std::uint32_t>(body.size() - 4));
    chunk.insert(chunk.end(), body.begin(), body.end());
    put_u32_be(chunk, png_crc32(body.data(), body.size()));
    png.insert(png.begin() + kAfterIhdr, chunk.begin(), chunk.end());
}

std::string jpeg_comment(const Bytes& jpeg) {
    size_t pos = 2;
    while (pos + 4 <= jpeg.size() && jpeg[pos] == 0xFF) {
        const unsigned char marker = jpeg[pos + 1];
        if (marker == 0xDA || marker == 0xD9) break;  // image data starts: no more headers
        const size_t length = (size_t{jpeg[pos + 2]} << 8) | jpeg[pos + 3];
        if (length < 2 || pos + 2 + length > jpeg.size()) break;
        if (marker == 0xFE)
            return std::string(jpeg.begin() + static_cast<long>(pos + 4),
                               jpeg.begin() + static_cast<long>(pos + 2 + length));
        pos += 2 + length;
    }
    return {};
}

std::string png_comment(const Bytes& png) {
    size_t pos = 8;
    while (pos + 12 <= png.size()) {
        const size_t length = get_u32_be(&png[pos]);
        if (length > png.size() - pos - 12) break;
        const std::string type(png.begin() + static_cast<long>(pos + 4),
                               png.begin() + static_cast<long>(pos + 8));
        const auto data = png.begin() + static_cast<long>(pos + 8);
        if (type == "IDAT") break;
        if ((type == "iTXt" || type == "tEXt") && length > sizeof kCommentKeyword &&
            std::equal(std::begin(kCommentKeyword), std::end(kCommentKeyword), data)) {
            // tEXt: keyword\0text; iTXt: keyword\0 flag method language\0 translated\0 text.
            auto text = data + sizeof kCommentKeyword;
            const auto end = data + static_cast<long>(length);
            if (type == "iTXt") {
                if (end - text < 2 || text[0] != 0) break;  // compressed: not ours
                text += 2;
                for (int field = 0; field < 2; ++field) {  // language tag, translated keyword
                    text = std::find(text, end, 0);
                    if (text == end) return {};
                    ++text;
                }
            }
            return std::string(text, end);
        }
        pos += 12 + length;
    }
    return {};
}

std::string reason_of(int error) {
    if (error == ENOSPC || error == EDQUOT) return "the disk is full";
    if (error == EACCES || error == EPERM || error == EROFS) return "no permission to write there";
    return std::strerror(error);
}

// Writes bytes to a temporary file beside `path`, flushes it to disk and renames it over path.
void write_atomically(const std::string& path, const Bytes& bytes) {
    const fs::path out(path);
    const fs::path dir = out.has_parent_path() ? out.parent_path() : fs::path(".");
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        throw MediaError("cannot write " + path + ": folder " + dir.string() + " does not exist");
    const std::string temporary =
        (dir / (".partial-" + std::to_string(::getpid()) + "-" + out.filename().string())).string();
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw MediaError("cannot write " + path + ": " + reason_of(errno));
    size_t done = 0;
    int error = 0;
    while (done < bytes.size() && error == 0) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno != EINTR) error = errno;
        if (n > 0) done += static_cast<size_t>(n);
    }
    if (error == 0 && ::fsync(fd) != 0) error = errno;
    if (::close(fd) != 0 && error == 0) error = errno;
    if (error == 0 && ::rename(temporary.c_str(), path.c_str()) != 0) error = errno;
    if (error != 0) {
        fs::remove(temporary, ec);
        throw MediaError("cannot write " + path + ": " + reason_of(error));
    }
}

}  // namespace

bool image_format_keeps_provenance(const std::string& path) {
    return is_jpeg_name(path) || lower_extension(path) == ".png";
}

void write_image_file(const std::string& path, const cv::Mat& bgr, const std::string& provenance,
                      const ContentSigning* signing) {
    if (!is_image_file_name(path))
        throw MediaError("cannot write " + path +
                         ": not an image file name (use .jpg, .png, .bmp, .webp or .tiff)");
    std::vector<int> params;
    if (is_jpeg_name(path)) params = {cv::IMWRITE_JPEG_QUALITY, 95};
    Bytes encoded;
    if (!cv::imencode(lower_extension(path), bgr, encoded, params) || encoded.empty())
        throw MediaError("cannot encode " + path + " (OpenCV has no encoder for this format)");
    if (!provenance.empty()) {
        if (is_jpeg_name(path))
            add_jpeg_comment(encoded, provenance);
        else if (lower_extension(path) == ".png")
            add_png_comment(encoded, provenance);
    }
    if (signing && content_credentials_supported(path)) {
        ContentCredentials credentials = signing->credentials;
        credentials.title = std::filesystem::path(path).filename().string();
        try {
            encoded = add_content_credentials(encoded, credentials, signing->identity);
        } catch (const ContentCredentialsError& e) {
            throw MediaError("cannot sign " + path + ": " + e.what());
        }
    }
    write_atomically(path, encoded);
}

std::string read_image_provenance(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    const Bytes bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.size() >= 2 && bytes[0] == 0xFF && bytes[1] == 0xD8) return jpeg_comment(bytes);
    if (bytes.size() >= 8 &&
        std::equal(std::begin(kPngSignature), std::end(kPngSignature), bytes.begin()))
        return png_comment(bytes);
    return {};
}

}  // namespace faceswap::capture
