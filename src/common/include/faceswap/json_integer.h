// Integers read from JSON that came from elsewhere (a client's hello, a server's listing, a
// downloaded manifest or face set). nlohmann's get<int>() also converts a float, which is
// undefined behaviour past the integer's range (found by the fuzzers), and wraps an integer out
// of range silently. Header-only; the caller links nlohmann_json.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <type_traits>

namespace faceswap {

// The value as T when it is a JSON integer within T's range, else nullopt.
template <typename T>
std::optional<T> json_integer(const nlohmann::json& value) {
    static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>);
    if (value.is_number_unsigned()) {
        const auto v = value.get<std::uint64_t>();
        if (v > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) return std::nullopt;
        return static_cast<T>(v);
    }
    if (value.is_number_integer()) {
        const auto v = value.get<std::int64_t>();
        if constexpr (std::is_unsigned_v<T>) {
            if (v < 0 || static_cast<std::uint64_t>(v) > std::numeric_limits<T>::max())
                return std::nullopt;
        } else {
            if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max())
                return std::nullopt;
        }
        return static_cast<T>(v);
    }
    return std::nullopt;
}

// json[key] as T when present and such an integer, else fallback.
template <typename T>
T json_integer_or(const nlohmann::json& object, const char* key, T fallback) {
    if (!object.is_object()) return fallback;
    const auto it = object.find(key);
    if (it == object.end()) return fallback;
    return json_integer<T>(*it).value_or(fallback);
}

}  // namespace faceswap
