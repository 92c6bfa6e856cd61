// Scale-out: nginx (Debian's package) with packaging/nginx/faceswap.conf in front of two
// faceswap-server processes on 127.0.0.1, several clients streaming real video through it. One
// replica is killed (SIGKILL) or drained (SIGTERM) mid-stream; its clients must reconnect
// through nginx to the other and go on, the other replica's clients must not notice. The test
// prints how long the moved clients were without results and how many frames they lost
// (failover_support.h; tests/container runs the same with server containers).
//
// The replicas run the pass-through engine: failover is the transport's business, and two CPU
// engines on two cores would only slow the test down. FACESWAP_FAILOVER_ENGINE=faceswap runs
// them with the real engine and the demo model instead, for figures with frames in flight.
#include <catch2/catch.hpp>

#include <cstdlib>

#include "failover_support.h"
#include "net_test_support.h"
#include "test_support.h"

using namespace faceswap::test;

namespace {

// A server process as a replica.
class ProcessReplica : public Replica {
  public:
    explicit ProcessReplica(const std::vector<std::string>& args) : process_(args) {}
    std::uint16_t port() const override { return process_.port(); }
    void kill_hard() override { process_.kill_hard(); }
    int terminate() override { return process_.terminate(); }

  private:
    ServerProcess process_;
};

const char* failover_engine() {
    const char* engine = std::getenv("FACESWAP_FAILOVER_ENGINE");
    return engine && std::string(engine) == "faceswap" ? "faceswap" : "none";
}

FailoverFigures run_process_failover(StopKind how) {
    std::vector<std::string> args{
        "--address", "127.0.0.1",         "--port", "0",           "--io-threads",
        "1",         "--drain-timeout-s", "5",      "--log-level", "warn"};
    if (std::string(failover_engine()) == "faceswap") {
        args.insert(args.end(), {"--model-dir", model_dir().string(), "--swap-model",
                                 (source_dir() / "resources/models/demo.fsmodel").string(),
                                 "--device", "cpu", "--cpu-threads", "1"});
    } else {
        args.insert(args.end(), {"--engine", "none"});
    }
    std::vector<std::unique_ptr<Replica>> replicas;
    for (int i = 0; i < 2; ++i) replicas.push_back(std::make_unique<ProcessReplica>(args));
    return run_failover(replicas, how);
}

}  // namespace

TEST_CASE("nginx: a killed replica's clients reconnect through nginx to the other one",
          "[network][nginx]") {
    const FailoverFigures figures = run_process_failover(StopKind::kKill);
    report_failover(std::string("replica SIGKILLed, engine ") + failover_engine(), figures);
}

TEST_CASE("nginx: a drained replica's clients move to the other one", "[network][nginx]") {
    const FailoverFigures figures = run_process_failover(StopKind::kDrain);
    report_failover(std::string("replica drained (SIGTERM), engine ") + failover_engine(), figures);
}
