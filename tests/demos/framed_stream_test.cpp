// Frames over a real TCP connection on 127.0.0.1: what one end writes, the other reads as the same frames,
// however the kernel splits or joins the bytes; the error cases end the stream with a named error.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/write.hpp>

#include "framed_stream.hpp"
#include "loopback.hpp"

namespace demos::test {
namespace {

struct Received {
  std::vector<std::string> frames;
  std::optional<std::error_code> end;  // set when the reader stopped
};

asio::awaitable<void> read_all(FrameReader& reader, Received& out) {
  for (;;) {
    const auto [error, payload] = co_await reader.read();
    if (error) {
      out.end = error;
      co_return;
    }
    out.frames.push_back(text_of(payload));
  }
}

asio::awaitable<void> write_all(asio::ip::tcp::socket& socket, const std::vector<std::string>& frames) {
  for (const auto& frame : frames) {
    const auto error = co_await write_frame(socket, byte_view(frame));
    EXPECT_FALSE(error) << error.message();
  }
  socket.shutdown(asio::ip::tcp::socket::shutdown_send);
}

TEST(FramedStream, ManyFramesOfEverySizeArriveWholeAndInOrder) {
  asio::io_context io;
  auto [client, server] = tcp_pair(io);
  std::vector<std::string> sent;
  for (const std::size_t size : std::vector<std::size_t>{0, 1, 3, 4, 5, 100, 16383, 16384, 16385, 40000, 65536}) {
    sent.push_back(std::string(size, static_cast<char>('a' + size % 26)));
  }
  for (int i = 0; i < 200; ++i) sent.push_back("m" + std::to_string(i));  // small frames share a read

  FrameReader reader(server);
  Received received;
  asio::co_spawn(io, write_all(client, sent), asio::detached);
  asio::co_spawn(io, read_all(reader, received), asio::detached);
  ASSERT_TRUE(run_until(io, [&] { return received.end.has_value(); }));
  EXPECT_EQ(*received.end, asio::error::eof);
  EXPECT_EQ(received.frames, sent);
}

TEST(FramedStream, ALengthAboveTheLimitEndsTheStream) {
  asio::io_context io;
  auto [client, server] = tcp_pair(io);
  // A good frame, then a header announcing 64 KiB + 1: the reader must stop without waiting for its bytes.
  const std::vector<unsigned char> raw = {0, 0, 0, 2, 'o', 'k', 0, 1, 0, 1};
  asio::write(client, asio::buffer(raw));
  FrameReader reader(server);
  Received received;
  asio::co_spawn(io, read_all(reader, received), asio::detached);
  ASSERT_TRUE(run_until(io, [&] { return received.end.has_value(); }));
  EXPECT_EQ(received.frames, std::vector<std::string>{"ok"});
  EXPECT_EQ(*received.end, make_error_code(frame_errc::too_large));
}

TEST(FramedStream, AStreamEndingInsideAFrameIsTruncated) {
  asio::io_context io;
  auto [client, server] = tcp_pair(io);
  const std::vector<unsigned char> raw = {0, 0, 0, 5, 'h', 'e'};
  asio::write(client, asio::buffer(raw));
  client.shutdown(asio::ip::tcp::socket::shutdown_send);
  FrameReader reader(server);
  Received received;
  asio::co_spawn(io, read_all(reader, received), asio::detached);
  ASSERT_TRUE(run_until(io, [&] { return received.end.has_value(); }));
  EXPECT_TRUE(received.frames.empty());
  EXPECT_EQ(*received.end, make_error_code(frame_errc::truncated));
}

TEST(FramedStream, APayloadTooLargeForAFrameIsNotWritten) {
  asio::io_context io;
  auto [client, server] = tcp_pair(io);
  const std::string big(max_frame_payload + 1, 'x');
  std::optional<std::error_code> result;
  asio::co_spawn(io, write_frame(client, byte_view(big)), [&](std::exception_ptr, std::error_code ec) { result = ec; });
  ASSERT_TRUE(run_until(io, [&] { return result.has_value(); }));
  EXPECT_EQ(*result, make_error_code(frame_errc::payload_too_large));
  EXPECT_EQ(server.available(), 0U);
}

}  // namespace
}  // namespace demos::test
