#pragma once
// A test's end of a TFTP conversation: a plain UDP socket on loopback (127.0.0.1 or ::1, port 0) that
// sends bytes and waits for a datagram with a bounded timeout, so that a test asserts on exact packets
// and never sleeps.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "tftp/codec.hpp"

namespace tftp::test {

using Bytes = std::vector<std::byte>;

inline Bytes bytes_of(std::string_view text) {
  const auto span = as_bytes(text);
  return Bytes(span.begin(), span.end());
}

inline Bytes encoded(const Packet& packet) {
  Bytes out(max_packet_size);
  const auto size = encode(packet, out);
  if (!size) throw std::runtime_error("test packet does not encode");
  out.resize(*size);
  return out;
}

struct Datagram {
  Bytes bytes;
  std::uint16_t port = 0;  // the sender's port
  std::string address;     // the sender's address, as inet_ntop writes it
  Packet packet() const {
    auto parsed = parse(bytes);
    if (!parsed) throw std::runtime_error("server sent an unparsable datagram");
    return *parsed;
  }
};

class RawPeer {
 public:
  explicit RawPeer(bool ipv6 = false) : RawPeer(ipv6, ipv6 ? "::1" : "127.0.0.1") {}
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

  // Where send() goes from now on (the loopback address of the family until then).
  void aim_at(const std::string& remote) {
    target_ = address_of(remote, 0);
  }

 private:
  RawPeer(bool ipv6, const char* local) : ipv6_(ipv6) {
    fd_ = ::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
    target_ = loopback(0);
    sockaddr_storage address = *local == '\0' ? loopback(0) : address_of(local, 0);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), length()) != 0) {
      const int error = errno;
      ::close(fd_);
      throw std::system_error(error, std::generic_category(), std::string("bind ") + local);
    }
  }

 public:
  RawPeer(const RawPeer&) = delete;
  RawPeer& operator=(const RawPeer&) = delete;
  ~RawPeer() { ::close(fd_); }

  int fd() const noexcept { return fd_; }

  std::uint16_t port() const {
    sockaddr_storage address{};
    socklen_t size = sizeof address;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size);
    return ipv6_ ? ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port)
                 : ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
  }

  void send(std::uint16_t to_port, std::span<const std::byte> bytes) const {
    sockaddr_storage address = target_;
    set_port(address, to_port);
    if (::sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&address), length()) < 0) {
      throw std::system_error(errno, std::generic_category(), "sendto");
    }
  }
  void send(std::uint16_t to_port, const Packet& packet) const { send(to_port, encoded(packet)); }

  // The next datagram, or nullopt when none came within `timeout`.
  std::optional<Datagram> receive(std::chrono::milliseconds timeout = std::chrono::seconds(5)) const {
    pollfd waiting{fd_, POLLIN, 0};
    if (::poll(&waiting, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
    Datagram datagram;
    datagram.bytes.resize(65536);
    sockaddr_storage from{};
    socklen_t size = sizeof from;
    const ssize_t n = ::recvfrom(fd_, datagram.bytes.data(), datagram.bytes.size(), 0,
                                 reinterpret_cast<sockaddr*>(&from), &size);
    if (n < 0) return std::nullopt;
    datagram.bytes.resize(static_cast<std::size_t>(n));
    datagram.port = ipv6_ ? ntohs(reinterpret_cast<sockaddr_in6*>(&from)->sin6_port)
                          : ntohs(reinterpret_cast<sockaddr_in*>(&from)->sin_port);
    char text[INET6_ADDRSTRLEN] = {};
    if (ipv6_) {
      ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&from)->sin6_addr, text, sizeof text);
    } else {
      ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&from)->sin_addr, text, sizeof text);
    }
    datagram.address = text;
    return datagram;
  }

 private:
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

  sockaddr_storage loopback(std::uint16_t port) const {
    sockaddr_storage address{};
    if (ipv6_) {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&address);
      in6->sin6_family = AF_INET6;
      in6->sin6_addr = in6addr_loopback;
      in6->sin6_port = htons(port);
    } else {
      auto* in = reinterpret_cast<sockaddr_in*>(&address);
      in->sin_family = AF_INET;
      in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      in->sin_port = htons(port);
    }
    return address;
  }
  socklen_t length() const { return ipv6_ ? sizeof(sockaddr_in6) : sizeof(sockaddr_in); }

  bool ipv6_;
  int fd_ = -1;
  sockaddr_storage target_{};
};

// Whether this host can bind ::1 (containers without IPv6 cannot).
inline bool have_ipv6_loopback() {
  try {
    RawPeer probe(true);
    return true;
  } catch (const std::system_error&) {
    return false;
  }
}

}  // namespace tftp::test
