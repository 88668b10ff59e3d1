#pragma once
// Socket buffers sized for a window: with windowsize N and blksize B up to N datagrams of B + 4 bytes arrive
// back to back, and the default receive buffer (about 208 KiB) drops most of a 65464 x 16 window on
// loopback, so every window would end in a timeout. Both drivers size their socket once the window is known.

#include <cstddef>
#include <cstdint>

#include <asio/ip/udp.hpp>

namespace tftp::net {

// The buffer bytes a window needs, with room for the kernel's per-datagram overhead and one window more in
// flight (retransmissions overlapping new data).
std::size_t window_buffer_bytes(std::uint16_t block_size, std::uint16_t window_size) noexcept;

// Raises SO_RCVBUF and SO_SNDBUF to at least `bytes` (never lowers them). Above net.core.rmem_max/wmem_max
// this needs CAP_NET_ADMIN (SO_RCVBUFFORCE); without it the buffers stay at the system maximum. Returns
// the receive buffer size the kernel reports afterwards; errors are ignored (the transfer still works, slower).
std::size_t size_socket_buffers(asio::ip::udp::socket& socket, std::size_t bytes) noexcept;

}  // namespace tftp::net
