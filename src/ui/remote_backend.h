// Remote mode: frames go to a faceswap-server through the client library (pipelined, newest
// frame wins, reconnects by itself); swapped JPEGs come back and are decoded here, on a
// thread of this backend rather than the client's network thread.
#pragma once

#include <QString>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "faceswap/net/client.h"
#include "swap_backend.h"

namespace faceswap::ui {

struct RemoteSettings {
    std::string url = "ws://127.0.0.1:8080/";
    std::string token;
    std::string model = "demo";
    net::Direction direction = net::Direction::kAToB;
    int quality = 85;
    FaceDetail detail;  // the hello's detail settings
    FaceChoice faces;   // the hello's face choice
    bool tls_verify = true;
};

class RemoteBackend : public SwapBackend {
    Q_OBJECT
  public:
    explicit RemoteBackend(RemoteSettings settings, QObject* parent = nullptr);
    ~RemoteBackend() override;
    void start(std::shared_ptr<capture::FrameMailbox> input) override;
    void stop() override;
    QString describe() const override;
    void set_settings(RemoteSettings settings);  // used from the next start()
    net::ClientStats client_stats() const;
    // Adds the client's own: frames replaced before sending, superseded at the server, lost.
    BackendCounters counters() const override;

  private:
    void feed(std::shared_ptr<capture::FrameMailbox> input);
    void on_result(net::ResultFrame&& result);
    void on_event(const net::ClientEvent& event);
    void join_all();
    void decode_results();  // the decoder thread
    void stop_decoder();

    RemoteSettings settings_;
    std::shared_ptr<net::Client> client_;
    std::thread feeder_;
    std::thread stopper_;  // stops the client off the GUI thread
    std::atomic<bool> stop_requested_{false};
    std::unique_ptr<struct RemoteDecoder> decoder_;  // used on the decoder thread only
    std::thread decoder_thread_;
    // The newest result not yet decoded: the network thread hands it over and goes on.
    std::mutex results_mutex_;
    std::condition_variable results_changed_;
    std::optional<net::ResultFrame> pending_result_;
    bool decoder_stop_ = false;
    // The frames in flight, by the client's frame id, so that a result names its frame.
    std::mutex in_flight_mutex_;
    std::deque<std::pair<std::uint64_t, capture::FramePtr>> in_flight_;
};

}  // namespace faceswap::ui
