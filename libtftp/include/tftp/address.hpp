#pragma once
// IP addresses as the core sees them: values to compare, order and print, without a socket library. The
// drivers convert to and from their own types (libtftp-asio: net::to_asio / net::from_asio).
//
// An IPv4 client on a dual-stack IPv6 socket arrives as ::ffff:a.b.c.d; it stays IPv6 here (its replies
// must go back the way it came), and unmapped() gives the IPv4 address when a rule is about the host (the
// per-client limit, per-client directories).

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tftp/result.hpp"

namespace tftp {

class IpAddress {
 public:
  using V4Bytes = std::array<std::uint8_t, 4>;
  using V6Bytes = std::array<std::uint8_t, 16>;

  IpAddress() = default;  // 0.0.0.0
  static IpAddress v4(const V4Bytes& bytes) noexcept;
  static IpAddress v4(std::uint32_t host_order) noexcept;
  // scope: the interface index of a link-local address (0: none).
  static IpAddress v6(const V6Bytes& bytes, std::uint32_t scope = 0) noexcept;

  bool is_v4() const noexcept { return v4_; }
  bool is_v6() const noexcept { return !v4_; }
  bool is_v4_mapped() const noexcept;
  bool is_loopback() const noexcept;     // 127.0.0.0/8, ::1, and ::ffff:127.x.y.z
  bool is_unspecified() const noexcept;  // 0.0.0.0, ::
  // The IPv4 address behind ::ffff:a.b.c.d; the address itself otherwise.
  IpAddress unmapped() const noexcept;

  // The first 4 bytes (IPv4) or all 16 (IPv6).
  const V6Bytes& bytes() const noexcept { return bytes_; }
  V4Bytes v4_bytes() const noexcept { return {bytes_[0], bytes_[1], bytes_[2], bytes_[3]}; }
  std::uint32_t scope() const noexcept { return scope_; }

  // "192.0.2.7"; IPv6 in RFC 5952 form ("2001:db8::7", "::ffff:192.0.2.7"), "%N" after a scoped address.
  std::string to_string() const;

  friend bool operator==(const IpAddress&, const IpAddress&) = default;
  // IPv4 before IPv6, then by bytes, then by scope.
  friend std::strong_ordering operator<=>(const IpAddress& a, const IpAddress& b) noexcept;

 private:
  V6Bytes bytes_{};
  std::uint32_t scope_ = 0;
  bool v4_ = true;
};

// Parses a numeric address: dotted IPv4 ("192.0.2.7", four decimal parts 0-255, no leading zeros beyond
// "0") or IPv6 (RFC 4291 text forms, "::" once, a trailing dotted IPv4 part; no zone). nullopt otherwise.
std::optional<IpAddress> parse_ip_address(std::string_view text) noexcept;

struct SocketAddress {
  IpAddress ip;
  std::uint16_t port = 0;

  // "192.0.2.7:69", "[2001:db8::7]:69".
  std::string to_string() const;
  friend bool operator==(const SocketAddress&, const SocketAddress&) = default;
  friend auto operator<=>(const SocketAddress&, const SocketAddress&) = default;
};

// The local address a datagram was sent to, as a driver learns it (IP_PKTINFO / IPV6_RECVPKTINFO), and the
// interface it arrived on (0: unknown). Replies to it leave from this address.
struct LocalAddress {
  IpAddress ip;
  unsigned interface = 0;
  friend bool operator==(const LocalAddress&, const LocalAddress&) = default;
};

// ---- HOST:PORT text ---------------------------------------------------------------------------------

inline constexpr std::uint16_t default_port = 69;

// A host (a name, or a numeric address without brackets) and a port, as written on a command line.
struct HostPort {
  std::string host;
  std::uint16_t port = default_port;
  friend bool operator==(const HostPort&, const HostPort&) = default;
};

enum class HostPortError {
  empty,             // nothing at all
  empty_host,        // no host where one is required (":69", "[]:69")
  missing_port,      // no ":PORT" where one is required
  bad_port,          // not plain decimal within the form's range
  bad_ipv6_literal,  // "[" without "]", "[]" where a host is optional, something other than ":PORT" after "]"
  unbracketed_ipv6,  // more than one ":" outside brackets where a port is required ("::1:69" is ambiguous)
};

// A sentence for a user, e.g. "the port is not a number from 1 to 65535".
std::string_view describe(HostPortError error) noexcept;

// The variations of HOST:PORT that the programs accept; every one goes through the one parser below.
struct HostPortForm {
  bool port_required = true;          // else "host" and "host:" mean default_port
  std::uint16_t min_port = 0;         // 0: the kernel picks a port when binding
  bool host_required = false;         // else ":PORT" has an empty host (the wildcard, or loopback)
  bool bare_ipv6_is_host = false;     // "fe80::1%lo" is a host without a port (needs !port_required)
};

// Listening and connecting addresses ("127.0.0.1:6969", "[::1]:6969", ":6969").
inline constexpr HostPortForm address_form{};
// A client's server argument ("host", "host:6969", "[::1]", "::1").
inline constexpr HostPortForm server_form{false, 1, true, true};

// Never throws; the host is not resolved. A host holding "[" or "]" outside brackets is refused.
Result<HostPort, HostPortError> parse_host_port(std::string_view text, const HostPortForm& form);

}  // namespace tftp
