#include "local_address.hpp"

#include <cerrno>
#include <algorithm>
#include <cstring>

namespace tftp::net {

namespace {

bool is_ipv6(asio::ip::udp::socket& socket) {
  std::error_code ec;
  const auto local = socket.local_endpoint(ec);
  return !ec && local.protocol() == asio::ip::udp::v6();
}

void enable(int fd, int level, int name, std::error_code& ec) {
  const int on = 1;
  if (::setsockopt(fd, level, name, &on, sizeof on) != 0) ec = std::error_code(errno, std::system_category());
}

IpAddress v6_of(const in6_addr& address, unsigned scope) {
  IpAddress::V6Bytes bytes;
  std::memcpy(bytes.data(), &address, bytes.size());
  return IpAddress::v6(bytes, scope);
}

IpAddress v4_of(const in_addr& address) {
  IpAddress::V4Bytes bytes;
  std::memcpy(bytes.data(), &address, bytes.size());
  return IpAddress::v4(bytes);
}

IpAddress v4_mapped(const IpAddress& v4) {
  IpAddress::V6Bytes bytes{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  const auto raw = v4.v4_bytes();
  std::copy(raw.begin(), raw.end(), bytes.begin() + 12);
  return IpAddress::v6(bytes);
}

bool is_link_local(const IpAddress& address) {
  return address.is_v6() && address.bytes()[0] == 0xfe && (address.bytes()[1] & 0xc0U) == 0x80;
}

bool is_multicast(const IpAddress& address) {
  if (address.is_v6()) return address.bytes()[0] == 0xff;
  return (address.bytes()[0] & 0xf0U) == 0xe0;
}

bool is_broadcast(const IpAddress& address) { return address == IpAddress::v4(0xffffffffU); }

// IP_PKTINFO / IPV6_PKTINFO naming the source address of one datagram.
void fill_source(msghdr& message, unsigned char* control, const LocalAddress& from) {
  message.msg_control = control;
  cmsghdr* c = reinterpret_cast<cmsghdr*>(control);
  if (from.ip.is_v6()) {
    in6_pktinfo info{};
    const auto& raw = from.ip.bytes();
    std::memcpy(&info.ipi6_addr, raw.data(), raw.size());
    // The interface only where the address needs it; otherwise routing picks the way out.
    info.ipi6_ifindex = is_link_local(from.ip) ? from.interface : 0U;
    c->cmsg_level = IPPROTO_IPV6;
    c->cmsg_type = IPV6_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof info);
    std::memcpy(CMSG_DATA(c), &info, sizeof info);
    message.msg_controllen = CMSG_SPACE(sizeof info);
  } else {
    in_pktinfo info{};
    const auto raw = from.ip.v4_bytes();
    std::memcpy(&info.ipi_spec_dst, raw.data(), raw.size());
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof info);
    std::memcpy(CMSG_DATA(c), &info, sizeof info);
    message.msg_controllen = CMSG_SPACE(sizeof info);
  }
}


}  // namespace

void report_local_addresses(asio::ip::udp::socket& socket, std::error_code& ec) {
  ec.clear();
  const int fd = socket.native_handle();
  if (!is_ipv6(socket)) {
    enable(fd, IPPROTO_IP, IP_PKTINFO, ec);
    return;
  }
  enable(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, ec);
  // The IPv4 datagrams of a dual-stack socket then also carry ipi_spec_dst (the answer's source for a
  // broadcast destination); a v6-only socket never needs it.
  std::error_code ignored;
  enable(fd, IPPROTO_IP, IP_PKTINFO, ignored);
}

std::optional<LocalAddress> local_address_of(const msghdr& message, bool ipv6_socket) {
  std::optional<LocalAddress> v4;
  std::optional<LocalAddress> v6;
  auto* header = const_cast<msghdr*>(&message);  // CMSG_NXTHDR takes a non-const msghdr
  for (cmsghdr* c = CMSG_FIRSTHDR(header); c != nullptr; c = CMSG_NXTHDR(header, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO && c->cmsg_len >= CMSG_LEN(sizeof(in_pktinfo))) {
      in_pktinfo info{};
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      const auto address = v4_of(info.ipi_spec_dst);
      if (address.is_unspecified()) continue;
      v4 = LocalAddress{ipv6_socket ? v4_mapped(address) : address, static_cast<unsigned>(info.ipi_ifindex)};
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
               c->cmsg_len >= CMSG_LEN(sizeof(in6_pktinfo))) {
      in6_pktinfo info{};
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      const auto index = static_cast<unsigned>(info.ipi6_ifindex);
      const auto plain = v6_of(info.ipi6_addr, 0);
      if (is_multicast(plain) || plain.is_unspecified()) continue;  // answered from what routing picks
      v6 = LocalAddress{v6_of(info.ipi6_addr, is_link_local(plain) ? index : 0), index};
    }
  }
  if (v4) return v4;  // ipi_spec_dst: right also for a broadcast destination, which IPV6_PKTINFO maps as is
  if (v6 && v6->ip.is_v4_mapped()) {
    const auto mapped = v6->ip.unmapped();
    if (is_multicast(mapped) || is_broadcast(mapped)) return std::nullopt;
  }
  return v6;
}

SocketAddress from_sockaddr(const sockaddr_storage& address) noexcept {
  if (address.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    return {v6_of(v6.sin6_addr, v6.sin6_scope_id), ntohs(v6.sin6_port)};
  }
  const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
  return {v4_of(v4.sin_addr), ntohs(v4.sin_port)};
}

socklen_t to_sockaddr(const SocketAddress& address, sockaddr_storage& out) noexcept {
  out = sockaddr_storage{};
  if (address.ip.is_v6()) {
    auto& v6 = reinterpret_cast<sockaddr_in6&>(out);
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(address.port);
    std::memcpy(&v6.sin6_addr, address.ip.bytes().data(), 16);
    v6.sin6_scope_id = address.ip.scope();
    return sizeof(sockaddr_in6);
  }
  auto& v4 = reinterpret_cast<sockaddr_in&>(out);
  v4.sin_family = AF_INET;
  v4.sin_port = htons(address.port);
  std::memcpy(&v4.sin_addr, address.ip.bytes().data(), 4);
  return sizeof(sockaddr_in);
}

void send_from(asio::ip::udp::socket& socket, std::span<const std::byte> bytes, const SocketAddress& to,
               const std::optional<LocalAddress>& from, std::error_code& ec) {
  ec.clear();
  sockaddr_storage destination;
  const socklen_t length = to_sockaddr(to, destination);
  iovec vector{const_cast<std::byte*>(bytes.data()), bytes.size()};
  alignas(cmsghdr) unsigned char control[local_address_control_size] = {};
  msghdr message{};
  message.msg_name = &destination;
  message.msg_namelen = length;
  message.msg_iov = &vector;
  message.msg_iovlen = 1;
  if (from) fill_source(message, control, *from);
  for (;;) {
    if (::sendmsg(socket.native_handle(), &message, MSG_DONTWAIT) >= 0) return;
    if (errno != EINTR) break;
  }
  ec = std::error_code(errno, std::system_category());
}

}  // namespace tftp::net
