#include "scripted_server.hpp"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <system_error>

namespace tftp::test {
namespace {

constexpr auto safety_bound = std::chrono::milliseconds(5000);
constexpr std::size_t max_sockets = 16;

struct ScriptEnded {};

[[noreturn]] void fail(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

socklen_t length_of(const sockaddr_storage& address) {
  return address.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

}  // namespace

UdpSocket::UdpSocket(Family family) {
  const int domain = family == Family::v6 ? AF_INET6 : AF_INET;
  fd_ = ::socket(domain, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) fail("socket");
  sockaddr_storage address{};
  if (family == Family::v6) {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
    v6->sin6_family = AF_INET6;
    v6->sin6_addr = in6addr_loopback;
  } else {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
    v4->sin_family = AF_INET;
    v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  }
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), length_of(address)) != 0) fail("bind");
  socklen_t length = sizeof(address);
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) fail("getsockname");
  port_ = port_of(address);
}

UdpSocket::UdpSocket(UdpSocket&& other) noexcept : fd_(other.fd_), port_(other.port_) { other.fd_ = -1; }

UdpSocket::~UdpSocket() {
  if (fd_ >= 0) ::close(fd_);
}

void UdpSocket::send_to(std::span<const std::byte> bytes, const sockaddr_storage& peer) const {
  if (::sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&peer), length_of(peer)) < 0) {
    fail("sendto");
  }
}

std::uint16_t port_of(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port);
  return ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
}

Bytes encoded(const Packet& packet) {
  Bytes out(max_packet_size + 1024);
  auto size = encode(packet, out);
  if (!size) throw std::logic_error("test packet does not encode");
  out.resize(*size);
  return out;
}

Bytes data_packet(std::uint16_t block, std::size_t size, std::uint8_t fill) {
  Bytes out(header_size + size, std::byte{fill});
  encode_data_header(block, std::span<std::byte, header_size>(out.data(), header_size));
  return out;
}

ScriptedServer::ScriptedServer(Script script, Family family) : family_(family) {
  sockets_.reserve(max_sockets);  // port() reads socket 0 from the test thread: no reallocation
  sockets_.emplace_back(family);
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
  if (stop_fd_ < 0) fail("eventfd");
  thread_ = std::thread([this, script = std::move(script)] { run(script); });
}

ScriptedServer::~ScriptedServer() {
  if (!finished_) finish();
  ::close(stop_fd_);
}

std::vector<Datagram> ScriptedServer::finish() {
  if (!finished_) {
    const std::uint64_t one = 1;
    if (::write(stop_fd_, &one, sizeof(one)) != sizeof(one)) fail("eventfd write");
    thread_.join();
    finished_ = true;
  }
  std::lock_guard lock(mutex_);
  return record_;
}

std::size_t ScriptedServer::open_socket() {
  if (sockets_.size() == max_sockets) throw std::logic_error("too many script sockets");
  sockets_.emplace_back(family_);
  return sockets_.size() - 1;
}

void ScriptedServer::send(std::size_t socket, std::span<const std::byte> bytes, const sockaddr_storage& to) {
  sockets_.at(socket).send_to(bytes, to);
}

Datagram ScriptedServer::expect(std::size_t socket) {
  auto datagram = wait_for(socket, safety_bound);
  if (!datagram) throw ScriptEnded{};
  return std::move(*datagram);
}

void ScriptedServer::run(const Script& script) {
  try {
    script(*this);
  } catch (const ScriptEnded&) {
  }
  record_until_stopped();
}

void ScriptedServer::record_until_stopped() {
  while (wait_for(std::nullopt, std::chrono::milliseconds(-1))) {
  }
}

// Records every datagram that arrives; returns the first one at `socket`, or nullopt on stop or after bound
// (a negative bound waits until stopped).
std::optional<Datagram> ScriptedServer::wait_for(std::optional<std::size_t> socket, std::chrono::milliseconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  for (;;) {
    std::vector<pollfd> fds;
    for (const auto& s : sockets_) fds.push_back({s.fd(), POLLIN, 0});
    fds.push_back({stop_fd_, POLLIN, 0});
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    const int wait_ms = bound.count() < 0 ? -1 : static_cast<int>(std::max<long long>(left.count(), 0));
    const int ready = ::poll(fds.data(), fds.size(), wait_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) fail("poll");
    if (ready == 0) return std::nullopt;
    if (fds.back().revents != 0) {
      // A datagram sent before the client returned is already queued (loopback delivers within sendto).
      for (std::size_t i = 0; i < sockets_.size(); ++i) {
        while (receive(i, MSG_DONTWAIT)) {
        }
      }
      return std::nullopt;
    }
    for (std::size_t i = 0; i + 1 < fds.size(); ++i) {
      if ((fds[i].revents & POLLIN) == 0) continue;
      auto datagram = receive(i, 0);
      if (datagram && socket && *socket == i) return datagram;
    }
  }
}

std::optional<Datagram> ScriptedServer::receive(std::size_t socket, int flags) {
  Datagram datagram;
  datagram.socket = socket;
  datagram.bytes.resize(65536);
  socklen_t length = sizeof(datagram.from);
  const auto got = ::recvfrom(sockets_[socket].fd(), datagram.bytes.data(), datagram.bytes.size(), flags,
                              reinterpret_cast<sockaddr*>(&datagram.from), &length);
  if (got < 0) return std::nullopt;
  datagram.bytes.resize(static_cast<std::size_t>(got));
  std::lock_guard lock(mutex_);
  record_.push_back(datagram);
  return datagram;
}

std::optional<Packet> parsed(const Datagram& datagram) {
  auto packet = parse(datagram.bytes);
  if (!packet) return std::nullopt;
  return std::move(*packet);
}

bool is_error(const Datagram& datagram, ErrorCode code) {
  const auto packet = parsed(datagram);
  return packet && std::holds_alternative<Error>(*packet) && std::get<Error>(*packet).code == code;
}

std::size_t count_if_opcode(const std::vector<Datagram>& record, Opcode opcode) {
  std::size_t n = 0;
  for (const auto& d : record) n += peek_opcode(d.bytes) == opcode ? 1U : 0U;
  return n;
}

}  // namespace tftp::test
