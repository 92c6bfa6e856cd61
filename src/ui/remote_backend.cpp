#include "remote_backend.h"

#include <algorithm>
#include <vector>

#include "faceswap/net/jpeg.h"

namespace faceswap::ui {

struct RemoteDecoder {
    net::JpegCodec codec;
    std::vector<std::uint8_t> pixels;
};

RemoteBackend::RemoteBackend(RemoteSettings settings, QObject* parent)
    : SwapBackend(parent),
      settings_(std::move(settings)),
      decoder_(std::make_unique<RemoteDecoder>()) {}

RemoteBackend::~RemoteBackend() {
    stop_requested_ = true;
    join_all();
    if (client_) client_->stop();
    stop_decoder();
}

void RemoteBackend::stop_decoder() {
    {
        std::lock_guard lock(results_mutex_);
        decoder_stop_ = true;
    }
    results_changed_.notify_all();
    if (decoder_thread_.joinable()) decoder_thread_.join();
    std::lock_guard lock(results_mutex_);
    pending_result_.reset();
    decoder_stop_ = false;
}

void RemoteBackend::set_settings(RemoteSettings settings) {
    settings_ = std::move(settings);
}

QString RemoteBackend::describe() const {
    return QStringLiteral("remote, %1").arg(QString::fromStdString(settings_.url));
}

net::ClientStats RemoteBackend::client_stats() const {
    auto client = std::atomic_load(&client_);
    return client ? client->stats() : net::ClientStats{};
}

BackendCounters RemoteBackend::counters() const {
    BackendCounters counters = SwapBackend::counters();
    const net::ClientStats stats = client_stats();
    counters.skipped += static_cast<std::int64_t>(stats.dropped + stats.skipped);
    counters.lost = std::max<std::int64_t>(counters.lost, static_cast<std::int64_t>(stats.lost));
    return counters;
}

void RemoteBackend::join_all() {
    if (stopper_.joinable()) stopper_.join();
    if (feeder_.joinable()) feeder_.join();
}

void RemoteBackend::start(std::shared_ptr<capture::FrameMailbox> input) {
    stop_requested_ = true;
    join_all();
    if (client_) client_->stop();
    stop_decoder();
    stop_requested_ = false;
    reset_counters();
    {
        std::lock_guard lock(in_flight_mutex_);
        in_flight_.clear();
    }
    decoder_thread_ = std::thread([this] { decode_results(); });

    net::ClientConfig config;
    config.url = settings_.url;
    config.token = settings_.token;
    config.model = settings_.model;
    config.direction = settings_.direction;
    config.quality = settings_.quality;
    config.detail = settings_.detail;
    config.faces = settings_.faces;
    config.tls_verify = settings_.tls_verify;
    set_state(BackendState::kStarting,
              QStringLiteral("connecting to %1").arg(QString::fromStdString(config.url)));
    try {
        auto client = std::make_shared<net::Client>(
            config, [this](net::ResultFrame&& result) { on_result(std::move(result)); },
            [this](const net::ClientEvent& event) { on_event(event); });
        std::atomic_store(&client_, client);
    } catch (const std::exception& e) {  // a malformed URL
        set_state(BackendState::kFailed, QString::fromStdString(e.what()));
        return;
    }
    client_->start();
    feeder_ = std::thread([this, input = std::move(input)] { feed(input); });
}

void RemoteBackend::stop() {
    if (!client_ || !active() || state() == BackendState::kStopping) return;
    set_state(BackendState::kStopping);
    stop_requested_ = true;
    if (stopper_.joinable()) stopper_.join();
    // Closing the WebSocket waits for the server's close reply (or a timeout): off the GUI thread.
    stopper_ = std::thread([this] {
        if (feeder_.joinable()) feeder_.join();
        client_->stop();
        stop_decoder();
        lost_ = static_cast<std::int64_t>(client_->stats().lost);
        set_state(BackendState::kStopped);
    });
}

// Submits the newest captured frame whenever the client's window has room; frames captured in
// between are skipped here rather than encoded for nothing.
void RemoteBackend::feed(std::shared_ptr<capture::FrameMailbox> input) {
    std::int64_t last = input->published();
    while (!stop_requested_) {
        const capture::FramePtr frame = input->wait_newer(last, std::chrono::milliseconds(100));
        if (!frame) continue;
        if (!client_->ready_for_frame())
            continue;  // wait for the next frame; this one is stale soon
        if (last > 0 && frame->sequence > last + 1) skipped_ += frame->sequence - last - 1;
        last = frame->sequence;
        const cv::Mat& bgr = frame->bgr;
        // The lock spans the submit, so a result (on the network thread) finds its frame.
        std::lock_guard lock(in_flight_mutex_);
        const std::uint64_t id = client_->submit_bgr(
            bgr.data, bgr.cols, bgr.rows, static_cast<int>(bgr.step[0]), frame->capture_us);
        in_flight_.emplace_back(id, frame);
        while (in_flight_.size() > 32) in_flight_.pop_front();
    }
}

// On the client's network thread: hand the result over and return (decoding a 640x480 JPEG
// takes a few ms the socket should not wait for). An older result still waiting to be decoded
// is superseded: the view shows the newest.
void RemoteBackend::on_result(net::ResultFrame&& result) {
    {
        std::lock_guard lock(results_mutex_);
        if (pending_result_) ++skipped_;
        pending_result_ = std::move(result);
    }
    results_changed_.notify_all();
}

void RemoteBackend::decode_results() {
    for (;;) {
        net::ResultFrame result;
        {
            std::unique_lock lock(results_mutex_);
            results_changed_.wait(lock, [&] { return decoder_stop_ || pending_result_; });
            if (decoder_stop_) return;
            result = std::move(*pending_result_);
            pending_result_.reset();
        }
        try {
            decoder_->codec.decode(result.jpeg, {result.width, result.height},
                                   static_cast<std::int64_t>(result.width) * result.height,
                                   net::PixelOrder::kBgr, decoder_->pixels);
        } catch (const std::exception&) {
            ++lost_;  // the server sent a frame we cannot decode: count it, keep streaming
            continue;
        }
        auto out = std::make_shared<SwappedFrame>();
        out->image =
            bgr_image(decoder_->pixels.data(), result.width, result.height, result.width * 3);
        out->capture_us = result.capture_timestamp_us;
        out->faces = result.server.faces;
        out->work_ms = result.rtt_ms;
        {
            std::lock_guard lock(in_flight_mutex_);
            // Matched by frame id: two frames may share a capture time (a paused source).
            const auto sent =
                std::find_if(in_flight_.begin(), in_flight_.end(),
                             [&](const auto& f) { return f.first == result.frame_id; });
            if (sent != in_flight_.end()) {
                out->source = sent->second;
                out->sequence = sent->second->sequence;
                in_flight_.erase(in_flight_.begin(), sent + 1);  // older ones will not come
            }
        }
        ++swapped_;
        deliver(std::move(out));
    }
}

void RemoteBackend::on_event(const net::ClientEvent& event) {
    if (stop_requested_) return;  // stopping: the stopper reports kStopped
    const QString detail = QString::fromStdString(event.detail);
    switch (event.state) {
        case net::ClientState::kConnecting:
            set_state(BackendState::kStarting, detail);
            break;
        case net::ClientState::kConnected:
            set_state(BackendState::kRunning, detail);
            break;
        case net::ClientState::kReconnecting:
            set_state(BackendState::kReconnecting, detail);
            break;
        case net::ClientState::kFailed:
            // Refused for good (token, model, protocol): stop feeding, keep the reason.
            stop_requested_ = true;
            set_state(BackendState::kFailed, detail);
            break;
        case net::ClientState::kStopped:
            break;
    }
}

}  // namespace faceswap::ui
