#include "tftp/asio/address.hpp"

#include <algorithm>

namespace tftp::net {

asio::ip::address to_asio(const IpAddress& address) {
  if (address.is_v4()) return asio::ip::address_v4(address.v4_bytes());
  asio::ip::address_v6::bytes_type bytes;
  std::copy(address.bytes().begin(), address.bytes().end(), bytes.begin());
  return asio::ip::address_v6(bytes, address.scope());
}

IpAddress from_asio(const asio::ip::address& address) {
  if (address.is_v4()) return IpAddress::v4(address.to_v4().to_bytes());
  const auto v6 = address.to_v6();
  const auto raw = v6.to_bytes();
  IpAddress::V6Bytes bytes;
  std::copy(raw.begin(), raw.end(), bytes.begin());
  return IpAddress::v6(bytes, static_cast<std::uint32_t>(v6.scope_id()));
}

asio::ip::udp::endpoint to_asio(const SocketAddress& address) { return {to_asio(address.ip), address.port}; }

SocketAddress from_asio(const asio::ip::udp::endpoint& endpoint) {
  return {from_asio(endpoint.address()), endpoint.port()};
}

}  // namespace tftp::net
