#pragma once
// A test's end of a UDP conversation: a plain socket bound to loopback (127.0.0.1 or ::1, port 0, unless told
// otherwise) that sends bytes or packets and waits for a datagram with a bounded timeout, so that a test
// asserts on exact packets and never sleeps. It plays a TFTP client against a server, or a scripted server
// against a client.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>

#include "support/bytes.hpp"
#include "tftp/codec.hpp"

namespace tftp::test {

enum class Family { v4, v6 };

inline std::uint16_t port_of(const sockaddr_storage& address) noexcept {
  if (address.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port);
  return ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
}

struct Datagram {
  Bytes bytes;
  sockaddr_storage from{};  // the sender, to answer it with RawPeer::send_to
  std::uint16_t port = 0;   // the sender's port
  std::string address;      // the sender's address, as inet_ntop writes it
  Packet packet() const {
    auto parsed = parse(bytes);
    if (!parsed) throw std::runtime_error("the peer sent an unparsable datagram");
    return *parsed;
  }
};

class RawPeer {
 public:
  explicit RawPeer(Family family = Family::v4) : RawPeer(family == Family::v6, "") {}
  // An IPv4 peer bound to another loopback address ("127.0.0.2"), for a server that tells clients apart by
  // address; it still sends to 127.0.0.1.
  explicit RawPeer(const char* local_v4) : RawPeer(false, local_v4) {}
  // A peer bound to `local` (an IPv4 or IPv6 address; "0.0.0.0" or "::" for any) that sends to `remote`.
  struct Route {
    std::string local;
    std::string remote;
  };
  explicit RawPeer(const Route& route) : RawPeer(route.local.find(':') != std::string::npos, route.local.c_str()) {
    aim_at(route.remote);
  }
  RawPeer(const RawPeer&) = delete;
  RawPeer& operator=(const RawPeer&) = delete;
  ~RawPeer() { ::close(fd_); }

  // Where send() goes from now on (the loopback address of the family until then).
  void aim_at(const std::string& remote) { target_ = address_of(remote, 0); }

  int fd() const noexcept { return fd_; }
  std::uint16_t port() const noexcept { return port_; }

  void send(std::uint16_t to_port, std::span<const std::byte> bytes) const {
    sockaddr_storage address = target_;
    set_port(address, to_port);
    send_to(bytes, address);
  }
  void send(std::uint16_t to_port, const Packet& packet) const { send(to_port, encoded(packet)); }
  void send_to(std::span<const std::byte> bytes, const sockaddr_storage& to) const {
    if (::sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&to), length()) < 0) {
      throw std::system_error(errno, std::generic_category(), "sendto");
    }
  }
  void send_to(const Packet& packet, const sockaddr_storage& to) const { send_to(encoded(packet), to); }

  // The next datagram, or nullopt when none came within `timeout` (0: only one already queued).
  std::optional<Datagram> receive(std::chrono::milliseconds timeout = std::chrono::seconds(5)) const {
    pollfd waiting{fd_, POLLIN, 0};
    if (::poll(&waiting, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
    Datagram datagram;
    datagram.bytes.resize(65536);
    socklen_t size = sizeof datagram.from;
    const ssize_t n = ::recvfrom(fd_, datagram.bytes.data(), datagram.bytes.size(), MSG_DONTWAIT,
                                 reinterpret_cast<sockaddr*>(&datagram.from), &size);
    if (n < 0) return std::nullopt;
    datagram.bytes.resize(static_cast<std::size_t>(n));
    datagram.port = port_of(datagram.from);
    char text[INET6_ADDRSTRLEN] = {};
    if (ipv6_) {
      ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&datagram.from)->sin6_addr, text, sizeof text);
    } else {
      ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&datagram.from)->sin_addr, text, sizeof text);
    }
    datagram.address = text;
    return datagram;
  }

 private:
  RawPeer(bool ipv6, const char* local) : ipv6_(ipv6) {
    fd_ = ::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
    target_ = loopback();
    sockaddr_storage address = *local == '\0' ? loopback() : address_of(local, 0);
    socklen_t size = sizeof address;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), length()) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
      const int error = errno;
      ::close(fd_);
      throw std::system_error(error, std::generic_category(), std::string("bind ") + (*local ? local : "loopback"));
    }
    port_ = port_of(address);
  }

  sockaddr_storage address_of(const std::string& text, std::uint16_t port) const {
    sockaddr_storage address{};
    const bool ok = ipv6_ ? ::inet_pton(AF_INET6, text.c_str(), &reinterpret_cast<sockaddr_in6*>(&address)->sin6_addr) == 1
                          : ::inet_pton(AF_INET, text.c_str(), &reinterpret_cast<sockaddr_in*>(&address)->sin_addr) == 1;
    if (!ok) throw std::runtime_error("not an address of the peer's family: " + text);
    address.ss_family = ipv6_ ? AF_INET6 : AF_INET;
    set_port(address, port);
    return address;
  }
  void set_port(sockaddr_storage& address, std::uint16_t port) const {
    if (ipv6_) {
      reinterpret_cast<sockaddr_in6*>(&address)->sin6_port = htons(port);
    } else {
      reinterpret_cast<sockaddr_in*>(&address)->sin_port = htons(port);
    }
  }
  sockaddr_storage loopback() const {
    sockaddr_storage address{};
    if (ipv6_) {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&address);
      in6->sin6_family = AF_INET6;
      in6->sin6_addr = in6addr_loopback;
    } else {
      auto* in = reinterpret_cast<sockaddr_in*>(&address);
      in->sin_family = AF_INET;
      in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    }
    return address;
  }
  socklen_t length() const { return ipv6_ ? sizeof(sockaddr_in6) : sizeof(sockaddr_in); }

  bool ipv6_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  sockaddr_storage target_{};
};

// Whether this host can bind ::1 (containers without IPv6 cannot).
inline bool have_ipv6_loopback() {
  try {
    RawPeer probe(Family::v6);
    return true;
  } catch (const std::system_error&) {
    return false;
  }
}

// A free UDP port on the family's loopback address: bound, read and released. A program told to bind it
// right after may lose that race; it then shows as a failed readiness probe, not as a wrong result.
inline std::uint16_t free_udp_port(Family family = Family::v4) { return RawPeer(family).port(); }

}  // namespace tftp::test
