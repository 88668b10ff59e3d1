#pragma once
// Length-prefixed frames (frame.hpp) over a TCP socket, as coroutines. The byte-stream side only:
// FrameReader feeds whatever one read returns to a FrameDecoder and hands back whole frames, so the
// "sticky packets" of TCP never reach the code above it.
//
// Errors are values (no exceptions on the network path): end of stream between frames is
// asio::error::eof, end of stream inside a frame is frame_errc::truncated, a length above the limit is
// frame_errc::too_large (the connection cannot be resynchronised and should be closed).

#include <array>
#include <cstddef>
#include <span>
#include <system_error>
#include <type_traits>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "frame.hpp"

namespace demos {

enum class frame_errc {
  too_large = 1,  // the peer announced a frame longer than the reader's limit
  truncated,      // the stream ended in the middle of a frame
  payload_too_large,  // write_frame was given more than max_frame_payload bytes
};

const std::error_category& frame_category() noexcept;
std::error_code make_error_code(frame_errc e) noexcept;

struct FrameRead {
  std::error_code error;
  std::span<const std::byte> payload;  // valid until the next read(); empty on error
};

class FrameReader {
 public:
  explicit FrameReader(asio::ip::tcp::socket& socket, std::size_t max_payload = max_frame_payload) noexcept
      : socket_(socket), decoder_(max_payload) {}

  // The next whole frame, reading from the socket only when the bytes already read hold none.
  asio::awaitable<FrameRead> read();

 private:
  asio::ip::tcp::socket& socket_;
  FrameDecoder decoder_;
  std::array<std::byte, 16 * 1024> buffer_{};
};

// Header and payload in one gathered write; frame_errc::payload_too_large without writing anything when
// the payload does not fit a frame.
asio::awaitable<std::error_code> write_frame(asio::ip::tcp::socket& socket, std::span<const std::byte> payload);

}  // namespace demos

template <>
struct std::is_error_code_enum<demos::frame_errc> : std::true_type {};
