#include "tftp/asio/socket_buffers.hpp"

#include <sys/socket.h>

#include <algorithm>

namespace tftp::net {
namespace {

int current(int fd, int option) {
  int value = 0;
  socklen_t length = sizeof value;
  ::getsockopt(fd, SOL_SOCKET, option, &value, &length);
  return value;
}

// The kernel doubles what it is given (for bookkeeping) and reports the doubled value.
void raise(int fd, int option, int force_option, int wanted) {
  if (current(fd, option) >= wanted) return;
  const int request = wanted / 2;
  ::setsockopt(fd, SOL_SOCKET, option, &request, sizeof request);
  if (current(fd, option) < wanted) ::setsockopt(fd, SOL_SOCKET, force_option, &request, sizeof request);
}

}  // namespace

std::size_t window_buffer_bytes(std::uint16_t block_size, std::uint16_t window_size) noexcept {
  constexpr std::size_t overhead = 768;  // sk_buff and headers per datagram, roughly, on loopback
  return 2 * std::size_t{window_size} * (std::size_t{block_size} + 4 + overhead);
}

std::size_t size_socket_buffers(asio::ip::udp::socket& socket, std::size_t bytes) noexcept {
  const int fd = socket.native_handle();
  const int wanted = static_cast<int>(std::min<std::size_t>(bytes, 1U << 30));
  raise(fd, SO_RCVBUF, SO_RCVBUFFORCE, wanted);
  raise(fd, SO_SNDBUF, SO_SNDBUFFORCE, wanted);
  return static_cast<std::size_t>(current(fd, SO_RCVBUF));
}

}  // namespace tftp::net
