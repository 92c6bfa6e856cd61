// Fast units for the plumbing between the layers: the frame mailbox, the server's inference
// scheduler (fairness, newest frame wins), WebSocket URL parsing and the model API's HTTP
// parsing (Range headers, model ids). No models, no network.
#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "connection_limits.h"
#include "faceswap/capture/frame_mailbox.h"
#include "faceswap/net/url.h"
#include "faceswap/net/ws_transport.h"
#include "metrics.h"
#include "model_api_http.h"
#include "processor.h"
#include "scheduler.h"

using namespace faceswap;
using namespace std::chrono_literals;

TEST_CASE("mailbox: numbers frames, keeps the newest, wakes readers, and stays closed") {
    capture::FrameMailbox mailbox;
    CHECK(mailbox.published() == 0);
    CHECK(mailbox.latest() == nullptr);
    CHECK(mailbox.wait_newer(0, 1ms) == nullptr);  // nothing yet: times out
    CHECK(mailbox.publish(cv::Mat(2, 2, CV_8UC3), 10, 0.0) == 1);
    CHECK(mailbox.publish(cv::Mat(2, 2, CV_8UC3), 20, 0.04) == 2);
    const capture::FramePtr newest = mailbox.wait_newer(0, 1ms);
    REQUIRE(newest);
    CHECK(newest->sequence == 2);  // the first was never taken and is gone
    CHECK(newest->capture_us == 20);
    CHECK(mailbox.wait_newer(2, 1ms) == nullptr);

    std::atomic<bool> woke{false};
    std::thread reader([&] {
        const capture::FramePtr f = mailbox.wait_newer(2, 10s);
        woke = f && f->sequence == 3;
    });
    std::this_thread::sleep_for(20ms);
    mailbox.publish(cv::Mat(2, 2, CV_8UC3), 30, 0.08);
    reader.join();
    CHECK(woke);

    std::thread closed_reader([&] { CHECK(mailbox.wait_newer(3, 10s) == nullptr); });
    std::this_thread::sleep_for(20ms);
    const auto closing = std::chrono::steady_clock::now();
    mailbox.close();
    closed_reader.join();
    CHECK(std::chrono::steady_clock::now() - closing < 5s);  // woken, not timed out
    CHECK(mailbox.wait_newer(0, 1ms) == nullptr);            // closed for good
}

TEST_CASE(
    "scheduler: busy sessions' frames each come back once through the pipeline, "
    "unchanged on the pass-through engine, and each one's newest frame wins") {
    // The one scheduling path every engine takes (scheduler.h): here with the pass-through
    // engine, as the server runs --engine none and the network tests.
    server::ServerMetrics metrics;
    server::SchedulerConfig config;
    config.batch_size = 2;
    const auto factory = server::make_passthrough_factory({"m"});
    server::PipelineScheduler scheduler(factory->face_models(), factory->engine_config(), config,
                                        metrics);
    scheduler.start();

    constexpr int kSessions = 3, kFrames = 150;
    std::mutex outcomes_mutex;
    // session -> (frame, dropped); and any output that differed from its input
    std::map<int, std::vector<std::pair<int, bool>>> outcomes;
    int changed = 0, errors = 0;
    std::vector<std::thread> senders;
    for (int s = 0; s < kSessions; ++s)
        senders.emplace_back([&, s] {
            std::shared_ptr<server::StreamProcessor> processor =
                factory->open("m", net::Direction::kAToB, FaceDetail{}, FaceChoice{});
            for (int i = 0; i < kFrames; ++i) {
                server::FrameJob job;
                job.session_id = static_cast<std::uint64_t>(s + 1);
                job.processor = processor;
                job.bgr.assign(4 * 2 * 3, static_cast<std::uint8_t>(i));
                job.width = 4;
                job.height = 2;
                job.deliver = [&, s, i](server::FrameOutcome&& outcome) {
                    std::lock_guard lock(outcomes_mutex);
                    outcomes[s].push_back({i, outcome.dropped});
                    errors += outcome.error.empty() ? 0 : 1;
                    if (!outcome.dropped && outcome.error.empty() &&
                        outcome.output.bgr != std::vector<std::uint8_t>(24, std::uint8_t(i)))
                        ++changed;
                };
                scheduler.submit(std::move(job));
                if (i % 8 == 0) std::this_thread::sleep_for(1ms);  // bursts: some displaced
            }
        });
    for (auto& t : senders) t.join();
    for (int wait = 0; wait < 500; ++wait) {  // the last frames finish
        {
            std::lock_guard lock(outcomes_mutex);
            size_t answered = 0;
            for (auto& [s, list] : outcomes) answered += list.size();
            if (answered == kSessions * kFrames) break;
        }
        std::this_thread::sleep_for(10ms);
    }
    std::string metrics_text;
    scheduler.render_metrics(metrics_text);
    CHECK(metrics_text.find("faceswap_pipeline_stage_ms") != std::string::npos);
    for (int s = 1; s <= kSessions; ++s) scheduler.forget(static_cast<std::uint64_t>(s));
    scheduler.stop();

    std::lock_guard lock(outcomes_mutex);
    CHECK(errors == 0);
    CHECK(changed == 0);
    for (int s = 0; s < kSessions; ++s) {
        const auto& list = outcomes[s];
        REQUIRE(list.size() == static_cast<size_t>(kFrames));  // every frame answered once
        int processed = 0;
        for (const auto& [frame, dropped] : list) processed += dropped ? 0 : 1;
        CHECK(processed > 5);
        // The last frame a session sent is never dropped: nothing newer came to replace it.
        const auto last = std::find_if(list.begin(), list.end(),
                                       [](const auto& o) { return o.first == kFrames - 1; });
        REQUIRE(last != list.end());
        CHECK_FALSE(last->second);
    }
}

TEST_CASE("WebSocket URLs: schemes, default ports, paths, IPv6, and clear refusals") {
    const net::WsUrl plain = net::parse_ws_url("ws://127.0.0.1:8080/");
    CHECK_FALSE(plain.tls);
    CHECK(plain.host == "127.0.0.1");
    CHECK(plain.port == "8080");
    CHECK(plain.target == "/");
    const net::WsUrl secure = net::parse_ws_url("wss://swap.example.org/v1/stream?x=1");
    CHECK(secure.tls);
    CHECK(secure.port == "443");
    CHECK(secure.target == "/v1/stream?x=1");
    CHECK(net::parse_ws_url("ws://host").port == "80");
    CHECK(net::parse_ws_url("ws://host").target == "/");
    const net::WsUrl v6 = net::parse_ws_url("ws://[::1]:9000/");
    CHECK(v6.host == "::1");
    CHECK(v6.port == "9000");
    CHECK(v6.authority() == "[::1]:9000");
    CHECK(net::parse_ws_url("wss://[fe80::1]/").port == "443");
    for (const char* bad :
         {"http://host/", "host:80", "ws://", "ws://:80/", "ws://host:/", "ws://host:http/",
          "ws://host:0/", "ws://host:65536/", "ws://host:123456/"})
        CHECK_THROWS_AS(net::parse_ws_url(bad), std::invalid_argument);
    CHECK_THROWS_WITH(net::parse_ws_url("http://x/"), Catch::Contains("ws:// or wss://"));
}

TEST_CASE("model API: Range headers within a file, and model ids from request targets") {
    using server::model_api::byte_range;
    bool unsatisfiable = false;
    using Range = std::optional<std::pair<std::int64_t, std::int64_t>>;
    CHECK(byte_range("bytes=0-99", 1000, unsatisfiable) == Range({0, 99}));
    CHECK(byte_range("bytes=900-", 1000, unsatisfiable) == Range({900, 999}));
    CHECK(byte_range("bytes=900-5000", 1000, unsatisfiable) == Range({900, 999}));  // clipped
    CHECK(byte_range("bytes=-100", 1000, unsatisfiable) == Range({900, 999}));      // suffix
    CHECK(byte_range("bytes=-5000", 1000, unsatisfiable) == Range({0, 999}));
    CHECK_FALSE(unsatisfiable);
    CHECK(byte_range("bytes=1000-", 1000, unsatisfiable) == std::nullopt);
    CHECK(unsatisfiable);  // starts past the end: 416
    for (const char* whole : {"bytes=0-1,5-6", "items=0-1", "bytes=abc-", "bytes=5-2", "bytes=-0",
                              "bytes=", "bytes=99999999999999999999-"}) {
        CHECK(byte_range(whole, 1000, unsatisfiable) == std::nullopt);  // the whole file
        CHECK_FALSE(unsatisfiable);
    }

    using server::model_api::model_id_of;
    CHECK(model_id_of("/v1/models") == std::string());
    CHECK(model_id_of("/v1/models/") == std::string());
    CHECK(model_id_of("/v1/models/demo") == std::string("demo"));
    CHECK(model_id_of("/v1/models/demo?x=1") == std::string("demo"));
    CHECK(model_id_of("/v1/models/a/b") == std::nullopt);
    CHECK(model_id_of("/v1/modelsX") == std::nullopt);
    CHECK(model_id_of("/metrics") == std::nullopt);
    CHECK_THAT(server::model_api::json_error("no \"such\" model"),
               Catch::Equals("{\"error\":\"no \\\"such\\\" model\"}\n"));
}

TEST_CASE(
    "model API: conditional and range headers decide the download, and the upload sha256 is "
    "checked") {
    namespace api = server::model_api;
    using Answer = api::DownloadAnswer;
    const std::string etag = "\"abc\"";
    auto answer = [&](std::optional<std::string_view> none_match,
                      std::optional<std::string_view> range,
                      std::optional<std::string_view> if_range) {
        return api::answer_download(etag, 1000, none_match, range, if_range);
    };
    CHECK(answer(std::nullopt, std::nullopt, std::nullopt).kind == Answer::kWhole);
    CHECK(answer(std::nullopt, std::nullopt, std::nullopt).last == 999);
    CHECK(answer(etag, std::nullopt, std::nullopt).kind == Answer::kNotModified);
    CHECK(answer("*", "bytes=0-1", std::nullopt).kind == Answer::kNotModified);
    CHECK(answer("\"other\"", std::nullopt, std::nullopt).kind == Answer::kWhole);
    const auto tail = answer(std::nullopt, "bytes=900-", etag);
    CHECK((tail.kind == Answer::kPartial && tail.first == 900 && tail.last == 999));
    // A resume of another version gets the whole file, not a wrong tail.
    CHECK(answer(std::nullopt, "bytes=900-", "\"old\"").kind == Answer::kWhole);
    CHECK(answer(std::nullopt, "bytes=1000-", std::nullopt).kind == Answer::kUnsatisfiable);
    CHECK(answer(std::nullopt, "bytes=x-", std::nullopt).kind == Answer::kWhole);

    CHECK(api::bearer_token_of("Bearer s3cret") == "s3cret");
    CHECK(api::bearer_token_of("bEARER s3cret") == "s3cret");
    CHECK(api::bearer_token_of("Bearer ").empty());
    CHECK(api::bearer_token_of("Basic dXNlcg==").empty());

    const std::string hex(64, 'A');
    CHECK(api::upload_sha256_of("") == std::string());
    CHECK(api::upload_sha256_of(hex) == std::string(64, 'a'));
    CHECK(api::upload_sha256_of(std::string(63, 'a')) == std::nullopt);
    CHECK(api::upload_sha256_of(std::string(63, 'a') + "g") == std::nullopt);
    CHECK(api::upload_sha256_of(std::string(1 << 20, 'a')) == std::nullopt);
}

namespace {

namespace beast = faceswap::net::beast;
using tcp = faceswap::net::tcp;

// A transport that records writes and completes them when the test says so.
class RecordingTransport : public faceswap::net::WsTransport {
  public:
    struct Write {
        std::string bytes;
        bool text;
        Handler done;
    };
    std::vector<Write> writes;

    void connect(const tcp::resolver::results_type&, const std::string&, const std::string&,
                 const std::string&, std::chrono::milliseconds, Handler) override {}
    void accept(const beast::http::request<beast::http::string_body>&, Handler) override {}
    void write(const void* data, std::size_t size, bool text, Handler done) override {
        writes.push_back(
            {std::string(static_cast<const char*>(data), size), text, std::move(done)});
    }
    void read(beast::flat_buffer&, ReadHandler) override {}
    void close(std::uint16_t, const std::string&, Handler) override {}
    beast::websocket::close_reason close_reason() const override { return {}; }
    void set_read_limit(std::size_t) override {}
    void set_timeouts(beast::role_type, std::chrono::seconds, std::chrono::seconds) override {}
    void abort() override {}
};

faceswap::net::WriteQueue::Message message(const std::string& text, bool is_text) {
    return {std::vector<std::uint8_t>(text.begin(), text.end()), is_text};
}

}  // namespace

TEST_CASE("write queue: one write at a time, in order, the oldest binary message dropped first") {
    RecordingTransport transport;
    faceswap::net::WriteQueue queue;
    std::vector<std::string> completed;
    const auto pump = [&](auto& self) -> void {
        queue.write_next(transport, [&](beast::error_code ec) {
            completed.push_back(ec ? "error" : "ok");
            if (!ec) self(self);
        });
    };
    CHECK_FALSE(queue.write_next(transport, [](beast::error_code) {}));  // nothing to write
    queue.push(message("hello", true));
    queue.push(message("r1", false));
    pump(pump);
    REQUIRE(transport.writes.size() == 1);  // one in flight, the rest waits
    CHECK(transport.writes[0].bytes == "hello");
    CHECK(transport.writes[0].text);
    CHECK(queue.writing());
    CHECK_FALSE(queue.write_next(transport, [](beast::error_code) {}));  // still one at a time

    // Over the limit the oldest waiting binary message goes; text and the one mid-write stay.
    CHECK_FALSE(queue.push(message("r2", false), 3));
    CHECK(queue.push(message("r3", false), 3));  // r1 dropped
    CHECK(queue.size() == 3);                    // hello (writing), r2, r3
    transport.writes[0].done({});                // hello written: r2 starts
    REQUIRE(transport.writes.size() == 2);
    CHECK(transport.writes[1].bytes == "r2");
    transport.writes[1].done({});
    REQUIRE(transport.writes.size() == 3);
    CHECK(transport.writes[2].bytes == "r3");
    CHECK(queue.bytes() == 2);  // r3, mid-write

    // Over the byte limit the oldest waiting binary messages go, as many as it takes.
    queue.push(message("aaaa", false), 100, 10);
    queue.push(message("bbbb", false), 100, 10);
    CHECK(queue.push(message("cccccc", false), 100, 10) == 2);  // aaaa and bbbb: 2 + 6 bytes
    CHECK(queue.bytes() == 8);
    transport.writes[2].done({});
    REQUIRE(transport.writes.size() == 4);
    CHECK(transport.writes[3].bytes == "cccccc");
    CHECK(queue.bytes() == 6);
    transport.writes[3].done({});
    CHECK(queue.empty());
    CHECK(queue.bytes() == 0);

    queue.push(message("r4", false));
    pump(pump);

    // A failed write keeps its message (the owner closes the connection) and stops the pump.
    REQUIRE(transport.writes.size() == 5);
    transport.writes[4].done(boost::asio::error::connection_reset);
    CHECK(completed == std::vector<std::string>{"ok", "ok", "ok", "ok", "error"});
    CHECK(queue.size() == 1);
    CHECK_FALSE(queue.writing());
    queue.clear();
    CHECK(queue.empty());
}

TEST_CASE(
    "connection limits count in all and per address and free a slot when its last copy goes") {
    faceswap::server::ConnectionLimits limits(3, 2);
    using Verdict = faceswap::server::ConnectionLimits::Verdict;
    Verdict verdict;
    auto a1 = limits.admit("10.0.0.1", verdict);
    auto a2 = limits.admit("10.0.0.1", verdict);
    CHECK((a1 && a2 && verdict == Verdict::kAdmitted));
    CHECK(limits.admit("10.0.0.1", verdict) == nullptr);
    CHECK(verdict == Verdict::kTooManyFromAddress);
    auto b1 = limits.admit("10.0.0.2", verdict);
    CHECK(b1 != nullptr);
    CHECK(limits.admit("10.0.0.3", verdict) == nullptr);
    CHECK(verdict == Verdict::kTooManyConnections);
    CHECK(limits.open() == 3);

    auto copy = a1;  // a connection handed to its session: one slot still
    a1.reset();
    CHECK(limits.open_from("10.0.0.1") == 2);
    copy.reset();
    CHECK(limits.open_from("10.0.0.1") == 1);
    CHECK(limits.admit("10.0.0.3", verdict) != nullptr);  // freed slot, taken and given back
    a2.reset();
    b1.reset();
    CHECK(limits.open() == 0);
    CHECK(limits.open_from("10.0.0.1") == 0);

    faceswap::server::ConnectionLimits unlimited(0, 0);
    std::vector<std::shared_ptr<void>> many;
    for (int i = 0; i < 1000; ++i) many.push_back(unlimited.admit("10.0.0.1", verdict));
    CHECK(unlimited.open() == 1000);
}
