#pragma once
// The core's addresses (tftp/address.hpp) as Asio's, and back: the drivers convert at their edge.

#include <asio/ip/address.hpp>
#include <asio/ip/udp.hpp>

#include "tftp/address.hpp"

namespace tftp::net {

asio::ip::address to_asio(const IpAddress& address);
IpAddress from_asio(const asio::ip::address& address);
asio::ip::udp::endpoint to_asio(const SocketAddress& address);
SocketAddress from_asio(const asio::ip::udp::endpoint& endpoint);

}  // namespace tftp::net
