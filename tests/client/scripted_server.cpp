#include "scripted_server.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace tftp::test {
namespace {

constexpr auto safety_bound = std::chrono::milliseconds(5000);
constexpr std::size_t max_sockets = 16;

struct ScriptEnded {};

[[noreturn]] void fail(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

}  // namespace

Bytes data_packet(std::uint16_t block, std::size_t size, std::uint8_t fill) {
  Bytes out(header_size + size, std::byte{fill});
  encode_data_header(block, std::span<std::byte, header_size>(out.data(), header_size));
  return out;
}

ScriptedServer::ScriptedServer(Script script, Family family) : family_(family) {
  sockets_.push_back(std::make_unique<RawPeer>(family));
  port_ = sockets_.front()->port();
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
  if (stop_fd_ < 0) fail("eventfd");
  thread_ = std::thread([this, script = std::move(script)] { run(script); });
}

ScriptedServer::~ScriptedServer() {
  if (!finished_) finish();
  ::close(stop_fd_);
}

std::vector<Arrival> ScriptedServer::finish() {
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
  sockets_.push_back(std::make_unique<RawPeer>(family_));
  return sockets_.size() - 1;
}

void ScriptedServer::send(std::size_t socket, std::span<const std::byte> bytes, const sockaddr_storage& to) {
  sockets_.at(socket)->send_to(bytes, to);
}

Arrival ScriptedServer::expect(std::size_t socket) {
  auto arrival = wait_for(socket, safety_bound);
  if (!arrival) throw ScriptEnded{};
  return std::move(*arrival);
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
std::optional<Arrival> ScriptedServer::wait_for(std::optional<std::size_t> socket, std::chrono::milliseconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  for (;;) {
    std::vector<pollfd> fds;
    for (const auto& s : sockets_) fds.push_back({s->fd(), POLLIN, 0});
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
        while (receive(i)) {
        }
      }
      return std::nullopt;
    }
    for (std::size_t i = 0; i + 1 < fds.size(); ++i) {
      if ((fds[i].revents & POLLIN) == 0) continue;
      auto arrival = receive(i);
      if (arrival && socket && *socket == i) return arrival;
    }
  }
}

// A datagram already queued at the socket, recorded; nullopt when none is.
std::optional<Arrival> ScriptedServer::receive(std::size_t socket) {
  auto datagram = sockets_[socket]->receive(std::chrono::milliseconds(0));
  if (!datagram) return std::nullopt;
  Arrival arrival{std::move(*datagram), socket};
  std::lock_guard lock(mutex_);
  record_.push_back(arrival);
  return arrival;
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

std::size_t count_if_opcode(const std::vector<Arrival>& record, Opcode opcode) {
  std::size_t n = 0;
  for (const auto& d : record) n += peek_opcode(d.bytes) == opcode ? 1U : 0U;
  return n;
}

}  // namespace tftp::test
