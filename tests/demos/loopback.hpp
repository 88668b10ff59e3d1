#pragma once
// Helpers for the demos' socket tests: everything runs on one io_context in the test's thread, and a test
// waits for an event by running handlers until a condition holds, bounded by a deadline (never a sleep).

#include <chrono>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include "support/bytes.hpp"

namespace demos::test {

using tftp::test::byte_view;
using tftp::test::text_of;

inline constexpr std::chrono::seconds event_limit{10};

// Runs handlers until done() holds; false when the deadline passed (or nothing is left to run) first.
template <class Done>
bool run_until(asio::io_context& io, Done done, std::chrono::steady_clock::duration limit = event_limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (io.stopped()) io.restart();
    if (io.run_one_until(deadline) == 0 && io.stopped()) return done();
  }
  return true;
}

// A connected pair on 127.0.0.1: first the client end, then the server end.
inline std::pair<asio::ip::tcp::socket, asio::ip::tcp::socket> tcp_pair(asio::io_context& io) {
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  asio::ip::tcp::socket client(io);
  client.connect(acceptor.local_endpoint());  // completes from the listen backlog before accept
  return {std::move(client), acceptor.accept()};
}

}  // namespace demos::test
