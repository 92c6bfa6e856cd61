#include "config.h"

#include <toml++/toml.h>

#include "faceswap/net/protocol.h"
#include "faceswap/net/sha256.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

namespace faceswap::server {
namespace {

using Setter = std::function<void(const toml::node&, const std::string& key)>;

template <typename T>
T integer(const toml::node& node, const std::string& key, std::int64_t lo, std::int64_t hi) {
    // value<int64_t>() would also convert a float (UB past the int64 range, found by fuzzing):
    // only a TOML integer is one.
    const auto value = node.is_integer() ? node.value<std::int64_t>() : std::nullopt;
    if (!value || *value < lo || *value > hi)
        throw ConfigError(key + " must be an integer from " + std::to_string(lo) + " to " +
                          std::to_string(hi));
    return static_cast<T>(*value);
}

std::string text(const toml::node& node, const std::string& key) {
    const auto value = node.value<std::string>();
    if (!value) throw ConfigError(key + " must be a string");
    return *value;
}

std::map<std::string, Setter> setters(ServerConfig& c) {
    auto int_of = [](auto& field, std::int64_t lo, std::int64_t hi) -> Setter {
        return [&field, lo, hi](const toml::node& n, const std::string& k) {
            field = integer<std::remove_reference_t<decltype(field)>>(n, k, lo, hi);
        };
    };
    auto string_of = [](std::string& field) -> Setter {
        return [&field](const toml::node& n, const std::string& k) { field = text(n, k); };
    };
    auto strings_of = [](std::vector<std::string>& field, const std::string& what) -> Setter {
        return [&field, what](const toml::node& n, const std::string& k) {
            const auto* array = n.as_array();
            if (!array) throw ConfigError(k + " must be an array of " + what);
            field.clear();
            for (const auto& item : *array) field.push_back(text(item, k));
        };
    };
    return {
        {"server.address", string_of(c.address)},
        {"server.port", int_of(c.port, 0, 65535)},
        {"server.io_threads", int_of(c.io_threads, 1, 64)},
        {"server.max_sessions", int_of(c.max_sessions, 1, 100000)},
        {"server.handshake_timeout_s", int_of(c.handshake_timeout_s, 1, 3600)},
        {"server.idle_timeout_s", int_of(c.idle_timeout_s, 1, 3600)},
        {"server.drain_timeout_s", int_of(c.drain_timeout_s, 0, 3600)},
        {"limits.max_frame_bytes", int_of(c.max_frame_bytes, 1024, 256 << 20)},
        {"limits.max_width", int_of(c.max_width, 16, 65535)},
        {"limits.max_height", int_of(c.max_height, 16, 65535)},
        {"limits.max_in_flight", int_of(c.max_in_flight, 1, 64)},
        {"limits.max_model_bytes", int_of(c.max_model_bytes, 1024, std::int64_t{1} << 40)},
        {"limits.max_connections", int_of(c.max_connections, 0, 1000000)},
        {"limits.max_connections_per_address", int_of(c.max_connections_per_address, 0, 1000000)},
        {"limits.max_queued_bytes", int_of(c.max_queued_bytes, 65536, std::int64_t{1} << 34)},
        {"limits.max_frame_rate", int_of(c.max_frame_rate, 0, 100000)},
        {"engine.kind", string_of(c.engine)},
        {"engine.model_dir", string_of(c.model_dir)},
        {"engine.swap_model_dir", string_of(c.swap_model_dir)},
        {"engine.swap_models", strings_of(c.swap_models, "file paths")},
        {"engine.model_urls", strings_of(c.model_urls, "URLs")},
        {"engine.model_url_ca", string_of(c.model_url_ca)},
        {"engine.model_url_token_file", string_of(c.model_url_token_file)},
        {"engine.device", string_of(c.device)},
        {"engine.precision", string_of(c.precision)},
        {"engine.cpu_threads", int_of(c.cpu_threads, 0, 1024)},
        {"scheduler.batch_size", int_of(c.batch_size, 1, 64)},
        {"scheduler.batch_wait_ms", int_of(c.batch_wait_ms, 0, 1000)},
        {"scheduler.batch_latency_ms", int_of(c.batch_latency_ms, 0, 10000)},
        {"scheduler.stages", int_of(c.stages, 1, 2)},
        {"auth.tokens_file", string_of(c.tokens_file)},
        {"auth.allow_anonymous",
         [&c](const toml::node& n, const std::string& k) {
             const auto value = n.value<bool>();
             if (!value) throw ConfigError(k + " must be true or false");
             c.allow_anonymous = *value;
         }},
        {"tls.cert", string_of(c.tls_cert)},
        {"tls.key", string_of(c.tls_key)},
    };
}

// The secure-defaults refusal, shared by a missing tokens setting and a missing tokens file.
const std::string kOpenToAnyone = " would serve anyone who can reach this machine: ";
const std::string kSecureWays =
    ", listen on 127.0.0.1 (--address), or pass --allow-anonymous (auth.allow_anonymous) to serve "
    "everyone without a token";

}  // namespace

void ServerConfig::validate() const {
    if (engine != "faceswap" && engine != "none")
        throw ConfigError("engine.kind must be 'faceswap' or 'none', not '" + engine + "'");
    if (device != "auto" && device != "cpu" && device != "cuda")
        throw ConfigError("engine.device must be auto, cpu or cuda");
    if (precision != "auto" && precision != "fp32" && precision != "bf16")
        throw ConfigError("engine.precision must be auto, fp32 or bf16, not '" + precision + "'");
    if (tls_cert.empty() != tls_key.empty()) throw ConfigError("tls.cert and tls.key go together");
    if (max_frame_bytes < 1024) throw ConfigError("limits.max_frame_bytes is below 1024");
    if (max_in_flight < 1 || max_in_flight > 64)
        throw ConfigError("limits.max_in_flight must be 1 to 64");
    if (batch_size < 1) throw ConfigError("scheduler.batch_size must be at least 1");
    if (io_threads < 1) throw ConfigError("server.io_threads must be at least 1");
    if (!model_urls.empty() && swap_model_dir.empty())
        throw ConfigError(
            "engine.model_urls (--model-url) needs engine.swap_model_dir "
            "(--swap-model-dir), the folder the models are pulled into");
    if (max_model_bytes < 1024) throw ConfigError("limits.max_model_bytes is below 1024");
    // The secure default: beyond loopback, tokens or an explicit allow_anonymous.
    if (is_loopback_address(address) || allow_anonymous) return;
    if (tokens_file.empty())
        throw ConfigError("listening on " + address + " without a tokens file" + kOpenToAnyone +
                          "give --tokens-file FILE (auth.tokens_file, one token per line)" +
                          kSecureWays);
}

void ServerConfig::validate_files() const {
    if (is_loopback_address(address) || allow_anonymous || tokens_file.empty()) return;
    std::error_code error;
    if (!std::filesystem::exists(tokens_file, error))
        throw ConfigError("the tokens file " + tokens_file + " does not exist, and listening on " +
                          address + " without tokens" + kOpenToAnyone +
                          "create it with one token per line (in a container, mount the tokens "
                          "secret there)" +
                          kSecureWays);
}

bool is_loopback_address(const std::string& address) {
    if (address == "localhost" || address == "::1" || address == "[::1]") return true;
    unsigned a = 0, b = 0, c = 0, d = 0;
    char tail = 0;
    return std::sscanf(address.c_str(), "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a == 127 &&
           b < 256 && c < 256 && d < 256;
}

bool token_accepted(const std::set<std::string>& tokens, const std::string& token) {
    // Digests first: equal lengths, so the comparison time says nothing about the token's
    // length or its first differing byte. Every token is compared, found or not.
    net::Sha256 hash;
    const auto digest = [&hash](const std::string& text) {
        hash.update(text.data(), text.size());
        return hash.hex_digest();
    };
    const std::string wanted = digest(token);
    unsigned char found = 0;
    for (const std::string& candidate : tokens) {
        const std::string have = digest(candidate);
        unsigned char diff = 0;
        for (std::size_t i = 0; i < have.size(); ++i)
            diff |= static_cast<unsigned char>(have[i] ^ wanted[i]);
        found |= static_cast<unsigned char>(diff == 0);
    }
    return found != 0;
}

void load_config_file(const std::string& path, ServerConfig& config) {
    toml::table table;
    try {
        table = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
        throw ConfigError("config file " + path + ": " + std::string(e.description()) + " (line " +
                          std::to_string(e.source().begin.line) + ")");
    }
    auto known = setters(config);
    for (const auto& [section, node] : table) {
        const auto* inner = node.as_table();
        if (!inner)
            throw ConfigError("config file " + path + ": '" + std::string(section.str()) +
                              "' must be a [section]");
        for (const auto& [name, value] : *inner) {
            const std::string key = std::string(section.str()) + "." + std::string(name.str());
            const auto it = known.find(key);
            if (it == known.end())
                throw ConfigError("config file " + path + ": unknown key '" + key + "'");
            it->second(value, key);
        }
    }
}

Tokens load_tokens(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw ConfigError("cannot read the tokens file " + path);
    Tokens tokens;
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
        std::istringstream words(line);
        std::string token, right;
        if (!(words >> token) || token[0] == '#') continue;
        // A hello carries at most kMaxTokenLength characters of token: a longer one could
        // never be used, so it is a mistake in the file.
        if (token.size() > net::kMaxTokenLength)
            throw ConfigError("the tokens file " + path + ", line " + std::to_string(number) +
                              ": a token of " + std::to_string(token.size()) +
                              " characters; clients can send at most " +
                              std::to_string(net::kMaxTokenLength));
        tokens.all.insert(token);
        while (words >> right) {
            if (right[0] == '#') break;
            if (right != "models")
                throw ConfigError("the tokens file " + path + ", line " + std::to_string(number) +
                                  ": unknown right '" + right +
                                  "' (a token alone may stream and read models; 'models' after "
                                  "it may also upload and delete them)");
            tokens.models.insert(token);
        }
    }
    if (tokens.all.empty()) throw ConfigError("the tokens file " + path + " holds no token");
    return tokens;
}

}  // namespace faceswap::server
