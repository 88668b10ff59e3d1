#pragma once
// "ADDR:PORT" arguments for the programs and demos, parsed apart from resolving them so that the rules are
// tested without sockets:
//
//   127.0.0.1:6969   an IPv4 address (family hint v4)
//   [::1]:6969       an IPv6 address in brackets, zone allowed: [fe80::1%lo]:69 (family hint v6)
//   :6969            no host: the wildcard address to bind, the loopback address to connect to
//   localhost:6969   a host name, resolved later (family hint any)
//
// Decisions: the port is required, plain decimal 0-65535 (0 asks the kernel for a free port when
// binding); a bare IPv6 address without brackets is refused, since "::1:69" is ambiguous. parse_endpoint
// never throws; the resolve functions do no I/O for literals and a blocking DNS look-up for names, which
// suits start-up code and not a hot path.
//
// Namespace tftp::net rather than tftp::asio: inside namespace tftp, "asio::" must keep meaning ::asio.

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>

#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>

#include "tftp/address.hpp"

namespace tftp::net {

enum class Family { any, v4, v6 };

struct EndpointSpec {
  std::string host;  // without brackets; empty for ":PORT"
  std::uint16_t port = 0;
  Family family = Family::any;
  friend bool operator==(const EndpointSpec&, const EndpointSpec&) = default;
};

// The errors of the one HOST:PORT parser (tftp/address.hpp, address_form); describe() is there too.
using EndpointError = HostPortError;
using tftp::describe;

Result<EndpointSpec, EndpointError> parse_endpoint(std::string_view text);

// What the address is for: an empty host means the wildcard address to bind and the loopback to connect.
enum class Use { bind, connect };

// The first address the host resolves to (matching the family hint); an error code when it resolves to
// nothing or the name is unknown. Never throws.
asio::ip::udp::endpoint resolve_udp(const EndpointSpec& spec, Use use, std::error_code& ec);
asio::ip::tcp::endpoint resolve_tcp(const EndpointSpec& spec, Use use, std::error_code& ec);

// "127.0.0.1:6969" / "[::1]:6969": the form parse_endpoint reads back.
std::string to_string(const asio::ip::udp::endpoint& endpoint);
std::string to_string(const asio::ip::tcp::endpoint& endpoint);

}  // namespace tftp::net
