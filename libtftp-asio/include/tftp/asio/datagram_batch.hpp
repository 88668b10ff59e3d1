#pragma once
// Receives what a UDP socket holds, several datagrams per system call (recvmmsg with MSG_DONTWAIT), for a
// driver that waits for readability with async_wait and then reads in its own handler.
//
// Why: every read then happens in the driver's code, in order, never in the reactor on its behalf. The
// server relies on that: a client's last ACK, queued on a session's socket, must be read before a new
// request from the same port on the listening socket is judged (an async_receive may already have read
// the ACK into its buffer with its completion not yet run). It also takes a window of DATA in fewer calls
// (the client's downloads). The cost is the same as async_receive_from's: asio re-arms the descriptor for
// a wait (epoll_ctl) where a receive first tries a read that, in lock-step, fails.
//
// The loop that uses it: wait; receive; handle each datagram; if the batch came back full (or with a
// deferred socket error), receive again, else wait again.

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <system_error>
#include <vector>

#include <asio/ip/udp.hpp>

#include "tftp/address.hpp"

namespace tftp::net {

class DatagramBatch {
 public:
  // count datagrams of at most size bytes each (a longer one is cut to size, which shows it as too long
  // when size is one more than the longest acceptable datagram). With local_addresses, each datagram's
  // local address is kept too (the socket must report them: report_local_addresses).
  DatagramBatch(std::size_t count, std::size_t size, bool local_addresses = false);
  DatagramBatch(const DatagramBatch&) = delete;
  DatagramBatch& operator=(const DatagramBatch&) = delete;
  // The headers point into the heap storage, which a move keeps in place.
  DatagramBatch(DatagramBatch&&) noexcept = default;
  DatagramBatch& operator=(DatagramBatch&&) noexcept = default;

  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return headers_.size(); }

  // Receives without blocking: the number of datagrams (0 when none is queued), or 0 with ec set to the
  // socket's error (e.g. connection_refused for an ICMP error that an earlier send drew; the queue may
  // still hold datagrams behind it).
  std::size_t receive(asio::ip::udp::socket& socket, std::error_code& ec);

  // The i-th datagram of the last receive: its bytes (writable, with room for one more byte when it was
  // shorter than size()) and its sender.
  std::span<std::byte> datagram(std::size_t i) noexcept;
  SocketAddress from(std::size_t i) const noexcept;
  // The address the i-th datagram was sent to; nullopt without local_addresses or when none is usable.
  std::optional<LocalAddress> local(std::size_t i) const;

 private:
  std::size_t size_;
  std::vector<unsigned char> control_;  // local_address_control_size per datagram, or empty
  std::unique_ptr<std::byte[]> storage_;  // not zeroed: a slot's pages are touched only by what arrives
  std::vector<sockaddr_storage> addresses_;
  std::vector<iovec> vectors_;
  std::vector<mmsghdr> headers_;
};

}  // namespace tftp::net
