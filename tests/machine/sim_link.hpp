#pragma once
// A simulated link between a client machine and a server machine, on a virtual clock: every datagram
// either machine transmits is delivered after a fixed one-way delay unless the drop rule says otherwise.
// The server machine is made from the first request that reaches it; later copies of the request are
// dropped. This is a harness for the two machines alone: what a server does with requests (repeats,
// strangers, limits) is the ServerEndpoint's, tested on its own simulated network (endpoint_sim.hpp). No
// sockets, no sleeping: a run of 70 000 blocks takes milliseconds.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <vector>

#include "support/pattern.hpp"
#include "tftp/codec.hpp"
#include "tftp/transfer.hpp"

namespace tftp::sim {

enum class Side { client, server };  // who sent a datagram

struct Datagram {
  Side from;
  std::vector<std::byte> bytes;
  TimePoint sent;
};

// Decides whether the n-th datagram (0-based, counted over both directions) is lost.
using DropRule = std::function<bool(std::uint64_t n, const Datagram&)>;

// What else the network does to a datagram that is not lost: how many extra copies arrive (duplication)
// and how much later than the base delay each copy arrives (jitter, hence reordering).
struct Mangling {
  unsigned copies = 0;
  Duration extra_delay{};
};
using MangleRule = std::function<Mangling(std::uint64_t n, const Datagram&)>;

inline MangleRule clean() {
  return [](std::uint64_t, const Datagram&) { return Mangling{}; };
}

// Duplicates each datagram with probability `duplicate_rate` and delays each by up to `jitter` more, from a
// fixed seed: datagrams overtake each other.
inline MangleRule duplicate_and_reorder(double duplicate_rate, Duration jitter, std::uint32_t seed) {
  auto engine = std::make_shared<std::mt19937>(seed);
  return [engine, duplicate_rate, jitter](std::uint64_t, const Datagram&) {
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    Mangling m;
    m.copies = unit(*engine) < duplicate_rate ? 1U : 0U;
    m.extra_delay = std::chrono::duration_cast<Duration>(jitter * unit(*engine));
    return m;
  };
}

inline DropRule no_loss() {
  return [](std::uint64_t, const Datagram&) { return false; };
}

// Loses each datagram with probability `rate`, from a fixed seed: the same run every time.
inline DropRule random_loss(double rate, std::uint32_t seed) {
  auto engine = std::make_shared<std::mt19937>(seed);
  return [engine, rate](std::uint64_t, const Datagram&) {
    return std::uniform_real_distribution<double>(0.0, 1.0)(*engine) < rate;
  };
}

inline std::uint16_t opcode_of(const Datagram& d) {
  return d.bytes.size() >= 2 ? static_cast<std::uint16_t>(std::to_integer<unsigned>(d.bytes[1])) : 0;
}

inline std::uint16_t block_of(const Datagram& d) {
  return static_cast<std::uint16_t>((std::to_integer<unsigned>(d.bytes[2]) << 8U) | std::to_integer<unsigned>(d.bytes[3]));
}

template <class ClientMachine, class ServerMachine>
class Link {
 public:
  // Makes the server machine from the first request that arrives (bytes of an RRQ or WRQ).
  using ServerFactory = std::function<ServerMachine(std::span<const std::byte> request, TimePoint now)>;

  Link(ClientMachine& client, ServerFactory make_server, DropRule drop = no_loss(), MangleRule mangle = clean(),
       Duration delay = std::chrono::milliseconds(1))
      : client_(client),
        make_server_(std::move(make_server)),
        drop_(std::move(drop)),
        mangle_(std::move(mangle)),
        delay_(delay) {}

  // Runs until both machines are finished, nothing is left to happen, or max_events have been processed.
  // Returns false when it stopped on max_events (a livelock).
  bool run(std::uint64_t max_events = 10'000'000) {
    drain();
    for (std::uint64_t i = 0; i < max_events; ++i) {
      if (client_.is_finished() && (!server_ || server_->is_finished())) return true;
      if (!step()) return true;
    }
    return false;
  }

  ClientMachine& client() { return client_; }
  std::optional<ServerMachine>& server() { return server_; }
  TimePoint now() const { return now_; }
  // Every datagram transmitted, lost or not, in order.
  const std::vector<Datagram>& log() const { return log_; }
  std::uint64_t lost() const { return lost_; }

  // Transmitted datagrams from one side with one opcode.
  std::size_t count(Side from, Opcode opcode) const {
    return static_cast<std::size_t>(std::count_if(log_.begin(), log_.end(), [&](const Datagram& d) {
      return d.from == from && opcode_of(d) == static_cast<std::uint16_t>(opcode);
    }));
  }

 private:
  struct InFlight {
    Side to;
    std::vector<std::byte> bytes;
  };

  template <class Machine>
  void drain_one(Machine& machine, Side from) {
    std::vector<std::byte> buffer(transmit_buffer_size);
    while (const auto size = machine.poll_transmit(buffer)) {
      Datagram datagram{from, std::vector<std::byte>(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*size)), now_};
      const bool lost = drop_(log_.size(), datagram);
      if (lost) {
        ++lost_;
      } else {
        const Mangling m = mangle_(log_.size(), datagram);
        const Side to = from == Side::client ? Side::server : Side::client;
        for (unsigned copy = 0; copy <= m.copies; ++copy) {
          flight_.emplace(now_ + delay_ + m.extra_delay * (copy + 1), InFlight{to, datagram.bytes});
        }
      }
      log_.push_back(std::move(datagram));
    }
  }

  void drain() {
    drain_one(client_, Side::client);
    if (server_) drain_one(*server_, Side::server);
  }

  // The next event: a delivery or a deadline, whichever is first (deliveries first on a tie).
  bool step() {
    std::optional<TimePoint> next;
    const auto consider = [&next](std::optional<TimePoint> t) {
      if (t && (!next || *t < *next)) next = t;
    };
    if (!flight_.empty()) consider(flight_.begin()->first);
    consider(client_.next_deadline());
    if (server_) consider(server_->next_deadline());
    if (!next) return false;
    now_ = std::max(now_, *next);
    if (!flight_.empty() && flight_.begin()->first <= now_) {
      InFlight packet = std::move(flight_.begin()->second);
      flight_.erase(flight_.begin());
      deliver(packet);
    } else {
      client_.on_timeout(now_);
      if (server_) server_->on_timeout(now_);
    }
    drain();
    return true;
  }

  void deliver(const InFlight& packet) {
    if (packet.to == Side::client) {
      client_.on_datagram(packet.bytes, now_);
      return;
    }
    const auto opcode = peek_opcode(packet.bytes);
    const bool request = opcode == Opcode::rrq || opcode == Opcode::wrq;
    if (!server_) {
      if (request) server_.emplace(make_server_(packet.bytes, now_));
      return;
    }
    if (!request) server_->on_datagram(packet.bytes, now_);
  }

  ClientMachine& client_;
  std::optional<ServerMachine> server_;
  ServerFactory make_server_;
  DropRule drop_;
  MangleRule mangle_;
  Duration delay_;
  TimePoint now_{};
  std::multimap<TimePoint, InFlight> flight_;  // by arrival time; equal times keep their sending order
  std::vector<Datagram> log_;
  std::uint64_t lost_ = 0;
};

// The contents the machine tests move: the test pattern (support/pattern.hpp).
using test::pattern;

// The pattern as a source of any size, generated block by block: a rollover-sized
// file without the memory.
class PatternSource final : public BlockSource {
 public:
  explicit PatternSource(std::uint64_t size) : size_(size) {}
  BlockRead read_block(std::uint64_t index, std::span<std::byte> out) override {
    const std::uint64_t offset = index * out.size();
    const std::size_t n = offset >= size_ ? 0 : static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), size_ - offset));
    test::fill_pattern(out.first(n), offset);
    return n;
  }

 private:
  std::uint64_t size_;
};

// Checks every byte written against the pattern, in order, without keeping them.
class PatternCheckSink final : public BlockSink {
 public:
  std::optional<Error> write_block(std::uint64_t index, std::span<const std::byte> bytes) override {
    if (index != blocks_) ordered_ = false;
    ++blocks_;
    expected_.resize(bytes.size());
    test::fill_pattern(expected_, size_);
    for (std::size_t i = 0; i < bytes.size(); ++i) mismatches_ += bytes[i] != expected_[i] ? 1U : 0U;
    size_ += bytes.size();
    return std::nullopt;
  }
  std::uint64_t size() const { return size_; }
  std::uint64_t mismatches() const { return mismatches_; }
  bool ordered() const { return ordered_; }

 private:
  std::uint64_t size_ = 0;
  std::uint64_t blocks_ = 0;
  std::uint64_t mismatches_ = 0;
  bool ordered_ = true;
  std::vector<std::byte> expected_;
};

}  // namespace tftp::sim
