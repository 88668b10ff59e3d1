#include "framed_stream.hpp"

#include <string>

#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

namespace demos {
namespace {

constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

class FrameCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "demos.frame"; }
  std::string message(int value) const override {
    switch (static_cast<frame_errc>(value)) {
      case frame_errc::too_large: return "the peer sent a frame longer than the limit";
      case frame_errc::truncated: return "the stream ended inside a frame";
      case frame_errc::payload_too_large: return "the payload does not fit in one frame";
    }
    return "unknown frame error";
  }
};

}  // namespace

const std::error_category& frame_category() noexcept {
  static const FrameCategory category;
  return category;
}

std::error_code make_error_code(frame_errc e) noexcept { return {static_cast<int>(e), frame_category()}; }

asio::awaitable<FrameRead> FrameReader::read() {
  for (;;) {
    if (auto payload = decoder_.next()) co_return FrameRead{{}, *payload};
    if (decoder_.failed()) co_return FrameRead{frame_errc::too_large, {}};
    auto [error, n] = co_await socket_.async_read_some(asio::buffer(buffer_), use_tuple);
    if (error == asio::error::eof && decoder_.mid_frame()) co_return FrameRead{frame_errc::truncated, {}};
    if (error) co_return FrameRead{error, {}};
    decoder_.feed(std::span<const std::byte>(buffer_.data(), n));
  }
}

asio::awaitable<std::error_code> write_frame(asio::ip::tcp::socket& socket, std::span<const std::byte> payload) {
  if (payload.size() > max_frame_payload) co_return frame_errc::payload_too_large;
  std::array<std::byte, frame_header_size> header{};
  encode_frame_header(static_cast<std::uint32_t>(payload.size()), header);
  const std::array buffers{asio::const_buffer(header.data(), header.size()),
                           asio::const_buffer(payload.data(), payload.size())};
  auto [error, n] = co_await asio::async_write(socket, buffers, use_tuple);
  static_cast<void>(n);
  co_return error;
}

}  // namespace demos
