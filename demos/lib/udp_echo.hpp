#pragma once
// udp-echo: the echo server of the course notes and its client, as coroutines the tests call directly.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <asio/awaitable.hpp>
#include <asio/ip/udp.hpp>

namespace demos {

// Sends every datagram back to its sender, until the socket is closed. log may be empty.
asio::awaitable<void> serve_echo(asio::ip::udp::socket& socket, std::function<void(std::string_view)> log);

// Sends payload to peer and waits for one datagram from that peer (others are ignored: anyone can send
// to our port). nullopt when none arrives within timeout or the send fails.
asio::awaitable<std::optional<std::string>> echo_round_trip(asio::ip::udp::socket& socket,
                                                            asio::ip::udp::endpoint peer, std::string payload,
                                                            std::chrono::milliseconds timeout);

}  // namespace demos
