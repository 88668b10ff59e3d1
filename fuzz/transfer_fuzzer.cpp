// transfer_fuzzer: the Sender and Receiver state machines driven by the input, on a virtual clock.
//
// Two kinds of run, chosen by the first byte:
//  - adversary (kinds 0-3): one machine in one of its four roles (serving an RRQ or a WRQ, or as the client
//    of a WRQ or an RRQ) against a peer the input plays: DATA and ACKs near the blocks in play, OACKs, ERRORs,
//    raw bytes, its own datagrams echoed back, timeouts on time and early, aborts;
//  - pair (kinds 4-5): a client and a server machine (download or upload) over a link whose loss,
//    duplication and delay the input chooses per datagram.
// After every input: each datagram parses and suits the role, at most window + 2 come out, the counters
// match what came out, the outcome never leaves a terminal state, and a machine that is not finished has a
// deadline in the future (else a driver would wait forever). The sink sees blocks in order, full but the
// last; the source is never asked for a released block or one past the end. At the end, with no more
// datagrams, a bounded number of timeouts (max_timeouts_per_silence + 2) make every machine finished with
// a terminal outcome.
// Pair runs also check that what the receiver wrote is a prefix of the file, the whole file once it
// completed, and that the sender completes only after the receiver did.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "fuzz_support.hpp"
#include "tftp/codec.hpp"
#include "tftp/options.hpp"
#include "tftp/transfer.hpp"

namespace {

using tftp::fuzz::ByteReader;
using Bytes = std::vector<std::byte>;
using Ms = std::chrono::milliseconds;

enum class Role { serve_read, serve_write, client_write, client_read };

// TFTP_FUZZ_TRACE=1 prints every datagram and timeout, to read a crashing input's story.
const bool tracing = std::getenv("TFTP_FUZZ_TRACE") != nullptr;
const tftp::TimePoint start_time = tftp::TimePoint{} + std::chrono::hours(1);

void trace(const char* what, std::span<const std::byte> bytes, tftp::TimePoint now) {
  if (!tracing) return;
  auto at = [&](std::size_t i) { return i < bytes.size() ? std::to_integer<unsigned>(bytes[i]) : 0U; };
  std::fprintf(stderr, "%10.3f ms %-14s op %u block %u (%zu bytes)\n",
               std::chrono::duration<double, std::milli>(now - start_time).count(), what, at(1), at(2) * 256 + at(3),
               bytes.size());
}

bool is_sender(Role r) { return r == Role::serve_read || r == Role::client_write; }
bool is_server(Role r) { return r == Role::serve_read || r == Role::serve_write; }

// ---- Setup read from the input ------------------------------------------------------------------------

tftp::TransferConfig read_config(ByteReader& in) {
  tftp::TransferConfig c;
  c.min_timeout = Ms(1 + in.u8() % 64);
  c.max_timeout = c.min_timeout + Ms(in.u16() % 8000);
  c.initial_timeout = c.min_timeout + (c.max_timeout - c.min_timeout) * in.u8() / 255;
  c.max_retries = in.u8() % 8U;
  if (const auto dally = in.u16() % 4001; dally != 0) c.dally = Ms(dally);  // 0: the give-up time
  c.adaptive = in.flag();
  // Reach: bit 7 bounds the unanswered resends (low 2 bits), bit 6 the first window (512 << bits 2-4).
  const auto reach = in.u8();
  if ((reach & 0x80U) != 0) c.unanswered_resends = reach & 3U;
  if ((reach & 0x40U) != 0) c.first_window_bytes = std::size_t{512} << ((reach >> 2U) & 7U);
  return c;
}

tftp::ClientOptions read_client_options(ByteReader& in, std::size_t file_size, bool upload) {
  tftp::ClientOptions o;
  const auto present = in.u8();
  if ((present & 1U) != 0) o.block_size = in.u16();
  if ((present & 2U) != 0) o.window_size = in.u16();
  if ((present & 4U) != 0) o.timeout_s = in.u8();
  if ((present & 8U) != 0) o.tsize = upload ? file_size : 0;
  return o;
}

tftp::ServerPolicy read_policy(ByteReader& in, std::uint16_t window_cap) {
  tftp::ServerPolicy p;
  p.max_block_size = in.u16();
  p.max_window_size = static_cast<std::uint16_t>(in.u16() % (window_cap + 1U));
  p.min_timeout_s = in.u8();
  p.max_timeout_s = in.u8();
  if (in.flag()) p.max_upload = in.u16();
  return p;
}

// A failure of the file: at this block index (nullopt: never).
std::optional<std::uint64_t> read_failure(ByteReader& in) {
  const auto at = in.u8();
  return at >= 0xF0 ? std::optional<std::uint64_t>(at - 0xF0U) : std::nullopt;
}

Bytes make_file(std::size_t size) {
  Bytes file(size);
  // Different bytes in every block, so that a block written twice or out of order shows.
  for (std::size_t i = 0; i < size; ++i) file[i] = static_cast<std::byte>((i * 2654435761U) >> 13U);
  return file;
}

// ---- Checking file ends ---------------------------------------------------------------------------------

class CheckingSource final : public tftp::BlockSource {
 public:
  CheckingSource(std::span<const std::byte> file, std::optional<std::uint64_t> fail_at)
      : file_(file), fail_at_(fail_at) {}

  tftp::BlockRead read_block(std::uint64_t index, std::span<std::byte> out) override {
    FUZZ_CHECK(out.size() >= tftp::min_block_size);
    FUZZ_CHECK(block_size_ == 0 || out.size() == block_size_);
    block_size_ = out.size();
    FUZZ_CHECK(index >= released_);
    FUZZ_CHECK(index <= file_.size() / out.size());  // never past the first short block
    if (fail_at_ == index) return tftp::Error{tftp::ErrorCode::not_defined, "read failed"};
    const auto offset = static_cast<std::size_t>(index) * out.size();
    const auto n = std::min(out.size(), file_.size() - offset);
    std::copy_n(file_.begin() + static_cast<std::ptrdiff_t>(offset), n, out.begin());
    return n;
  }

  void release(std::uint64_t first_unacknowledged) override {
    FUZZ_CHECK(first_unacknowledged >= released_);
    released_ = first_unacknowledged;
  }

  std::size_t block_size() const { return block_size_; }

 private:
  std::span<const std::byte> file_;
  std::optional<std::uint64_t> fail_at_;
  std::size_t block_size_ = 0;
  std::uint64_t released_ = 0;
};

class CheckingSink final : public tftp::BlockSink {
 public:
  explicit CheckingSink(std::optional<std::uint64_t> fail_at) : fail_at_(fail_at) {}

  std::optional<tftp::Error> write_block(std::uint64_t index, std::span<const std::byte> bytes) override {
    FUZZ_CHECK(!finished_ && !failed_);
    FUZZ_CHECK(index == sizes_.size());
    // Only the last block is short, so nothing follows a block shorter than the first.
    FUZZ_CHECK(sizes_.empty() || sizes_.back() == sizes_.front());
    FUZZ_CHECK(sizes_.empty() || bytes.size() <= sizes_.front());
    if (fail_at_ == index) {
      failed_ = true;
      return tftp::Error{tftp::ErrorCode::disk_full, "disk full"};
    }
    sizes_.push_back(bytes.size());
    bytes_.insert(bytes_.end(), bytes.begin(), bytes.end());
    return std::nullopt;
  }

  std::optional<tftp::Error> finish() override {
    FUZZ_CHECK(!finished_ && !failed_ && !sizes_.empty());
    finished_ = true;
    return std::nullopt;
  }

  std::uint64_t blocks() const { return sizes_.size(); }
  const Bytes& bytes() const { return bytes_; }

  // What the sink saw agrees with the receiver's block size and outcome.
  void check_end(const tftp::Receiver& receiver) const {
    const std::size_t block_size = receiver.negotiated().block_size;
    for (std::size_t i = 0; i + 1 < sizes_.size(); ++i) FUZZ_CHECK(sizes_[i] == block_size);
    if (receiver.outcome().completed()) {
      FUZZ_CHECK(finished_ && sizes_.back() < block_size);
    } else {
      FUZZ_CHECK(!finished_ || receiver.outcome().error == tftp::errc::local_io_error);
    }
  }

 private:
  std::optional<std::uint64_t> fail_at_;
  std::vector<std::size_t> sizes_;
  Bytes bytes_;
  bool finished_ = false;
  bool failed_ = false;
};

// ---- The per-input checks ------------------------------------------------------------------------------

template <class Machine>
class Watch {
 public:
  Watch(Machine& machine, Role role) : machine_(machine), role_(role), buffer_(tftp::transmit_buffer_size) {}

  // After each input at `now`: everything the machine transmits, checked.
  std::vector<Bytes> drain(tftp::TimePoint now, bool after_timeout = false) {
    std::vector<Bytes> out;
    while (const auto n = machine_.poll_transmit(buffer_)) {
      FUZZ_CHECK(*n <= buffer_.size());
      out.emplace_back(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(*n));
      trace(is_sender(role_) ? "sender sends" : "receiver sends", out.back(), now);
      check_datagram(out.back());
      FUZZ_CHECK(out.size() <= machine_.negotiated().window_size + 2U);
    }
    FUZZ_CHECK(!machine_.poll_transmit(buffer_).has_value());
    check_state(now, after_timeout);
    return out;
  }

  std::optional<std::uint16_t> last_data() const { return last_data_; }
  std::optional<std::uint16_t> last_ack() const { return last_ack_; }
  const Bytes& last_datagram() const { return last_datagram_; }

 private:
  void check_datagram(const Bytes& bytes) {
    const auto parsed = tftp::parse(bytes);
    FUZZ_CHECK(parsed.has_value());
    ++datagrams_;
    last_datagram_ = bytes;
    if (const auto* data = std::get_if<tftp::Data>(&*parsed)) {
      FUZZ_CHECK(is_sender(role_));
      FUZZ_CHECK(data->payload.size() <= machine_.negotiated().block_size);
      ++data_;
      last_data_ = data->block;
    } else if (const auto* ack = std::get_if<tftp::Ack>(&*parsed)) {
      FUZZ_CHECK(!is_sender(role_));
      ++acks_;
      last_ack_ = ack->block;
    } else if (const auto* error = std::get_if<tftp::Error>(&*parsed)) {
      error_sent_ = *error;
    } else if (std::holds_alternative<tftp::Oack>(*parsed)) {
      FUZZ_CHECK(is_server(role_));
    } else if (std::holds_alternative<tftp::Rrq>(*parsed)) {
      FUZZ_CHECK(role_ == Role::client_read);
    } else {
      FUZZ_CHECK(role_ == Role::client_write);
    }
  }

  void check_state(tftp::TimePoint now, bool after_timeout) {
    const auto& counters = machine_.counters();
    FUZZ_CHECK(counters.datagrams_sent == datagrams_);
    FUZZ_CHECK(counters.data_sent == data_);
    FUZZ_CHECK(counters.acks_sent == acks_);
    const auto& outcome = machine_.outcome();
    if (status_ != tftp::TransferStatus::running) FUZZ_CHECK(outcome.status == status_ && outcome.error == error_);
    status_ = outcome.status;
    error_ = outcome.error;
    FUZZ_CHECK(outcome.failed() == (outcome.error != tftp::errc{}));
    if (error_sent_) FUZZ_CHECK(outcome.failed() && outcome.sent == error_sent_);
    const auto deadline = machine_.next_deadline();
    if (tracing) {
      std::fprintf(stderr, "%28s status %d error %d finished %d deadline %+.3f ms\n", "", static_cast<int>(outcome.status),
                   static_cast<int>(outcome.error), static_cast<int>(machine_.is_finished()),
                   deadline ? std::chrono::duration<double, std::milli>(*deadline - now).count() : -1.0);
    }
    if (machine_.is_finished()) {
      FUZZ_CHECK(!deadline.has_value() && !outcome.running());
    } else {
      // A timer the driver has not yet fired may be overdue when a datagram arrives (both were ready at
      // once); otherwise every input leaves the timer in the future.
      FUZZ_CHECK(deadline.has_value());
      FUZZ_CHECK(*deadline > now || (!after_timeout && deadline == deadline_));
    }
    deadline_ = deadline;
  }

  Machine& machine_;
  Role role_;
  Bytes buffer_;
  std::uint64_t datagrams_ = 0;
  std::uint64_t data_ = 0;
  std::uint64_t acks_ = 0;
  tftp::TransferStatus status_ = tftp::TransferStatus::running;
  tftp::errc error_{};
  std::optional<tftp::Error> error_sent_;
  std::optional<tftp::TimePoint> deadline_;  // after the previous input
  std::optional<std::uint16_t> last_data_;
  std::optional<std::uint16_t> last_ack_;
  Bytes last_datagram_;
};

// No more datagrams: the machine must finish on its timeouts alone, and soon.
template <class Machine>
void run_out(Machine& machine, Watch<Machine>& watch, tftp::TimePoint& now, const tftp::TransferConfig& config) {
  const std::uint64_t bound = tftp::max_timeouts_per_silence(config) + 2;
  for (std::uint64_t i = 0; i < bound && !machine.is_finished(); ++i) {
    now = *machine.next_deadline();
    trace("timeout (end)", {}, now);
    machine.on_timeout(now);
    watch.drain(now, true);
  }
  FUZZ_CHECK(machine.is_finished());
  FUZZ_CHECK(!machine.outcome().running());
}

// ---- Adversary runs -------------------------------------------------------------------------------------

// The encoded packet; empty (itself a malformed datagram) when the codec refuses it, e.g. DATA past 65464.
Bytes encode(const tftp::Packet& packet) {
  Bytes out(tftp::max_packet_size + 16);
  const auto n = tftp::encode(packet, out);
  out.resize(n ? *n : 0);
  return out;
}

std::uint16_t near(std::uint16_t block, ByteReader& in) {
  return static_cast<std::uint16_t>(block + static_cast<std::uint16_t>(static_cast<std::int8_t>(in.u8())));
}

// The peer's datagram for an op, or nullopt for ops that are not datagrams.
struct Peer {
  Role role;
  tftp::OptionList requested;
  std::optional<std::uint64_t> file_size;
  Bytes request;  // the RRQ or WRQ the transfer started with

  Bytes data(ByteReader& in, std::uint16_t expected, std::uint16_t block_size) const {
    const auto block = near(expected, in);
    std::size_t size = 0;
    switch (in.u8() % 4) {
      case 0: size = block_size; break;
      case 1: size = static_cast<std::size_t>(in.u16() % block_size); break;
      case 2: size = 0; break;
      default: size = block_size + 1U; break;
    }
    Bytes payload(size, std::byte{0x5A});
    return encode(tftp::Data{block, payload});
  }

  Bytes oack(ByteReader& in) const {
    tftp::ServerPolicy policy;
    policy.max_block_size = in.u16();
    policy.max_window_size = in.u8();
    const auto direction = is_sender(role) ? tftp::Direction::write : tftp::Direction::read;
    auto options = tftp::negotiate(policy, requested, direction, file_size).oack;
    if (options.empty()) options = requested;
    if (options.empty()) options.push_back({"blksize", "512"});
    return encode(tftp::Oack{options});
  }
};

template <class Machine>
void feed(Machine& machine, Watch<Machine>& watch, std::span<const std::byte> datagram, tftp::TimePoint now) {
  trace("peer sends", datagram, now);
  machine.on_datagram(datagram, now);
  watch.drain(now);
}

template <class Machine>
void early_timeout(Machine& machine, Watch<Machine>& watch, ByteReader& in, tftp::TimePoint& now) {
  const auto deadline = machine.next_deadline();
  if (!deadline || *deadline <= now) return;  // already due: nothing early about it
  now += (*deadline - now) * in.u8() / 256;
  const auto before = machine.counters();
  const auto status = machine.outcome().status;
  trace("early timeout", {}, now);
  machine.on_timeout(now);
  FUZZ_CHECK(watch.drain(now, true).empty());
  FUZZ_CHECK(machine.next_deadline() == deadline && machine.outcome().status == status);
  FUZZ_CHECK(machine.counters().timeouts == before.timeouts && machine.counters().retransmissions == before.retransmissions);
}

template <class Machine>
void abort_now(Machine& machine, Watch<Machine>& watch, tftp::TimePoint now) {
  const bool was_running = machine.outcome().running();
  machine.abort(tftp::Error{tftp::ErrorCode::not_defined, "cancelled"});
  watch.drain(now);
  if (was_running) FUZZ_CHECK(machine.outcome().error == tftp::errc::aborted);
}

template <class Machine>
void adversary_events(Machine& machine, Watch<Machine>& watch, const Peer& peer, ByteReader& in,
                      tftp::TimePoint& now, const std::function<std::uint16_t()>& expected_data) {
  for (unsigned events = 0; !in.empty() && events < 2048; ++events) {
    const auto op = in.u8();
    now += Ms(op >> 4U);
    const auto block_size = machine.negotiated().block_size;
    switch (op & 15U) {
      case 0: case 1: feed(machine, watch, peer.data(in, expected_data(), block_size), now); break;
      case 2: case 3: feed(machine, watch, encode(tftp::Ack{near(watch.last_data().value_or(0), in)}), now); break;
      case 4: feed(machine, watch, peer.oack(in), now); break;
      case 5: feed(machine, watch, encode(tftp::Error{static_cast<tftp::ErrorCode>(in.u8() % 10U), "no"}), now); break;
      case 6: feed(machine, watch, in.take(in.u8()), now); break;
      case 7: feed(machine, watch, watch.last_datagram(), now); break;
      case 8: case 9: case 10:
        if (const auto deadline = machine.next_deadline()) now = std::max(now, *deadline + Ms(in.u8() % 4U));
        trace("timeout", {}, now);
        machine.on_timeout(now);
        watch.drain(now, true);
        break;
      case 11: early_timeout(machine, watch, in, now); break;
      case 12: if (in.u8() == 0) abort_now(machine, watch, now); break;
      case 13: feed(machine, watch, peer.request, now); break;
      default: now += Ms(in.u16()); break;
    }
  }
}

void adversary(Role role, ByteReader& in) {
  const auto config = read_config(in);
  const auto file = make_file(in.u16() % 4097U);
  const auto options = tftp::make_request_options(read_client_options(in, file.size(), is_sender(role)));
  const auto policy = read_policy(in, 65535);
  const auto failure = read_failure(in);
  tftp::TimePoint now = start_time;
  // The request that starts the transfer: a server may see it repeated, a client its own echoed.
  const bool read = role == Role::serve_read || role == Role::client_read;
  const Peer peer{role, options, file.size(),
                  read ? encode(tftp::Rrq{"f", tftp::Mode::octet, options}) : encode(tftp::Wrq{"f", tftp::Mode::octet, options})};
  if (is_sender(role)) {
    CheckingSource source(file, failure);
    auto machine = role == Role::serve_read
                       ? tftp::Sender::serve_read(tftp::negotiate(policy, options, tftp::Direction::read, file.size()),
                                                  source, config, now)
                       : tftp::Sender::client_write(tftp::Wrq{"f", tftp::Mode::octet, options}, source, config, now);
    Watch watch(machine, role);
    watch.drain(now);
    adversary_events(machine, watch, peer, in, now, [] { return std::uint16_t{1}; });
    run_out(machine, watch, now, config);
    if (source.block_size() != 0) FUZZ_CHECK(source.block_size() == machine.negotiated().block_size);
  } else {
    CheckingSink sink(failure);
    auto machine = role == Role::serve_write
                       ? tftp::Receiver::serve_write(tftp::negotiate(policy, options, tftp::Direction::write, std::nullopt),
                                                     sink, config, now)
                       : tftp::Receiver::client_read(tftp::Rrq{"f", tftp::Mode::octet, options}, sink, config, now);
    Watch watch(machine, role);
    watch.drain(now);
    adversary_events(machine, watch, peer, in, now,
                     [&sink] { return static_cast<std::uint16_t>(sink.blocks() + 1); });
    run_out(machine, watch, now, config);
    sink.check_end(machine);
  }
}

// ---- Pair runs ------------------------------------------------------------------------------------------

struct InFlight {
  tftp::TimePoint at;
  bool to_server = false;
  Bytes bytes;
};

// The link's fate for each datagram comes from the input; past its end, every datagram arrives after 1 ms.
class Link {
 public:
  explicit Link(ByteReader& in) : in_(in) {}

  void send(std::vector<Bytes> datagrams, bool to_server, tftp::TimePoint now) {
    for (auto& bytes : datagrams) {
      const auto fate = in_.u8();
      if ((fate & 0xC0U) == 0xC0U) continue;  // lost
      const auto at = now + Ms(1 + (fate & 0x0FU) * 7U);
      if ((fate & 0x30U) == 0x30U) queue(InFlight{at + Ms(3), to_server, bytes});
      queue(InFlight{at, to_server, std::move(bytes)});
    }
  }

  std::optional<tftp::TimePoint> next_arrival() const {
    return queue_.empty() ? std::nullopt : std::optional(queue_.front().at);
  }
  InFlight pop() {
    auto front = std::move(queue_.front());
    queue_.pop_front();
    return front;
  }

 private:
  void queue(InFlight datagram) {
    const auto later = std::upper_bound(queue_.begin(), queue_.end(), datagram.at,
                                        [](tftp::TimePoint at, const InFlight& d) { return at < d.at; });
    queue_.insert(later, std::move(datagram));
  }

  ByteReader& in_;
  std::deque<InFlight> queue_;
};

std::optional<tftp::TimePoint> earliest(std::optional<tftp::TimePoint> a, std::optional<tftp::TimePoint> b) {
  if (!a) return b;
  if (!b) return a;
  return std::min(*a, *b);
}

// A download (client Receiver, server Sender) or an upload (client Sender, server Receiver).
template <class Client, class Server>
struct Pair {
  Client& client;
  Watch<Client>& client_watch;
  std::optional<Server> server;
  std::optional<Watch<Server>> server_watch;
};

template <class Client, class Server, class MakeServer>
void run_pair(Pair<Client, Server>& p, Link& link, tftp::TimePoint& now, MakeServer make_server) {
  link.send(p.client_watch.drain(now), true, now);
  for (unsigned events = 0;; ++events) {
    FUZZ_CHECK(events < 100000);  // a livelock, not a transfer
    if (p.client.is_finished() && (!p.server || p.server->is_finished())) return;
    const auto server_deadline = p.server ? p.server->next_deadline() : std::nullopt;
    const auto timer = earliest(p.client.next_deadline(), server_deadline);
    const auto arrival = link.next_arrival();
    if (!timer && !arrival) return;
    if (arrival && (!timer || *arrival <= *timer)) {
      auto datagram = link.pop();
      now = datagram.at;
      trace(datagram.to_server ? "arrives server" : "arrives client", datagram.bytes, now);
      if (!datagram.to_server) {
        p.client.on_datagram(datagram.bytes, now);
        link.send(p.client_watch.drain(now), true, now);
      } else if (p.server) {
        p.server->on_datagram(datagram.bytes, now);
        link.send(p.server_watch->drain(now), false, now);
      } else if (make_server(datagram.bytes, now)) {
        link.send(p.server_watch->drain(now), false, now);
      }
      continue;
    }
    now = *timer;
    if (p.client.next_deadline() == timer) {
      trace("client timeout", {}, now);
      p.client.on_timeout(now);
      link.send(p.client_watch.drain(now, true), true, now);
    } else {
      trace("server timeout", {}, now);
      p.server->on_timeout(now);
      link.send(p.server_watch->drain(now, true), false, now);
    }
  }
}

// Timeouts per machine: each step of progress (a block, the start, the end) takes at most one silence's worth.
std::uint64_t timeout_bound(std::size_t file_size, const tftp::TransferConfig& config) {
  return (file_size / tftp::min_block_size + 4) * tftp::max_timeouts_per_silence(config);
}

void check_delivery(const CheckingSink& sink, const tftp::Receiver& receiver, const Bytes& file) {
  FUZZ_CHECK(sink.bytes().size() <= file.size());
  FUZZ_CHECK(std::equal(sink.bytes().begin(), sink.bytes().end(), file.begin()));
  if (receiver.outcome().completed()) FUZZ_CHECK(sink.bytes() == file);
  sink.check_end(receiver);
}

void pair_download(ByteReader& in) {
  const auto config = read_config(in);
  const auto file = make_file(in.u16() % 2049U);
  const auto options = tftp::make_request_options(read_client_options(in, file.size(), false));
  const auto policy = read_policy(in, 16);
  CheckingSink sink(read_failure(in));
  CheckingSource source(file, read_failure(in));
  tftp::TimePoint now = start_time;
  auto client = tftp::Receiver::client_read(tftp::Rrq{"f", tftp::Mode::octet, options}, sink, config, now);
  Watch client_watch(client, Role::client_read);
  Pair<tftp::Receiver, tftp::Sender> p{client, client_watch, std::nullopt, std::nullopt};
  Link link(in);
  run_pair(p, link, now, [&](std::span<const std::byte> bytes, tftp::TimePoint at) {
    const auto request = tftp::parse(bytes);
    if (!request || !std::holds_alternative<tftp::Rrq>(*request)) return false;
    const auto answer = tftp::negotiate(policy, std::get<tftp::Rrq>(*request).options, tftp::Direction::read, file.size());
    p.server.emplace(tftp::Sender::serve_read(answer, source, config, at));
    p.server_watch.emplace(*p.server, Role::serve_read);
    return true;
  });
  FUZZ_CHECK(client.is_finished());
  check_delivery(sink, client, file);
  FUZZ_CHECK(client.counters().timeouts <= timeout_bound(file.size(), config));
  if (p.server) {
    if (p.server->outcome().completed()) FUZZ_CHECK(client.outcome().completed());
    FUZZ_CHECK(p.server->counters().timeouts <= timeout_bound(file.size(), config));
  }
}

void pair_upload(ByteReader& in) {
  const auto config = read_config(in);
  const auto file = make_file(in.u16() % 2049U);
  const auto options = tftp::make_request_options(read_client_options(in, file.size(), true));
  const auto policy = read_policy(in, 16);
  CheckingSource source(file, read_failure(in));
  CheckingSink sink(read_failure(in));
  tftp::TimePoint now = start_time;
  auto client = tftp::Sender::client_write(tftp::Wrq{"f", tftp::Mode::octet, options}, source, config, now);
  Watch client_watch(client, Role::client_write);
  Pair<tftp::Sender, tftp::Receiver> p{client, client_watch, std::nullopt, std::nullopt};
  Link link(in);
  run_pair(p, link, now, [&](std::span<const std::byte> bytes, tftp::TimePoint at) {
    const auto request = tftp::parse(bytes);
    if (!request || !std::holds_alternative<tftp::Wrq>(*request)) return false;
    const auto answer = tftp::negotiate(policy, std::get<tftp::Wrq>(*request).options, tftp::Direction::write, std::nullopt);
    p.server.emplace(tftp::Receiver::serve_write(answer, sink, config, at));
    p.server_watch.emplace(*p.server, Role::serve_write);
    return true;
  });
  FUZZ_CHECK(client.is_finished());
  FUZZ_CHECK(client.counters().timeouts <= timeout_bound(file.size(), config));
  if (!p.server) {
    FUZZ_CHECK(!client.outcome().completed());
    return;
  }
  check_delivery(sink, *p.server, file);
  if (client.outcome().completed()) FUZZ_CHECK(p.server->outcome().completed());
  FUZZ_CHECK(p.server->counters().timeouts <= timeout_bound(file.size(), config));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteReader in(data, size);
  const auto kind = in.u8() % 6U;
  if (kind < 4) {
    adversary(static_cast<Role>(kind), in);
  } else if (kind == 4) {
    pair_download(in);
  } else {
    pair_upload(in);
  }
  return 0;
}
