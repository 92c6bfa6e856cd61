// faceswap-loadgen: N simulated clients stream a real video to a faceswap server at a set
// frame rate for a bounded time, and report throughput, end-to-end latency, drops and errors.
//
//   faceswap-loadgen --url ws://127.0.0.1:8080/ --clients 4 --fps 30 --duration 10
//   faceswap-loadgen --url ws://127.0.0.1:8080/ --blocking            # one frame at a time
//   faceswap-loadgen --url ws://127.0.0.1:8080/ --delay-ms 50         # + 50 ms round trip
//   faceswap-loadgen --local --swap-model resources/models/demo.fsmodel   # engine in-process
//
// Each client encodes its frames live (as a camera client would) and decodes every result;
// end-to-end latency runs from just before the encode to just after the decode.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <limits>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "delay_relay.h"
#include "faceswap/capture/engine_frames.h"
#include "faceswap/capture/media_reader.h"
#include "faceswap/clock.h"
#include "faceswap/net/client.h"
#include "faceswap/net/jpeg.h"
#include "faceswap/paths.h"
#include "faceswap/pipeline.h"
#include "faceswap/stats.h"
#include "faceswap/swap.h"
#include "processor.h"

using namespace faceswap;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

struct Options {
    std::string url = "ws://127.0.0.1:8080/";
    std::string token;
    std::string model = "demo";
    std::string direction = "a2b";
    std::string video;
    int clients = 1;
    double fps = 30;
    double duration_s = 10;
    double warmup_s = 2;
    int width = 640;
    int height = 480;
    int frames = 120;
    int quality = 85;
    int max_in_flight = 6;
    bool blocking = false;
    int delay_ms = 0;
    bool tls_insecure = false;
    std::string json_path;
    // --local
    bool pre_encode = false;
    bool local = false;
    std::string model_dir;
    std::string swap_model;
    std::string device = "auto";
};

using Percentiles = stats::Summary;
Percentiles percentiles(std::vector<double> samples) {
    return stats::summarize(std::move(samples));
}

std::vector<cv::Mat> load_frames(const Options& options, double& video_fps) {
    auto reader = capture::MediaReader::open(options.video);
    video_fps = reader->frames_per_second() > 0 ? reader->frames_per_second() : 30.0;
    std::vector<cv::Mat> frames;
    capture::DecodedFrame frame;
    while (static_cast<int>(frames.size()) < options.frames && reader->next(frame)) {
        cv::Mat resized;
        cv::resize(frame.bgr, resized, cv::Size(options.width, options.height), 0, 0,
                   cv::INTER_AREA);
        frames.push_back(resized);
    }
    if (frames.empty()) throw std::runtime_error("no frame in " + options.video);
    return frames;
}

// One simulated client and what it measured during the timed window.
struct SimClient {
    std::unique_ptr<net::Client> client;
    std::mutex mu;
    std::condition_variable replied;
    std::uint64_t last_reply = 0;
    std::vector<double> e2e_ms;
    std::vector<double> rtt_ms;
    std::vector<double> server_ms[4];  // decode, queue, engine, encode
    std::uint64_t received = 0;
    std::uint64_t reconnects = 0;
    bool measuring = false;
};

std::string fps_text(double fps) {
    std::ostringstream out;
    out << std::fixed << std::setprecision(fps == static_cast<int>(fps) ? 0 : 1) << fps << " FPS";
    return out.str();
}

// The engine in this process, one frame at a time through the same SwapPipeline the server
// runs (no JPEG, no network): the per-frame cost the remote figures are compared with.
int run_local(const Options& options, const std::vector<cv::Mat>& frames) {
    EngineConfig config = EngineConfig::defaults();
    config.model_dir = options.model_dir;
    config.device = options.device == "cpu"    ? DeviceKind::kCpu
                    : options.device == "cuda" ? DeviceKind::kCuda
                                               : DeviceKind::kAuto;
    config.background_detection = true;  // as the server runs it
    const auto face_models = FaceModels::load(config);
    const auto swap_model = SwapModel::load(options.swap_model, config);
    SwapConfig swap;
    swap.direction = parse_swap_direction(options.direction);
    SwapPipeline pipeline(face_models, config);
    std::mutex mutex;
    std::condition_variable answered;
    std::optional<PipelineResult> result;
    const StreamId stream = pipeline.open_stream(
        swap_model, swap,
        [&](PipelineResult&& r) {
            std::lock_guard lock(mutex);
            result = std::move(r);
            answered.notify_all();
        },
        FramePolicy::kEvery);
    std::vector<double> times;
    const auto start = Clock::now();
    const auto warm_until = start + std::chrono::duration<double>(options.warmup_s);
    const auto end = warm_until + std::chrono::duration<double>(options.duration_s);
    std::size_t i = 0;
    double t = 0;
    while (Clock::now() < end) {
        const cv::Mat& frame = frames[i % frames.size()];
        PipelineFrame job = capture::pipeline_frame_of(frame, t, i++);
        const auto t0 = Clock::now();
        pipeline.submit(stream, std::move(job));
        std::unique_lock lock(mutex);
        answered.wait(lock, [&] { return result.has_value(); });
        if (!result->error.empty()) {
            std::cerr << "error: " << result->error << "\n";
            return 1;
        }
        result.reset();
        t += 1.0 / 30;
        if (t0 >= warm_until)
            times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    const Percentiles p = percentiles(times);
    std::cout << std::fixed << std::setprecision(1) << "local engine ("
              << face_models->device_name() << ", " << options.width << "x" << options.height
              << "): " << times.size() << " frames, " << times.size() / options.duration_s
              << " FPS, per frame p50 " << p.p50 << " ms, p95 " << p.p95 << " ms\n";
    return times.empty() ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    options.video = faceswap::paths::demo_video();
    options.model_dir = faceswap::paths::face_model_dir();
    options.swap_model = faceswap::paths::swap_model();

    CLI::App app{"faceswap-loadgen: simulated clients streaming a real video to faceswap-server"};
    app.add_option("--url", options.url, "server URL (ws:// or wss://)");
    app.add_option("--token", options.token, "auth token");
    app.add_option("--model", options.model, "model id");
    app.add_option("--direction", options.direction, "a2b or b2a")
        ->check(CLI::IsMember({"a2b", "b2a"}));
    app.add_option("--video", options.video, "video to stream (default: franck.mp4)");
    app.add_option("-n,--clients", options.clients, "simultaneous clients")
        ->check(CLI::Range(1, 256));
    app.add_option("--fps", options.fps,
                   "frames per second per client (capture rate); 0: as fast as the window "
                   "allows (a source that waits for room, not one that drops)")
        ->check(CLI::Range(0.0, 1000.0));
    app.add_option("-d,--duration", options.duration_s, "measured seconds")
        ->check(CLI::Range(0.5, 3600.0));
    app.add_option("--warmup", options.warmup_s, "seconds streamed before measuring")
        ->check(CLI::Range(0.0, 60.0));
    app.add_option("--width", options.width, "frame width")->check(CLI::Range(16, 3840));
    app.add_option("--height", options.height, "frame height")->check(CLI::Range(16, 2160));
    app.add_option("--frames", options.frames,
                   "video frames to loop (played in real time at the video's frame rate)")
        ->check(CLI::Range(1, 10000));
    app.add_option("--quality", options.quality, "JPEG quality, both ways")
        ->check(CLI::Range(1, 100));
    app.add_option("--max-in-flight", options.max_in_flight, "pipelined window")
        ->check(CLI::Range(1, 64));
    app.add_flag("--blocking", options.blocking,
                 "send one frame, wait for its reply, then send the next (no pipelining)");
    app.add_option("--delay-ms", options.delay_ms,
                   "added round-trip delay: a local relay holds data delay/2 each way")
        ->check(CLI::Range(0, 10000));
    app.add_flag("--insecure", options.tls_insecure, "wss:// without certificate checks");
    app.add_flag("--pre-encode", options.pre_encode,
                 "encode the frames once up front instead of per frame (when the load "
                 "generator shares the server's CPU, so that client-side encoding does not "
                 "compete with the engine)");
    app.add_option("--json", options.json_path, "also write the report as JSON here");
    app.add_flag("--local", options.local,
                 "no network: run the engine in-process on the same frames (local mode FPS)");
    app.add_option("--model-dir", options.model_dir, "--local: detector and landmark models");
    app.add_option("--swap-model", options.swap_model, "--local: swap model file");
    app.add_option("--device", options.device, "--local: auto, cpu or cuda");
    CLI11_PARSE(app, argc, argv);

    try {
        double video_fps = 30;
        const std::vector<cv::Mat> frames = load_frames(options, video_fps);
        if (options.local) return run_local(options, frames);

        std::string url = options.url;
        std::unique_ptr<server::DelayRelay> relay;
        if (options.delay_ms > 0) {
            if (url.rfind("ws://", 0) != 0)
                throw std::runtime_error("--delay-ms relays ws:// only");
            const std::string rest = url.substr(5, url.find('/', 5) - 5);
            const auto colon = rest.rfind(':');
            relay = std::make_unique<server::DelayRelay>(
                rest.substr(0, colon),
                static_cast<std::uint16_t>(
                    std::stoi(colon == std::string::npos ? "80" : rest.substr(colon + 1))),
                std::chrono::microseconds(options.delay_ms * 500));
            url = "ws://127.0.0.1:" + std::to_string(relay->port()) + "/";
        }

        std::vector<std::vector<std::uint8_t>> jpegs;
        if (options.pre_encode) {
            net::JpegCodec codec;
            for (const cv::Mat& frame : frames) {
                jpegs.emplace_back();
                codec.encode(frame.data, frame.cols, frame.rows, static_cast<int>(frame.step[0]),
                             net::PixelOrder::kBgr, options.quality, jpegs.back());
            }
        }

        std::vector<std::unique_ptr<SimClient>> sims;
        for (int i = 0; i < options.clients; ++i) {
            auto sim = std::make_unique<SimClient>();
            net::ClientConfig config;
            config.url = url;
            config.token = options.token;
            config.model = options.model;
            config.direction =
                options.direction == "a2b" ? net::Direction::kAToB : net::Direction::kBToA;
            config.quality = options.quality;
            config.max_in_flight = options.blocking ? 1 : options.max_in_flight;
            config.tls_verify = !options.tls_insecure;
            config.client_marks = false;  // the server marks, as for the browser client
            SimClient* raw = sim.get();
            sim->client = std::make_unique<net::Client>(
                config,
                [raw](net::ResultFrame&& result) {
                    thread_local net::JpegCodec codec;
                    std::vector<std::uint8_t> pixels;
                    codec.decode(result.jpeg, {result.width, result.height}, 1ll << 26,
                                 net::PixelOrder::kBgr, pixels);
                    const double e2e = (clock::now_us() - result.capture_timestamp_us) / 1000.0;
                    std::lock_guard lock(raw->mu);
                    raw->last_reply = result.frame_id;
                    if (raw->measuring) {
                        ++raw->received;
                        raw->e2e_ms.push_back(e2e);
                        raw->rtt_ms.push_back(result.rtt_ms);
                        raw->server_ms[0].push_back(result.server.decode_us / 1000.0);
                        raw->server_ms[1].push_back(result.server.queue_us / 1000.0);
                        raw->server_ms[2].push_back(result.server.engine_us / 1000.0);
                        raw->server_ms[3].push_back(result.server.encode_us / 1000.0);
                    }
                    raw->replied.notify_all();
                },
                [raw, i](const net::ClientEvent& event) {
                    if (event.state == net::ClientState::kReconnecting ||
                        event.state == net::ClientState::kFailed || event.error) {
                        std::cerr << "client " << i << ": " << net::state_name(event.state) << ": "
                                  << event.detail << "\n";
                        std::lock_guard lock(raw->mu);
                        if (event.state == net::ClientState::kReconnecting) ++raw->reconnects;
                    }
                });
            sim->client->start();
            sims.push_back(std::move(sim));
        }
        for (auto& sim : sims) {
            const auto deadline = Clock::now() + std::chrono::seconds(10);
            while (sim->client->state() != net::ClientState::kConnected) {
                if (Clock::now() > deadline || sim->client->state() == net::ClientState::kFailed)
                    throw std::runtime_error("a client could not connect to " + options.url);
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
        }

        const auto start = Clock::now();
        const auto measure_from = start + std::chrono::duration_cast<Clock::duration>(
                                              std::chrono::duration<double>(options.warmup_s));
        const auto end = measure_from + std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(options.duration_s));
        const bool unpaced = options.fps <= 0;
        const auto period = unpaced ? Clock::duration::zero()
                                    : std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(1.0 / options.fps));
        std::vector<std::thread> senders;
        for (int i = 0; i < options.clients; ++i) {
            senders.emplace_back([&, i] {
                SimClient& sim = *sims[i];
                auto next = start + period * i / options.clients;  // staggered starts
                bool measuring = false;
                while (Clock::now() < end) {
                    if (unpaced) {
                        // Encode the next frame only when the window has room: a source
                        // flooding the slot would burn CPU on frames that are then dropped.
                        // (Skipped notices free slots too, without a result callback: poll.)
                        std::unique_lock lock(sim.mu);
                        while (Clock::now() < end && !sim.client->ready_for_frame())
                            sim.replied.wait_for(lock, 1ms);
                    } else {
                        std::this_thread::sleep_until(next);
                        next += period;
                    }
                    if (!measuring && Clock::now() >= measure_from) {
                        sim.client->reset_stats();
                        std::lock_guard lock(sim.mu);
                        sim.measuring = measuring = true;
                    }
                    // The frame a camera would deliver now: the video plays in real time
                    // whatever the client's pace, as a live source does (a blocking client does
                    // not get to see the video in slow motion).
                    const auto n = static_cast<std::size_t>(
                                       std::chrono::duration<double>(Clock::now() - start).count() *
                                       video_fps) +
                                   static_cast<std::size_t>(i) * 7;
                    const cv::Mat& frame = frames[n % frames.size()];
                    const std::uint64_t id =
                        options.pre_encode
                            ? sim.client->submit_jpeg(jpegs[n % jpegs.size()], frame.cols,
                                                      frame.rows)
                            : sim.client->submit_bgr(frame.data, frame.cols, frame.rows,
                                                     static_cast<int>(frame.step[0]));
                    if (options.blocking) {
                        // The report's architecture: nothing new until this frame is back.
                        std::unique_lock lock(sim.mu);
                        sim.replied.wait_until(lock, std::min(end, Clock::now() + 5s),
                                               [&] { return sim.last_reply >= id; });
                        if (Clock::now() > next) next = Clock::now();
                    }
                }
                std::lock_guard lock(sim.mu);
                sim.measuring = false;
            });
        }
        for (auto& t : senders) t.join();

        // Report.
        std::vector<double> e2e, rtt, stages[4];
        std::uint64_t received = 0, submitted = 0, dropped = 0, skipped = 0, lost = 0, errors = 0,
                      reconnects = 0;
        std::uint64_t slowest = std::numeric_limits<std::uint64_t>::max();  // fairness
        for (auto& sim : sims) {
            const net::ClientStats stats = sim->client->stats();
            sim->client->stop();
            std::lock_guard lock(sim->mu);
            received += sim->received;
            slowest = std::min<std::uint64_t>(slowest, sim->received);
            e2e.insert(e2e.end(), sim->e2e_ms.begin(), sim->e2e_ms.end());
            rtt.insert(rtt.end(), sim->rtt_ms.begin(), sim->rtt_ms.end());
            for (int s = 0; s < 4; ++s)
                stages[s].insert(stages[s].end(), sim->server_ms[s].begin(),
                                 sim->server_ms[s].end());
            submitted += stats.submitted;
            dropped += stats.dropped;
            skipped += stats.skipped;
            lost += stats.lost;
            errors += stats.errors;
            reconnects += sim->reconnects;
        }
        const double fps_total = received / options.duration_s;
        // The slowest client's frames over the mean client's: 1 is perfectly fair.
        const double slowest_share =
            received ? double(slowest) * options.clients / double(received) : 0.0;
        const Percentiles pe = percentiles(e2e), pr = percentiles(rtt);
        const char* mode = options.blocking ? "blocking" : "pipelined";
        std::cout << std::fixed << std::setprecision(1) << mode << ", " << options.clients
                  << " client(s) x " << (unpaced ? std::string("unpaced") : fps_text(options.fps))
                  << ", " << options.width << "x" << options.height << ", " << options.duration_s
                  << " s, added RTT " << options.delay_ms << " ms, window "
                  << (options.blocking ? 1 : options.max_in_flight) << "\n"
                  << "  throughput  " << fps_total << " FPS total, " << fps_total / options.clients
                  << " FPS per client, the slowest client " << std::setprecision(2) << slowest_share
                  << " of the mean\n"
                  << std::setprecision(1) << "  e2e latency p50 " << pe.p50 << " ms, p95 " << pe.p95
                  << " ms, p99 " << pe.p99 << " ms\n"
                  << "  round trip  p50 " << pr.p50 << " ms, p95 " << pr.p95 << " ms\n"
                  << "  server (mean ms) decode " << std::setprecision(2)
                  << percentiles(stages[0]).mean << ", queue " << percentiles(stages[1]).mean
                  << ", engine " << percentiles(stages[2]).mean << ", encode "
                  << percentiles(stages[3]).mean << "\n"
                  << "  frames      submitted " << submitted << ", received " << received
                  << ", dropped " << dropped << ", skipped " << skipped << ", lost " << lost
                  << ", errors " << errors << ", reconnects " << reconnects << "\n";
        if (!options.json_path.empty()) {
            nlohmann::json report = {
                {"mode", mode},
                {"clients", options.clients},
                {"fps_target", options.fps},
                {"slowest_client_share", slowest_share},
                {"width", options.width},
                {"height", options.height},
                {"duration_s", options.duration_s},
                {"delay_ms", options.delay_ms},
                {"fps_total", fps_total},
                {"fps_per_client", fps_total / options.clients},
                {"e2e_ms", {{"p50", pe.p50}, {"p95", pe.p95}, {"p99", pe.p99}}},
                {"rtt_ms", {{"p50", pr.p50}, {"p95", pr.p95}, {"p99", pr.p99}}},
                {"server_mean_ms",
                 {{"decode", percentiles(stages[0]).mean},
                  {"queue", percentiles(stages[1]).mean},
                  {"engine", percentiles(stages[2]).mean},
                  {"encode", percentiles(stages[3]).mean}}},
                {"submitted", submitted},
                {"received", received},
                {"dropped", dropped},
                {"skipped", skipped},
                {"lost", lost},
                {"errors", errors},
                {"reconnects", reconnects}};
            std::ofstream(options.json_path) << report.dump(2) << "\n";
        }
        return received > 0 && errors == 0 ? 0 : 1;
    } catch (const std::exception& e) {
        std::cerr << "faceswap-loadgen: " << e.what() << "\n";
        return 1;
    }
}
