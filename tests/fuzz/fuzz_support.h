// Shared by the fuzz targets (tests/fuzz/targets/): inputs that a parser reads from files are
// written to a private temporary folder first, once per input.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace faceswap::fuzz {

// A folder of this process's own (under TMPDIR, removed at exit), so that parallel fuzzing
// jobs (-jobs=N) never share files.
inline const std::filesystem::path& scratch_dir() {
    static const std::filesystem::path dir = [] {
        const char* tmp = std::getenv("TMPDIR");
        auto path = std::filesystem::path(tmp && *tmp ? tmp : "/tmp") /
                    ("faceswap-fuzz-" + std::to_string(::getpid()));
        std::filesystem::create_directories(path);
        std::atexit([] {
            std::error_code ignored;
            std::filesystem::remove_all(scratch_dir(), ignored);
        });
        return path;
    }();
    return dir;
}

// Writes bytes to scratch_dir()/name and returns its path.
inline std::string write_file(const std::string& name, std::string_view bytes) {
    const auto path = scratch_dir() / name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path.string();
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// Splits an input into two parts at the first occurrence of `separator` (for parsers that read
// two files, a manifest and its weights, say). No separator: everything is the first part.
inline std::pair<std::string_view, std::string_view> split_at(std::string_view input,
                                                              std::string_view separator) {
    const auto at = input.find(separator);
    if (at == std::string_view::npos) return {input, {}};
    return {input.substr(0, at), input.substr(at + separator.size())};
}

// A broken promise of a parser (a property that must hold for every input it accepts): aborts,
// which libFuzzer reports as a crash with the input that caused it.
#define FUZZ_ASSERT(condition)                                                               \
    do {                                                                                     \
        if (!(condition)) {                                                                  \
            std::fprintf(stderr, "fuzz property failed: %s (%s:%d)\n", #condition, __FILE__, \
                         __LINE__);                                                          \
            std::abort();                                                                    \
        }                                                                                    \
    } while (0)

}  // namespace faceswap::fuzz
