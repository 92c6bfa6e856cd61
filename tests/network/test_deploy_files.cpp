// The deployment files that cannot be run here (Dockerfile, Kubernetes manifests) against the
// server they deploy: every probe and health-check path answers 200, the autoscaler's metric is
// a gauge on /metrics, ports and drain times agree, and the packaged config loads.
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
    const std::string deployment = packaging_file("k8s/deployment.yaml");
    const std::string hpa = packaging_file("k8s/hpa.yaml");
    const std::string dockerfile = packaging_file("docker/Dockerfile");

    std::set<std::string> paths;
    for (const auto& path : all_matches(deployment, R"(\n\s+path: (\S+))")) paths.insert(path);
    for (const auto& path : all_matches(dockerfile, R"(http://127\.0\.0\.1:\d+(/\S+))"))
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
}

TEST_CASE("deploy files: the packaged config loads, ports and drain times agree", "[network]") {
    server::ServerConfig config;
    server::load_config_file((source_dir() / "packaging/server/server.toml").string(), config);
    CHECK_NOTHROW(config.validate());

    const std::string deployment = packaging_file("k8s/deployment.yaml");
    CHECK(first_int(deployment, R"(containerPort: (\d+))") == config.port);
    CHECK(first_int(packaging_file("docker/Dockerfile"), R"(\nEXPOSE (\d+))") == config.port);
    CHECK(first_int(packaging_file("k8s/service.yaml"), R"(\n\s+port: (\d+))") == config.port);
    // The pod's grace period covers the preStop wait and the server's drain.
    const int pre_stop_s = first_int(deployment, R"re(command: \["sleep", "(\d+)"\])re");
    CHECK(pre_stop_s + config.drain_timeout_s <
          first_int(deployment, R"(terminationGracePeriodSeconds: (\d+))"));
    // The pod runs as the image's user, by number (runAsNonRoot cannot check a name).
    const int image_uid = first_int(packaging_file("docker/Dockerfile"), R"(\nUSER (\d+):)");
    CHECK(first_int(deployment, R"(runAsUser: (\d+))") == image_uid);
    CHECK(first_int(packaging_file("docker/Dockerfile"), R"(useradd[^\n]*--uid (\d+))") ==
          image_uid);
    // systemd waits for the drain too.
    CHECK(config.drain_timeout_s <
          first_int(packaging_file("server/faceswap-server.service"), R"(TimeoutStopSec=(\d+))"));
}
