// The deployment files against the server they deploy, including what cannot be run here (the
// CUDA image, the probes, the autoscaler; tests/container runs the CPU image and the Deployment
// with podman): every probe and health-check path answers 200, the autoscaler's metric is a
// gauge on /metrics, ports, users and drain times agree, and the packaged configs load.
#include <catch2/catch.hpp>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "config.h"
#include "net_test_support.h"
#include "test_support.h"

using namespace faceswap;
using namespace faceswap::test;
namespace fs = std::filesystem;

namespace {

std::string packaging_file(const std::string& relative) {
    std::ifstream in(source_dir() / "packaging" / relative);
    REQUIRE(in.good());
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::vector<std::string> all_matches(const std::string& text, const std::string& pattern) {
    std::vector<std::string> found;
    const std::regex re(pattern);
    for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
         ++it)
        found.push_back((*it)[1]);
    return found;
}

int first_int(const std::string& text, const std::string& pattern) {
    const auto found = all_matches(text, pattern);
    INFO("pattern " << pattern);
    REQUIRE_FALSE(found.empty());
    return std::stoi(found.front());
}

}  // namespace

TEST_CASE("deploy files: probes, health check and autoscaler metric are served", "[network]") {
    const std::string deployment = packaging_file("kubernetes/deployment.yaml");
    const std::string hpa = packaging_file("kubernetes/hpa.yaml");

    std::set<std::string> paths;
    for (const auto& path : all_matches(deployment, R"(\n\s+path: (\S+))")) paths.insert(path);
    for (const char* image : {"container/Containerfile", "container/Containerfile.cuda"})
        for (const auto& path :
             all_matches(packaging_file(image), R"(http://127\.0\.0\.1:\d+(/\S+))"))
            paths.insert(path);
    CHECK(paths == std::set<std::string>{"/healthz", "/readyz"});

    TestServer server;
    for (const auto& path : paths) {
        INFO(path);
        CHECK(http_get(server.port(), path).first == 200);
    }
    const std::string metrics = http_get(server.port(), "/metrics").second;
    const auto hpa_metrics = all_matches(hpa, R"(\n\s+name: (faceswap_\w+))");
    REQUIRE(hpa_metrics.size() == 1);
    INFO(hpa_metrics.front());
    CHECK(metrics.find("# TYPE " + hpa_metrics.front() + " gauge\n") != std::string::npos);
    // The adapter rule turns that gauge into the metric the HPA asks for.
    const std::string rules = packaging_file("kubernetes/prometheus-adapter-rules.yaml");
    CHECK(rules.find("seriesQuery: '" + hpa_metrics.front() + "{") != std::string::npos);
    CHECK(rules.find("as: \"" + hpa_metrics.front() + "\"") != std::string::npos);
}

TEST_CASE("deploy files: the packaged config loads, ports and drain times agree", "[network]") {
    server::ServerConfig config;
    server::load_config_file((source_dir() / "packaging/server/server.toml").string(), config);
    CHECK_NOTHROW(config.validate());

    const std::string deployment = packaging_file("kubernetes/deployment.yaml");
    CHECK(first_int(deployment, R"(containerPort: (\d+))") == config.port);
    CHECK(first_int(packaging_file("kubernetes/service.yaml"), R"(\n\s+port: (\d+))") ==
          config.port);
    // The pod's grace period covers the preStop wait and the server's drain.
    const int pre_stop_s = first_int(deployment, R"re(command: \["sleep", "(\d+)"\])re");
    CHECK(pre_stop_s + config.drain_timeout_s <
          first_int(deployment, R"(terminationGracePeriodSeconds: (\d+))"));
    // Both images: the packaged port, the service user by number, which the pod runs as
    // (runAsNonRoot cannot check a name), and the same entry point.
    for (const char* image : {"container/Containerfile", "container/Containerfile.cuda"}) {
        INFO(image);
        const std::string file = packaging_file(image);
        CHECK(first_int(file, R"(\nEXPOSE (\d+))") == config.port);
        const int image_uid = first_int(file, R"(\nUSER (\d+):)");
        CHECK(first_int(file, R"(useradd[^\n]*--uid (\d+))") == image_uid);
        CHECK(first_int(deployment, R"(runAsUser: (\d+))") == image_uid);
        CHECK(file.find("ENTRYPOINT [\"/usr/bin/tini\", \"--\", \"/usr/bin/faceswap-server\", "
                        "\"--config\", \"/etc/faceswap/server.toml\"]") != std::string::npos);
    }

    // The ConfigMap's config loads, listens on the container's port, takes its tokens from
    // where the Deployment mounts the Secret, and drains within the grace period too.
    const std::string config_map = packaging_file("kubernetes/configmap.yaml");
    const auto toml_at = config_map.find("server.toml: |\n");
    REQUIRE(toml_at != std::string::npos);
    std::string toml;
    std::istringstream lines(config_map.substr(toml_at + 15));
    for (std::string line; std::getline(lines, line);)
        toml += (line.rfind("    ", 0) == 0 ? line.substr(4) : line) + "\n";
    TempDir dir;
    std::ofstream(dir.path() / "server.toml") << toml;
    server::ServerConfig pod_config;
    server::load_config_file((dir.path() / "server.toml").string(), pod_config);
    CHECK_NOTHROW(pod_config.validate());
    CHECK(pod_config.port == first_int(deployment, R"(containerPort: (\d+))"));
    CHECK(pre_stop_s + pod_config.drain_timeout_s <
          first_int(deployment, R"(terminationGracePeriodSeconds: (\d+))"));
    CHECK(deployment.find("mountPath: " + fs::path(pod_config.tokens_file).parent_path().string() +
                          "\n") != std::string::npos);
    CHECK(deployment.find("\"--config\", \"/etc/faceswap/config/server.toml\"") !=
          std::string::npos);
    CHECK(deployment.find("mountPath: /etc/faceswap/config\n") != std::string::npos);
    // systemd waits for the drain too.
    CHECK(config.drain_timeout_s <
          first_int(packaging_file("server/faceswap-server.service"), R"(TimeoutStopSec=(\d+))"));
}
