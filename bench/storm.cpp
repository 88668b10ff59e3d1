// tftp-storm: a boot storm from one process (issue 22). N simulated PXE clients start evenly over a ramp; each
// is the library's own Receiver::client_read machine on a UDP socket of its own, all on one thread and one
// epoll loop, so thousands cost little. Each fetches one file as a UEFI ROM does: an RRQ with tsize and blksize
// whose OACK it declines with ERROR 8 once it knows the size, then the real RRQ from a new port. Every byte is
// hashed and compared with --expect. Prints a report (text, or one JSON object) and, with --times, one line
// per client for bench/storm.py's chart.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <numeric>
#include <optional>
#include <queue>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "tftp/codec.hpp"
#include "tftp/options.hpp"
#include "tftp/printable.hpp"
#include "tftp/transfer.hpp"

namespace {

using tftp::Clock;
using tftp::TimePoint;
using Seconds = std::chrono::duration<double>;

struct Settings {
  std::string server = "127.0.0.1";
  std::uint16_t port = 69;
  std::string file;
  std::string expect;
  unsigned clients = 100;
  double ramp = 0;
  std::uint16_t block_size = 1468;
  std::uint16_t window = 1;
  double loss = 0;
  std::uint64_t seed = 1;
  double stall_fraction = 0;
  double stall_seconds = 10;
  unsigned timeout_ms = 1000;
  double give_up = 30;
  double max_seconds = 600;
  bool one_address = false;
  bool json = false;
  std::string times;
};

// A streaming 64-bit hash over 8-byte words: not cryptographic, it tells a wrong, missing or misplaced byte,
// not a forgery. The digest does not depend on how the bytes were split, so a server that grants a smaller
// blksize still compares.
class Hash64 {
 public:
  void update(std::span<const std::byte> bytes) {
    length_ += bytes.size();
    if (pending_ > 0) {
      const std::size_t n = std::min(bytes.size(), tail_.size() - pending_);
      std::memcpy(tail_.data() + pending_, bytes.data(), n);
      pending_ += n;
      bytes = bytes.subspan(n);
      if (pending_ < tail_.size()) return;
      mix(load(tail_.data()));
      pending_ = 0;
    }
    for (; bytes.size() >= 8; bytes = bytes.subspan(8)) mix(load(bytes.data()));
    std::memcpy(tail_.data(), bytes.data(), bytes.size());
    pending_ = bytes.size();
  }

  std::uint64_t digest() const {
    Hash64 last = *this;
    std::array<std::byte, 8> word{};
    std::memcpy(word.data(), tail_.data(), pending_);
    last.mix(load(word.data()));
    last.mix(length_);
    return last.state_ ^ (last.state_ >> 32);
  }

 private:
  static std::uint64_t load(const std::byte* bytes) {
    std::uint64_t word = 0;
    std::memcpy(&word, bytes, sizeof word);
    return word;
  }
  void mix(std::uint64_t word) { state_ = std::rotl(state_ ^ (word * 0x9E3779B97F4A7C15U), 29) * 0xBF58476D1CE4E5B9U; }

  std::uint64_t state_ = 0x243F6A8885A308D3U;
  std::array<std::byte, 8> tail_{};
  std::size_t pending_ = 0;
  std::uint64_t length_ = 0;
};

class HashSink final : public tftp::BlockSink {
 public:
  std::optional<tftp::Error> write_block(std::uint64_t, std::span<const std::byte> bytes) override {
    hash_.update(bytes);
    bytes_ += bytes.size();
    return std::nullopt;
  }
  void reset() {
    hash_ = Hash64{};
    bytes_ = 0;
  }
  std::uint64_t bytes() const noexcept { return bytes_; }
  std::uint64_t digest() const { return hash_.digest(); }

 private:
  Hash64 hash_;
  std::uint64_t bytes_ = 0;
};

// splitmix64, seeded: a run's losses and stalls repeat.
class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() noexcept {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15U);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9U;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBU;
    return z ^ (z >> 31);
  }
  bool chance(double p) noexcept { return p > 0 && static_cast<double>(next() >> 11) * 0x1.0p-53 < p; }

 private:
  std::uint64_t state_;
};

enum class Phase { waiting, probing, downloading, done };

struct Client {
  Phase phase = Phase::waiting;
  TimePoint start;  // its first RRQ
  TimePoint end;
  int fd = -1;
  bool connected = false;  // to the server's transfer ID (port), after its first reply
  bool stalls = false;     // chosen to stall once, mid-transfer
  std::optional<TimePoint> stalled_until;
  std::optional<TimePoint> armed;  // its earliest entry in the timer heap
  std::optional<tftp::Receiver> machine;
  HashSink sink;
  tftp::TransferCounters counters;  // of the machines already retired (the probe)
  std::string result;               // "exact", "mismatched", or why it failed
};

struct Timer {
  TimePoint when;
  std::uint32_t client;
  friend bool operator>(const Timer& a, const Timer& b) { return a.when > b.when; }
};

// A ROM's retransmission timeout is fixed (no round-trip measurement). It backs off as tftp-client does, and
// gives up once the server was silent for the give-up time: max_retries is the fewest retries that reach it.
tftp::TransferConfig machine_config(const Settings& settings) {
  tftp::TransferConfig config;
  config.adaptive = false;
  config.initial_timeout = std::chrono::milliseconds(settings.timeout_ms);
  config.min_timeout = std::min(config.min_timeout, config.initial_timeout);
  config.max_timeout = std::max<tftp::Duration>(config.initial_timeout, std::chrono::seconds(8));
  config.max_retries = 0;
  while (tftp::give_up_time(config) < Seconds(settings.give_up) && config.max_retries < 1000) ++config.max_retries;
  return config;
}

std::string cause(const tftp::Outcome& outcome) {
  if (outcome.error == tftp::errc::timed_out) return "timeout";
  if (outcome.error == tftp::errc::peer_error && outcome.received) {
    return fmt::format("ERROR {} {}", static_cast<unsigned>(outcome.received->code),
                       tftp::printable(outcome.received->message));
  }
  return tftp::make_error_code(outcome.error).message();
}

class Storm {
 public:
  Storm(const Settings& settings, const sockaddr_in& server, std::uint64_t expected_hash, std::uint64_t expected_size)
      : settings_(settings), config_(machine_config(settings)), server_(server), expected_hash_(expected_hash),
        expected_size_(expected_size), clients_(settings.clients), random_(settings.seed),
        epoll_(::epoll_create1(EPOLL_CLOEXEC)), receive_buffers_(batch * (tftp::max_packet_size + 1)),
        transmit_buffer_(tftp::transmit_buffer_size) {
    if (epoll_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
    std::vector<std::uint32_t> order(clients_.size());
    std::iota(order.begin(), order.end(), 0U);
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[random_.next() % i]);
    const auto stalling = static_cast<std::size_t>(std::lround(settings.stall_fraction * static_cast<double>(order.size())));
    for (std::size_t i = 0; i < std::min(stalling, order.size()); ++i) clients_[order[i]].stalls = true;
  }
  ~Storm() {
    for (auto& client : clients_) retire(client);
    ::close(epoll_);
  }
  Storm(const Storm&) = delete;
  Storm& operator=(const Storm&) = delete;

  // Until every client is done, or --max-seconds: whatever still runs then failed by "deadline".
  void run() {
    begin_ = Clock::now();
    const auto stop = begin_ + std::chrono::duration_cast<tftp::Duration>(Seconds(settings_.max_seconds));
    std::vector<epoll_event> events(1024);
    while (finished_ < clients_.size()) {
      const auto now = Clock::now();
      if (now >= stop) break;
      start_due(now);
      fire_timers(now);
      const auto next = std::min({next_start(), timers_.empty() ? stop : timers_.top().when, stop});
      const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next - Clock::now()).count();
      const int n = ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()),
                                 static_cast<int>(std::clamp<std::int64_t>(wait, 0, 1000)));
      for (int i = 0; i < n; ++i) on_readable(events[static_cast<std::size_t>(i)].data.u32);
    }
    for (std::uint32_t id = 0; id < clients_.size(); ++id) {
      if (clients_[id].phase != Phase::done) finish(id, "deadline", stop);
    }
    wall_ = Clock::now() - begin_;
  }

  const std::vector<Client>& clients() const noexcept { return clients_; }
  TimePoint begin() const noexcept { return begin_; }
  Seconds wall() const noexcept { return wall_; }
  std::uint64_t dropped() const noexcept { return dropped_; }
  std::uint64_t strays() const noexcept { return strays_; }
  const tftp::TransferConfig& config() const noexcept { return config_; }

 private:
  static constexpr std::size_t batch = 8;  // datagrams per recvmmsg: two windows of 4

  TimePoint start_time(std::size_t index) const {
    const double offset = settings_.ramp * static_cast<double>(index) / static_cast<double>(clients_.size());
    return begin_ + std::chrono::duration_cast<tftp::Duration>(Seconds(offset));
  }
  TimePoint next_start() const { return next_ < clients_.size() ? start_time(next_) : TimePoint::max(); }

  void start_due(TimePoint now) {
    for (; next_ < clients_.size() && start_time(next_) <= now; ++next_) {
      const auto id = static_cast<std::uint32_t>(next_);
      clients_[id].start = now;
      clients_[id].phase = Phase::probing;
      tftp::ClientOptions probe;
      probe.block_size = settings_.block_size;
      probe.tsize = 0;
      request(id, probe, now);
    }
  }

  // A new socket (a new port), and an RRQ with these options from it.
  void request(std::uint32_t id, const tftp::ClientOptions& options, TimePoint now) {
    if (!open_socket(id)) return;
    request_on_socket(id, options, now);
  }

  void request_on_socket(std::uint32_t id, const tftp::ClientOptions& options, TimePoint now) {
    Client& client = clients_[id];
    tftp::Rrq rrq{settings_.file, tftp::Mode::octet, tftp::make_request_options(options)};
    client.machine.emplace(tftp::Receiver::client_read(std::move(rrq), client.sink, config_, now));
    after_input(id, now);
  }

  bool open_socket(std::uint32_t id) {
    Client& client = clients_[id];
    client.connected = false;
    client.fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (client.fd < 0) return socket_failed(id, "socket");
    // The kernel doubles it: room for a few windows, so that 10,000 sockets of stalled clients whose servers
    // keep sending cannot pin gigabytes.
    const auto wanted = 2 * std::size_t{settings_.window} * (std::size_t{settings_.block_size} + tftp::header_size);
    const int bytes = static_cast<int>(std::clamp<std::size_t>(wanted, 16384, 4 << 20));
    ::setsockopt(client.fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    if (const auto source = source_address(id)) {
      if (::bind(client.fd, reinterpret_cast<const sockaddr*>(&*source), sizeof *source) != 0) {
        return socket_failed(id, "bind");
      }
    }
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u32 = id;
    if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, client.fd, &event) != 0) return socket_failed(id, "epoll_ctl");
    return true;
  }

  // Each client has an address of its own on a loopback server (127.1.0.1, 127.1.0.2, ...; all of 127/8 is
  // loopback), as each PXE client has its own IP. From one address, 10,000 clients and the server's sessions
  // share one space of ephemeral ports, and a datagram for a closed port (a probe's resent OACK, DATA after the
  // final ACK) reaches whatever socket gets that port next: another client, or another session of the server.
  std::optional<sockaddr_in> source_address(std::uint32_t id) const {
    if (settings_.one_address || (ntohl(server_.sin_addr.s_addr) >> 24) != 127) return std::nullopt;
    sockaddr_in source{};
    source.sin_family = AF_INET;
    source.sin_addr.s_addr = htonl(0x7F010001U + id);
    return source;
  }

  void on_readable(std::uint32_t id) {
    Client& client = clients_[id];
    std::array<mmsghdr, batch> messages{};
    std::array<iovec, batch> vectors{};
    std::array<sockaddr_in, batch> from{};
    const std::size_t size = tftp::max_packet_size + 1;  // + 1: room for a NUL after an ERROR that lacks one
    for (std::size_t i = 0; i < batch; ++i) {
      vectors[i] = {receive_buffers_.data() + i * size, size - 1};
      messages[i].msg_hdr.msg_iov = &vectors[i];
      messages[i].msg_hdr.msg_iovlen = 1;
      messages[i].msg_hdr.msg_name = &from[i];
      messages[i].msg_hdr.msg_namelen = sizeof from[i];
    }
    const int fd = client.fd;
    while (client.fd == fd && fd >= 0 && !client.stalled_until) {
      const int n = ::recvmmsg(fd, messages.data(), batch, MSG_DONTWAIT, nullptr);
      if (n < 0) {
        // An ICMP error for an earlier datagram says nothing about this transfer (as tftp-client).
        if (errno == ECONNREFUSED || errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) socket_failed(id, "recvmmsg");
        return;
      }
      for (std::size_t i = 0; i < static_cast<std::size_t>(n) && client.fd == fd && !client.stalled_until; ++i) {
        const std::span<std::byte> buffer(receive_buffers_.data() + i * size, size);
        on_datagram(id, buffer, messages[i].msg_len, from[i]);
      }
      if (static_cast<std::size_t>(n) < batch) return;
    }
  }

  void on_datagram(std::uint32_t id, std::span<std::byte> buffer, std::size_t size, const sockaddr_in& from) {
    Client& client = clients_[id];
    if (random_.chance(settings_.loss)) {
      ++dropped_;
      return;
    }
    const std::span<const std::byte> bytes(buffer.data(), with_error_terminated(buffer, size));
    if (!client.connected && !accept_first(client, bytes, from)) {
      ++strays_;
      return;
    }
    const auto now = Clock::now();
    if (client.phase == Phase::probing && tftp::peek_opcode(bytes) == tftp::Opcode::oack) return decline(id, now);
    client.machine->on_datagram(bytes, now);
    after_input(id, now);
  }

  // Some servers end an ERROR's message without its NUL; it still says why the server stopped (as tftp-client).
  static std::size_t with_error_terminated(std::span<std::byte> buffer, std::size_t size) {
    const std::span<const std::byte> bytes(buffer.data(), size);
    if (tftp::peek_opcode(bytes) != tftp::Opcode::error || size < tftp::header_size || tftp::parse(bytes)) return size;
    buffer[size] = std::byte{0};
    return size + 1;
  }

  // The first reply fixes the server's port (its transfer ID) and connects the socket to it, so the kernel
  // drops everything else. Only a first answer counts (OACK, DATA 1 or ERROR): anything else from the
  // server's address is an older session still sending to the port this socket was given again.
  bool accept_first(Client& client, std::span<const std::byte> bytes, const sockaddr_in& from) {
    if (from.sin_addr.s_addr != server_.sin_addr.s_addr) return false;
    const auto opcode = tftp::peek_opcode(bytes);
    const bool data_1 = opcode == tftp::Opcode::data && bytes.size() >= tftp::header_size &&
                        bytes[2] == std::byte{0} && bytes[3] == std::byte{1};
    if (opcode != tftp::Opcode::oack && opcode != tftp::Opcode::error && !data_1) return false;
    if (::connect(client.fd, reinterpret_cast<const sockaddr*>(&from), sizeof from) != 0) return false;
    client.connected = true;
    return true;
  }

  // The OACK told the size: declined with ERROR 8 as EDK II does, then the real request from a new port.
  void decline(std::uint32_t id, TimePoint now) {
    Client& client = clients_[id];
    client.machine->abort(tftp::Error{tftp::ErrorCode::option_refused, "User aborted"});
    if (!flush(id)) return;
    // The probe's port stays taken until the new socket has its own, so that the new one cannot be given
    // the same port and take a late OACK of the probe for its answer.
    const int probe = std::exchange(client.fd, -1);
    const bool opened = open_socket(id);
    ::close(probe);
    if (!opened) return;
    client.counters += client.machine->counters();
    client.machine.reset();
    client.sink.reset();
    client.phase = Phase::downloading;
    tftp::ClientOptions wanted;
    wanted.block_size = settings_.block_size;
    wanted.tsize = 0;
    if (settings_.window > 1) wanted.window_size = settings_.window;
    request_on_socket(id, wanted, now);
  }

  void after_input(std::uint32_t id, TimePoint now) {
    Client& client = clients_[id];
    if (!flush(id)) return;
    const auto& outcome = client.machine->outcome();
    if (outcome.completed()) {
      const bool exact = client.sink.bytes() == expected_size_ && client.sink.digest() == expected_hash_;
      return finish(id, exact ? "exact" : "mismatched", now);
    }
    if (outcome.failed()) return finish(id, cause(outcome), now);
    if (client.stalls && client.phase == Phase::downloading && client.sink.bytes() >= expected_size_ / 2) {
      return stall(id, now);
    }
    if (const auto deadline = client.machine->next_deadline()) arm(id, *deadline);
  }

  // Sends what the machine has; false when the client failed on a socket error.
  bool flush(std::uint32_t id) {
    Client& client = clients_[id];
    while (const auto size = client.machine->poll_transmit(transmit_buffer_)) {
      if (random_.chance(settings_.loss)) {
        ++dropped_;
        continue;
      }
      const auto* to = client.connected ? nullptr : reinterpret_cast<const sockaddr*>(&server_);
      const ssize_t sent = ::sendto(client.fd, transmit_buffer_.data(), *size, 0, to, to ? sizeof server_ : 0);
      // A refused earlier datagram is reported on a later call; a full buffer loses this one, which the
      // machine resends. Neither ends the transfer.
      if (sent < 0 && errno != ECONNREFUSED && errno != EAGAIN && errno != ENOBUFS) return socket_failed(id, "sendto");
    }
    return true;
  }

  // A client that stops reading and acknowledging for a while (a ROM busy elsewhere): its socket leaves the
  // loop, and the server must wait or resend.
  void stall(std::uint32_t id, TimePoint now) {
    Client& client = clients_[id];
    client.stalls = false;
    client.stalled_until = now + std::chrono::duration_cast<tftp::Duration>(Seconds(settings_.stall_seconds));
    watch(client, 0);
    arm(id, *client.stalled_until);
  }

  // What arrived while it stalled is read first, then its own timer runs again.
  void resume(std::uint32_t id) {
    Client& client = clients_[id];
    client.stalled_until.reset();
    watch(client, EPOLLIN);
    on_readable(id);
    if (client.machine && client.phase != Phase::done && !client.stalled_until) {
      if (const auto deadline = client.machine->next_deadline()) arm(id, *deadline);
    }
  }

  void watch(const Client& client, std::uint32_t events) {
    epoll_event event{};
    event.events = events;
    event.data.u32 = static_cast<std::uint32_t>(&client - clients_.data());
    ::epoll_ctl(epoll_, EPOLL_CTL_MOD, client.fd, &event);
  }

  // One entry per client in the heap, at its earliest deadline: a later deadline waits until that entry fires
  // (an early timeout is a no-op for the machine) and is pushed then. So re-arming after every datagram
  // costs nothing, and the heap holds about one entry per client: O(log n) per timer.
  void arm(std::uint32_t id, TimePoint when) {
    Client& client = clients_[id];
    if (client.armed && *client.armed <= when) return;
    client.armed = when;
    timers_.push(Timer{when, id});
  }

  void fire_timers(TimePoint now) {
    while (!timers_.empty() && timers_.top().when <= now) {
      const Timer timer = timers_.top();
      timers_.pop();
      Client& client = clients_[timer.client];
      if (client.armed != timer.when) continue;  // replaced by an earlier one, or the client is done
      client.armed.reset();
      if (client.stalled_until) {
        if (now >= *client.stalled_until) {
          resume(timer.client);
        } else {
          arm(timer.client, *client.stalled_until);
        }
        continue;
      }
      client.machine->on_timeout(now);
      after_input(timer.client, now);
    }
  }

  bool socket_failed(std::uint32_t id, const char* call) {
    finish(id, fmt::format("socket error: {}: {}", call, std::strerror(errno)), Clock::now());
    return false;
  }

  void finish(std::uint32_t id, std::string result, TimePoint now) {
    Client& client = clients_[id];
    retire(client);
    client.result = std::move(result);
    client.end = now;
    client.phase = Phase::done;
    client.armed.reset();
    client.stalled_until.reset();
    ++finished_;
  }

  static void retire(Client& client) {
    if (client.machine) {
      client.counters += client.machine->counters();
      client.machine.reset();
    }
    if (client.fd >= 0) ::close(client.fd);
    client.fd = -1;
  }

  const Settings& settings_;
  const tftp::TransferConfig config_;
  const sockaddr_in server_;
  const std::uint64_t expected_hash_;
  const std::uint64_t expected_size_;
  std::vector<Client> clients_;  // never resized: each machine points at its client's sink
  Random random_;
  int epoll_;
  std::vector<std::byte> receive_buffers_;
  std::vector<std::byte> transmit_buffer_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  TimePoint begin_;
  Seconds wall_{};
  std::size_t next_ = 0;  // the next client to start
  std::size_t finished_ = 0;
  std::uint64_t dropped_ = 0;
  std::uint64_t strays_ = 0;
};

// ---- Setup and report ----------------------------------------------------------------------------

sockaddr_in resolve(const Settings& settings) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  if (const int error = ::getaddrinfo(settings.server.c_str(), nullptr, &hints, &found); error != 0) {
    throw std::runtime_error(fmt::format("cannot resolve {}: {}", settings.server, ::gai_strerror(error)));
  }
  sockaddr_in address{};
  std::memcpy(&address, found->ai_addr, sizeof address);
  ::freeaddrinfo(found);
  address.sin_port = htons(settings.port);
  return address;
}

struct Expected {
  std::uint64_t hash = 0;
  std::uint64_t size = 0;
};

Expected hash_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  Hash64 hash;
  std::vector<char> chunk(1 << 20);
  std::uint64_t size = 0;
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    const auto n = static_cast<std::size_t>(in.gcount());
    hash.update(std::as_bytes(std::span(chunk.data(), n)));
    size += n;
  }
  return {hash.digest(), size};
}

// 10,000 clients need 10,000 sockets at once; past the limit a client fails with a socket error.
void raise_open_files(unsigned clients) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < clients + 64U) {
    fmt::print(stderr, "tftp-storm: {} open files at most (RLIMIT_NOFILE): clients beyond that fail\n", limit.rlim_cur);
  }
}

double cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

struct Summary {
  std::size_t exact = 0;
  std::size_t mismatched = 0;
  std::map<std::string, std::size_t> failures;
  std::vector<double> seconds;  // of the completed clients, sorted
  std::uint64_t blocks = 0;
  std::uint64_t retransmissions = 0;

  double percentile(double p) const {
    if (seconds.empty()) return 0;
    const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(seconds.size())));
    return seconds[std::clamp<std::size_t>(rank, 1, seconds.size()) - 1];
  }
};

Summary summarize(const Storm& storm) {
  Summary summary;
  for (const auto& client : storm.clients()) {
    summary.blocks += client.counters.blocks;
    summary.retransmissions += client.counters.retransmissions;
    const bool completed = client.result == "exact" || client.result == "mismatched";
    if (!completed) {
      ++summary.failures[client.result];
      continue;
    }
    ++(client.result == "exact" ? summary.exact : summary.mismatched);
    summary.seconds.push_back(Seconds(client.end - client.start).count());
  }
  std::sort(summary.seconds.begin(), summary.seconds.end());
  return summary;
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

void report(const Settings& settings, const Storm& storm, const Expected& expected, double cpu) {
  const auto summary = summarize(storm);
  const auto give_up = Seconds(tftp::give_up_time(storm.config())).count();
  if (settings.json) {
    std::string failures;
    for (const auto& [why, count] : summary.failures) {
      failures += fmt::format("{}{}: {}", failures.empty() ? "" : ", ", json_string(why), count);
    }
    fmt::print("{{\"clients\": {}, \"file\": {}, \"bytes\": {}, \"blksize\": {}, \"window\": {}, \"ramp\": {}, "
               "\"loss\": {}, \"stall_fraction\": {}, \"stall_seconds\": {}, \"timeout_ms\": {}, \"give_up\": {}, "
               "\"exact\": {}, \"mismatched\": {}, \"failures\": {{{}}}, \"p50\": {:.3f}, \"p90\": {:.3f}, "
               "\"p99\": {:.3f}, \"max\": {:.3f}, \"blocks\": {}, \"retransmissions\": {}, \"dropped\": {}, "
               "\"strays\": {}, \"wall_seconds\": {:.3f}, \"cpu_seconds\": {:.3f}}}\n",
               settings.clients, json_string(settings.file), expected.size, settings.block_size, settings.window,
               settings.ramp, settings.loss, settings.stall_fraction, settings.stall_seconds, settings.timeout_ms,
               give_up, summary.exact, summary.mismatched, failures, summary.percentile(0.5),
               summary.percentile(0.9), summary.percentile(0.99), summary.percentile(1.0), summary.blocks,
               summary.retransmissions, storm.dropped(), storm.strays(), storm.wall().count(), cpu);
    return;
  }
  fmt::print("{} clients, {} ({} bytes), blksize {}, window {}, ramp {} s, loss {}, {} stalling {} s, "
             "timeout {} ms, give-up {:.0f} s\n",
             settings.clients, settings.file, expected.size, settings.block_size, settings.window, settings.ramp,
             settings.loss, settings.stall_fraction, settings.stall_seconds, settings.timeout_ms, give_up);
  fmt::print("complete: {} exact, {} mismatched\n", summary.exact, summary.mismatched);
  std::string failures;
  for (const auto& [why, count] : summary.failures) failures += fmt::format("{}{}: {}", failures.empty() ? "" : ", ", why, count);
  fmt::print("failures: {}\n", failures.empty() ? "none" : failures);
  fmt::print("time to complete (s, first RRQ to last block): p50 {:.3f}, p90 {:.3f}, p99 {:.3f}, max {:.3f}\n",
             summary.percentile(0.5), summary.percentile(0.9), summary.percentile(0.99), summary.percentile(1.0));
  fmt::print("blocks received {}, retransmissions sent {}, datagrams dropped by --loss {}, stray datagrams {}\n",
             summary.blocks, summary.retransmissions, storm.dropped(), storm.strays());
  fmt::print("wall {:.2f} s, generator CPU {:.2f} s\n", storm.wall().count(), cpu);
}

// One line per client: its start (s after the storm began), its result, and its time from the first RRQ to
// the last block (or to the failure); "-" for a client that never started.
void write_times(const std::string& path, const Storm& storm) {
  std::ofstream out(path);
  out << "# client\tstart_s\tresult\tseconds\n";
  for (std::size_t i = 0; i < storm.clients().size(); ++i) {
    const auto& client = storm.clients()[i];
    const bool started = client.start != TimePoint{};
    out << (started ? fmt::format("{}\t{:.3f}\t{}\t{:.3f}\n", i, Seconds(client.start - storm.begin()).count(),
                                  client.result, Seconds(client.end - client.start).count())
                    : fmt::format("{}\t-\t{}\t-\n", i, client.result));
  }
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  CLI::App app{"tftp-storm: a boot storm of simulated UEFI PXE clients against one TFTP server, from one thread"};
  app.add_option("--server", settings.server, "server address (IPv4)")->capture_default_str();
  app.add_option("--port", settings.port, "server port")->capture_default_str();
  app.add_option("--file", settings.file, "the file every client fetches")->required();
  app.add_option("--expect", settings.expect, "the local copy of that file, to check every byte")->required();
  app.add_option("--clients", settings.clients, "simulated clients")->check(CLI::Range(1U, 1000000U))->capture_default_str();
  app.add_option("--ramp", settings.ramp, "seconds over which the clients start, evenly")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--blksize", settings.block_size, "block size asked for")->check(CLI::Range(8, 65464))->capture_default_str();
  app.add_option("--window", settings.window, "windowsize asked for (1: lock-step, not asked)")->check(CLI::Range(1, 65535))->capture_default_str();
  app.add_option("--loss", settings.loss, "probability of dropping each datagram received and each sent")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  app.add_option("--seed", settings.seed, "seed of the losses and of which clients stall")->capture_default_str();
  app.add_option("--stall-fraction", settings.stall_fraction, "fraction of clients that stop reading once, mid-transfer")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  app.add_option("--stall-seconds", settings.stall_seconds, "how long they stop")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--timeout", settings.timeout_ms, "client retransmission timeout in ms (fixed, then backed off)")->check(CLI::Range(10U, 255000U))->capture_default_str();
  app.add_option("--give-up", settings.give_up, "seconds of server silence before a client gives up")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--max-seconds", settings.max_seconds, "the whole storm's bound: clients still running then fail by \"deadline\"")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_flag("--one-address", settings.one_address, "every client from the same address (default on a loopback server: 127.1.0.1 + client)");
  app.add_flag("--json", settings.json, "print one JSON object");
  app.add_option("--times", settings.times, "write one line per client (start, result, seconds) to this file");
  CLI11_PARSE(app, argc, argv);

  try {
    raise_open_files(settings.clients);
    const auto server = resolve(settings);
    const auto expected = hash_file(settings.expect);
    Storm storm(settings, server, expected.hash, expected.size);
    storm.run();
    report(settings, storm, expected, cpu_seconds());
    if (!settings.times.empty()) write_times(settings.times, storm);
  } catch (const std::exception& error) {
    fmt::print(stderr, "tftp-storm: {}\n", error.what());
    return 1;
  }
  return 0;
}
