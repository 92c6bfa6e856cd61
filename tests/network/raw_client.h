// A blocking raw WebSocket client for the refusal and abuse tests: it says exactly what the test
// tells it to, and reads the server's error and close.
#pragma once

#include <catch2/catch.hpp>

#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "faceswap/net/protocol.h"
#include "net_test_support.h"

namespace faceswap::test {

// A blocking WebSocket client that says exactly what the test tells it to.
// From `source` (127.0.0.2 and up are loopback too: an abuser with an address of its own).
class RawClient {
  public:
    explicit RawClient(std::uint16_t port, const std::string& source = "127.0.0.1") : ws_(ioc_) {
        auto& socket = boost::beast::get_lowest_layer(ws_).socket();
        socket.open(boost::asio::ip::tcp::v4());
        socket.bind(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address(source), 0));
        boost::beast::get_lowest_layer(ws_).connect(
            boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
        boost::beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(10));
        ws_.handshake("127.0.0.1:" + std::to_string(port), "/");
        ws_.read_message_max(64 << 20);
    }

    void send_text(const std::string& text) {
        ws_.text(true);
        ws_.write(boost::asio::buffer(text));
    }
    void send_binary(const std::vector<std::uint8_t>& bytes) {
        ws_.binary(true);
        ws_.write(boost::asio::buffer(bytes));
    }
    void hello(const std::string& token, const std::string& model = "demo") {
        net::Hello hello;
        hello.token = token;
        hello.model = model;
        send_text(net::encode_hello(hello));
    }
    void welcomed_hello(const std::string& token) {
        hello(token);
        REQUIRE(nlohmann::json::parse(read_text())["type"] == "welcome");
    }
    std::string read_text() {
        boost::beast::flat_buffer buffer;
        ws_.read(buffer);
        return boost::beast::buffers_to_string(buffer.data());
    }

    // Reads until the server's error message and its close; returns {code, close code}.
    std::pair<std::string, int> expect_refusal() {
        std::string code;
        boost::beast::error_code ec;
        while (true) {
            boost::beast::flat_buffer buffer;
            ws_.read(buffer, ec);
            if (ec) break;
            if (ws_.got_text()) {
                const auto json =
                    nlohmann::json::parse(boost::beast::buffers_to_string(buffer.data()));
                if (json["type"] == "error") code = json["code"];
            }
        }
        CHECK(ec == boost::beast::websocket::error::closed);
        return {code, static_cast<int>(ws_.reason().code)};
    }

  private:
    boost::asio::io_context ioc_;
    boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
};

inline std::vector<std::uint8_t> frame_message(const JpegFrame& frame, std::uint64_t id = 1) {
    net::FrameHeader header;
    header.frame_id = id;
    header.capture_timestamp_us = 1;
    header.width = static_cast<std::uint16_t>(frame.width);
    header.height = static_cast<std::uint16_t>(frame.height);
    return net::encode_message(header, frame.jpeg);
}

// A real JPEG whose SOF0 marker is rewritten to declare width x height.
inline std::vector<std::uint8_t> jpeg_declaring(std::vector<std::uint8_t> jpeg, int width,
                                                int height) {
    for (std::size_t i = 2; i + 9 < jpeg.size(); ++i) {
        if (jpeg[i] == 0xFF && (jpeg[i + 1] == 0xC0 || jpeg[i + 1] == 0xC2)) {
            jpeg[i + 5] = static_cast<std::uint8_t>(height >> 8);
            jpeg[i + 6] = static_cast<std::uint8_t>(height & 0xFF);
            jpeg[i + 7] = static_cast<std::uint8_t>(width >> 8);
            jpeg[i + 8] = static_cast<std::uint8_t>(width & 0xFF);
            return jpeg;
        }
    }
    FAIL("no SOF marker");
    return jpeg;
}

}  // namespace faceswap::test
