#pragma once
// The local address a datagram was sent to, and sending from it: on a wildcard socket (0.0.0.0, [::]) the
// kernel would otherwise pick the source of an answer by routing, so a request sent to 127.0.0.2 (or to a
// second address of an interface, a VIP, an anycast address) would be answered from another address, which
// clients drop. IP_PKTINFO / IPV6_RECVPKTINFO report the destination of each datagram; IP_PKTINFO's
// ipi_spec_dst is the address to answer from (also for a request sent to a broadcast address), and
// IP_PKTINFO / IPV6_PKTINFO on sendmsg set the source of one datagram.

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <optional>
#include <span>
#include <system_error>

#include <asio/ip/udp.hpp>

#include "tftp/address.hpp"

namespace tftp::net {

// The address and interface of one received datagram (tftp::LocalAddress, from the core).
using tftp::LocalAddress;


// Room for the control messages one received datagram may carry (both kinds on a dual-stack socket).
inline constexpr std::size_t local_address_control_size =
    CMSG_SPACE(sizeof(in_pktinfo)) + CMSG_SPACE(sizeof(in6_pktinfo));

// Asks the kernel to report the local address of every datagram the socket receives (on an IPv6 socket
// both IPV6_RECVPKTINFO and, for the IPv4 datagrams of a dual-stack socket, IP_PKTINFO).
void report_local_addresses(asio::ip::udp::socket& socket, std::error_code& ec);

// The local address from the control messages of one received datagram; nullopt when there is none
// usable (a multicast destination, or the socket was not asked to report).
std::optional<LocalAddress> local_address_of(const msghdr& message, bool ipv6_socket);

// The peer of a received datagram, and a destination for sendto/sendmsg (returns its length), without a
// detour through Asio's endpoint type on the per-packet path.
SocketAddress from_sockaddr(const sockaddr_storage& address) noexcept;
socklen_t to_sockaddr(const SocketAddress& address, sockaddr_storage& out) noexcept;

// sendmsg to `to` without blocking, with `from` (when set) as the source address of this one datagram.
void send_from(asio::ip::udp::socket& socket, std::span<const std::byte> bytes, const SocketAddress& to,
               const std::optional<LocalAddress>& from, std::error_code& ec);

}  // namespace tftp::net
