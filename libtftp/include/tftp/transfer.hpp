#pragma once
// The sans-I/O transfer state machines (RFC 1350, RFC 1123 4.2.3, RFC 2347-2349, RFC 7440).
//
// Sender sends a file (server side of an RRQ, client side of a WRQ); Receiver receives one (server side of a
// WRQ, client side of an RRQ). Both include the start of the transfer (request, OACK, ACK 0) so that one
// retransmission logic covers every packet. They never read a clock, touch a socket or open a file: time is a
// parameter, datagrams are bytes, file contents come from a BlockSource and go to a BlockSink. Transfer-ID
// (source port) checks are the driver's job: the machines see only datagrams from the peer.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "tftp/codec.hpp"
#include "tftp/error.hpp"
#include "tftp/options.hpp"
#include "tftp/packet.hpp"

namespace tftp {

using Clock = std::chrono::steady_clock;  // the machines take time points of this clock but never read it
using TimePoint = Clock::time_point;
using Duration = std::chrono::nanoseconds;

// The buffer poll_transmit needs: the largest DATA packet. A smaller buffer works as long as it holds
// 4 + the negotiated block size and the request/OACK; a datagram that does not fit fails the transfer
// with errc::buffer_too_small.
inline constexpr std::size_t transmit_buffer_size = max_packet_size;

// Patience: how long a transfer waits for a silent peer and how often it retransmits meanwhile are two
// different clocks.
// - The give-up time (give_up_time()) is what initial_timeout and max_retries describe without any
//   measurement: 1 + max_retries waits, the first initial_timeout long, each doubled up to max_timeout
//   (1+2+4+8+8+8 = 31 s by default). A transfer fails with errc::timed_out only when the peer has been
//   silent for that long: nothing arrived that moves the transfer on (a new ACK or DATA, the OACK's answer).
//   A timeout negotiated with the RFC 2349 option is used as is: (max_retries + 1) x that timeout.
// - The retransmission timeout is measured (RFC 6298, Karn's rule) between min_timeout and max_timeout
//   and doubled per retry up to max_timeout; it only decides how often the unanswered packet goes out
//   again inside the give-up time, never how long the peer is waited for.
// - A Receiver dallies after its final ACK for the give-up time (unless dally says otherwise), so a
//   sender as patient as it is, that lost every final ACK, is still answered.
//
// Reach: a server cannot tell a request from one forged with a victim's address, nor an ACK from a forged
// one. Until the client has shown that it receives what the server sends (a Sender: an ACK of DATA beyond
// its first window; a Receiver: the first DATA), a server machine is "unproven": it resends at most
// unanswered_resends times per step, sends at most first_window_bytes of DATA at once, and keeps its own
// timeout even if a longer one was negotiated. Client machines start proven.
struct TransferConfig {
  // Retransmission timeout before any round trip was measured (RFC 6298 suggests 1 s); also the first
  // wait of the give-up schedule.
  Duration initial_timeout = std::chrono::seconds(1);
  // Bounds of the adaptive timeout; max_timeout also caps the exponential backoff.
  Duration min_timeout = std::chrono::milliseconds(50);
  Duration max_timeout = std::chrono::seconds(8);
  // The number of retries the give-up time is made of (see above). Not a count of datagrams: a measured
  // timeout shorter than initial_timeout resends more often within the same time (max_timeouts_per_silence
  // bounds how often).
  unsigned max_retries = 5;
  // How long a Receiver lingers after its final ACK to re-ACK a retransmitted final DATA (RFC 1350 section 6);
  // each such DATA starts the wait again. Unset: the give-up time. A client may stop waiting earlier: its
  // outcome is already completed while it dallies.
  std::optional<Duration> dally;
  // Measure round trips (RFC 6298 SRTT/RTTVAR, Karn's rule). Off: initial_timeout with backoff.
  // A timeout negotiated with the "timeout" option (RFC 2349) is always used as is: no measurement, no backoff.
  bool adaptive = true;
  // Unproven (see Reach): a timeout resends at most this often without progress; the next one ends the
  // transfer quietly (errc::unanswered). Unset: only the give-up time.
  std::optional<unsigned> unanswered_resends;
  // Unproven Sender: DATA sent at once is at most this many bytes (at least one block); once proven the window
  // doubles with each window acknowledged, up to the negotiated one (slow start). Unset: the negotiated window
  // from the start. A window smaller than the negotiated one makes an RFC 7440 receiver wait for its own
  // timeout before it ACKs, so this is for servers whose ACKs are easy to forge (a well-known port).
  std::optional<std::size_t> first_window_bytes;
};

// How long a peer may stay silent before the transfer fails (see TransferConfig); with `negotiated`, the
// RFC 2349 timeout in force: (max_retries + 1) x negotiated.
Duration give_up_time(const TransferConfig& config, std::optional<Duration> negotiated = std::nullopt) noexcept;
// The most timeouts (retransmissions plus the final one) one silence can cost, whatever was measured or
// negotiated: the retransmission timeout starts at min_timeout at worst and doubles up to max_timeout.
std::uint64_t max_timeouts_per_silence(const TransferConfig& config) noexcept;

// ---- Block data ----------------------------------------------------------------------------------

// What a BlockSource read gives: the number of bytes written, or an ERROR to send to the peer instead
// (e.g. ERROR 0 "read failed"); the transfer then fails with errc::local_io_error.
using BlockRead = std::variant<std::size_t, Error>;

// The bytes of the file being sent, by block. Blocks are read at random: a retransmission reads a block
// again, so an octet source preads at index * out.size(); a netascii source keeps encoder checkpoints.
class BlockSource {
 public:
  virtual ~BlockSource() = default;
  // Fills out (exactly block-size bytes) with block `index` (0-based: DATA 1 is index 0; 64-bit, it never
  // wraps). Returns the bytes written: fewer than out.size() (possibly 0) only for the last block. Indices are
  // never beyond the first short block. The bytes go straight into the datagram: no copy.
  virtual BlockRead read_block(std::uint64_t index, std::span<std::byte> out) = 0;
  // Blocks below `first_unacknowledged` are acknowledged and will not be read again (checkpoints may go).
  virtual void release(std::uint64_t first_unacknowledged) { static_cast<void>(first_unacknowledged); }
};

// Where the received file goes. write_block is called exactly once per block, in order (index 0, 1, ...),
// before that block is acknowledged; the last block is shorter than the block size (possibly empty).
class BlockSink {
 public:
  virtual ~BlockSink() = default;
  // An Error is sent to the peer (e.g. ERROR 3 "Disk full") and fails the transfer with errc::local_io_error.
  virtual std::optional<Error> write_block(std::uint64_t index, std::span<const std::byte> bytes) = 0;
  // Called once after the last block was written and before the final ACK: flush, close, report late errors
  // (a netascii decoder's pending CR, a failed fsync) while the peer can still be told.
  virtual std::optional<Error> finish() { return std::nullopt; }
};

// A source over bytes in memory (not copied: they must outlive the source).
class MemorySource final : public BlockSource {
 public:
  explicit MemorySource(std::span<const std::byte> bytes) : bytes_(bytes) {}
  BlockRead read_block(std::uint64_t index, std::span<std::byte> out) override {
    const std::uint64_t offset = index * out.size();
    if (offset >= bytes_.size()) return std::size_t{0};
    const std::size_t n = std::min<std::size_t>(out.size(), bytes_.size() - static_cast<std::size_t>(offset));
    std::memcpy(out.data(), bytes_.data() + offset, n);
    return n;
  }

 private:
  std::span<const std::byte> bytes_;
};

// A sink that appends to a vector.
class MemorySink final : public BlockSink {
 public:
  std::optional<Error> write_block(std::uint64_t, std::span<const std::byte> bytes) override {
    bytes_.insert(bytes_.end(), bytes.begin(), bytes.end());
    return std::nullopt;
  }
  const std::vector<std::byte>& bytes() const noexcept { return bytes_; }

 private:
  std::vector<std::byte> bytes_;
};

// ---- Results -------------------------------------------------------------------------------------

enum class TransferStatus { running, completed, failed };

struct Outcome {
  TransferStatus status = TransferStatus::running;
  // Why it failed: timed_out, peer_error, protocol_violation, malformed_packet, option_not_requested /
  // option_out_of_range (the OACK was refused with ERROR 8), local_io_error, aborted, buffer_too_small,
  // options_declined (a server's OACK answered with ERROR 8), or an encode error of the request. errc{}
  // unless failed.
  errc error{};
  // errc::peer_error, errc::options_declined: the ERROR the peer sent (code kept even outside 0-8)
  std::optional<Error> received;
  std::optional<Error> sent;      // the ERROR this machine sent (or has queued) to the peer, if any

  bool running() const noexcept { return status == TransferStatus::running; }
  bool completed() const noexcept { return status == TransferStatus::completed; }
  bool failed() const noexcept { return status == TransferStatus::failed; }
};

// For logs and tests. Sender: blocks/bytes are the distinct blocks sent; Receiver: those written to the sink.
struct TransferCounters {
  std::uint64_t datagrams_sent = 0;   // everything poll_transmit produced
  std::uint64_t data_sent = 0;        // DATA packets, retransmissions included
  std::uint64_t acks_sent = 0;        // ACK packets, re-ACKs included
  std::uint64_t retransmissions = 0;  // datagrams sent again (timeout, go-back after a gap ACK, re-ACK)
  std::uint64_t timeouts = 0;         // deadlines that expired
  std::uint64_t duplicates = 0;       // duplicate ACKs ignored (Sender), duplicate DATA seen (Receiver)
  std::uint64_t blocks = 0;
  std::uint64_t bytes = 0;
};

namespace detail {

struct TransferInput;

// Retransmission timeout (RFC 6298 with Karn's rule) with exponential backoff, inside the give-up time
// (TransferConfig): the deadline is never later than the moment the peer has been silent for that long.
class RetransmitTimer {
 public:
  RetransmitTimer(const TransferConfig& config, TimePoint now);

  // A negotiated timeout: no measurement, no backoff from now on; the give-up time becomes
  // (max_retries + 1) x timeout.
  void fix(Duration timeout);
  Duration timeout() const noexcept { return rto_; }
  Duration give_up_time() const noexcept { return patience_; }

  void arm(TimePoint now) noexcept { deadline_ = std::min(now + rto_, quiet_since_ + patience_); }
  void arm_at(TimePoint at) noexcept { deadline_ = at; }  // beyond the give-up time: the dally
  void disarm() noexcept { deadline_.reset(); }
  std::optional<TimePoint> deadline() const noexcept { return deadline_; }
  bool expired(TimePoint now) const noexcept { return deadline_ && now >= *deadline_; }

  // A timeout: false once the peer has been silent for the give-up time; otherwise counts a retry and
  // backs off.
  bool take_retry(TimePoint now) noexcept;
  // The peer moved the transfer on: the silence starts again from now.
  void progress(TimePoint now) noexcept;
  unsigned retries() const noexcept { return retries_; }  // since the last progress

  // Round-trip measurement of one packet at a time. Only a packet sent once may be timed (Karn's rule).
  void start_sample(TimePoint sent) noexcept {
    if (!sample_start_) sample_start_ = sent;
  }
  void cancel_sample() noexcept { sample_start_.reset(); }
  bool sampling() const noexcept { return sample_start_.has_value(); }
  void finish_sample(TimePoint now) noexcept;

 private:
  void add_sample(Duration rtt) noexcept;

  TransferConfig config_;
  Duration min_;
  Duration max_;
  bool fixed_ = false;
  Duration initial_;
  Duration rto_;
  Duration patience_;
  TimePoint quiet_since_;
  std::optional<Duration> srtt_;
  Duration rttvar_{};
  std::optional<TimePoint> sample_start_;
  std::optional<TimePoint> deadline_;
  unsigned retries_ = 0;
};

}  // namespace detail

// ---- Sender ---------------------------------------------------------------------------------------

// Sends a file: the server side of an RRQ (OACK or DATA 1 first) or the client side of a WRQ (WRQ first).
//
// Call order, repeated until is_finished(): feed one input (on_datagram or on_timeout) with the current time,
// then drain poll_transmit until it returns nullopt, then re-arm the one timer from next_deadline() (nullopt:
// no timer). A datagram handed out by poll_transmit is "sent" at the time of the last input.
//
// With windowsize N it sends up to N blocks past the last acknowledged one, then waits. An ACK inside the
// window moves the window there and sends from the block after it; an ACK of an older block is a duplicate and
// ignored (the Sorcerer's Apprentice fix). A timeout resends from the first unacknowledged block. Once the peer has
// been silent for the give-up time it gives up silently (errc::timed_out): the peer is unreachable or gone,
// as tftp-hpa does.
class Sender {
 public:
  // Server side of an RRQ; answer is negotiate()'s. A refusal is sent as is and the transfer ends
  // (errc::aborted). With an OACK: OACK, wait for ACK 0, then DATA 1. Without: DATA 1 at once.
  static Sender serve_read(const ServerAnswer& answer, BlockSource& source, const TransferConfig& config,
                           TimePoint now);
  // Client side of a WRQ whose options come from make_request_options(). The reply is an OACK (checked with
  // check_oack; refused with ERROR 8), ACK 0 (RFC 1350 defaults) or an ERROR.
  static Sender client_write(Wrq request, BlockSource& source, const TransferConfig& config, TimePoint now);

  void on_datagram(std::span<const std::byte> bytes, TimePoint now);
  void on_timeout(TimePoint now);  // before next_deadline(): no-op
  std::optional<std::size_t> poll_transmit(std::span<std::byte> out);
  std::optional<TimePoint> next_deadline() const noexcept;

  // Ends the transfer from this side: sends `error` and fails with errc::aborted.
  void abort(Error error);

  const Outcome& outcome() const noexcept { return outcome_; }
  bool is_finished() const noexcept;  // nothing more to send or wait for: the driver may close
  const Negotiated& negotiated() const noexcept { return negotiated_; }
  const TransferCounters& counters() const noexcept { return counters_; }
  Duration current_timeout() const noexcept { return timer_.timeout(); }
  Duration give_up_time() const noexcept { return timer_.give_up_time(); }
  // The peer has shown that it receives what this machine sends (TransferConfig, Reach).
  bool answered() const noexcept { return proven_; }
  // Blocks sent at once now (slow start), at most the negotiated window.
  std::uint64_t window() const noexcept { return std::min<std::uint64_t>(cwnd_, negotiated_.window_size); }

 private:
  enum class State { requesting, oack_sent, sending, completed, failed };

  Sender(BlockSource& source, const TransferConfig& config, TimePoint now);
  void step(const detail::TransferInput& input);
  void end_on(const detail::TransferInput& input);
  void start_data();
  void handle_ack(std::uint16_t block);
  bool retry();
  void resend_control();
  void go_back();
  void fail(errc why, std::optional<Error> send);
  void fail_by_peer(const Error& error);
  std::optional<std::size_t> transmit_control(std::span<std::byte> out);
  std::optional<std::size_t> transmit_block(std::span<std::byte> out);
  void count_block(std::size_t size);
  std::uint64_t send_end() const noexcept;
  void prove();

  State state_;
  BlockSource* source_;
  TransferConfig config_;
  detail::RetransmitTimer timer_;
  TimePoint now_;
  Negotiated negotiated_;
  bool client_ = false;
  Wrq request_;  // client: the WRQ to (re)send; its options are what check_oack compares with
  Oack oack_;    // server: the OACK to (re)send
  bool control_pending_ = false;  // the WRQ or OACK is due
  bool control_resend_ = false;
  bool error_pending_ = false;
  std::uint64_t base_ = 0;                 // first unacknowledged block index
  std::uint64_t next_ = 0;                 // next block index to transmit
  std::uint64_t sent_end_ = 0;             // one past the highest block index ever sent
  std::optional<std::uint64_t> last_;      // index of the final (short) block once read
  std::optional<std::uint64_t> sampled_;   // block index whose round trip is being measured
  bool proven_ = true;                     // see TransferConfig, Reach
  std::uint64_t first_window_ = 0;         // blocks of the first window (unproven)
  std::uint64_t cwnd_ = ~std::uint64_t{0};  // blocks sent at once
  std::optional<Duration> held_timeout_;   // a negotiated timeout, applied once proven
  Outcome outcome_;
  TransferCounters counters_;
};

// ---- Receiver -------------------------------------------------------------------------------------

// Receives a file: the server side of a WRQ (OACK or ACK 0 first) or the client side of an RRQ (RRQ first).
//
// Call order, repeated until is_finished(): feed one input (on_datagram or on_timeout) with the current time,
// then drain poll_transmit until it returns nullopt, then re-arm the one timer from next_deadline() (nullopt:
// no timer).
//
// It ACKs the last block of each window, and at once the last in-order block when a later block shows a gap.
// A duplicate of the last acknowledged block is re-ACKed and not written again. A timeout re-sends the last
// ACK. After the final ACK the outcome is completed but the machine dallies (config.dally, by default the
// give-up time) to re-ACK a retransmitted final DATA; is_finished() turns true when the dally ends.
class Receiver {
 public:
  // Server side of a WRQ; answer is negotiate()'s. A refusal is sent as is and the transfer ends
  // (errc::aborted). With an OACK: OACK, then DATA 1. Without: ACK 0, then DATA 1.
  static Receiver serve_write(const ServerAnswer& answer, BlockSink& sink, const TransferConfig& config,
                              TimePoint now);
  // Client side of an RRQ whose options come from make_request_options(). The reply is an OACK (checked with
  // check_oack; refused with ERROR 8; accepted with ACK 0), DATA 1 (the server ignored the options: RFC 1350
  // defaults) or an ERROR.
  static Receiver client_read(Rrq request, BlockSink& sink, const TransferConfig& config, TimePoint now);

  void on_datagram(std::span<const std::byte> bytes, TimePoint now);
  void on_timeout(TimePoint now);  // before next_deadline(): no-op
  std::optional<std::size_t> poll_transmit(std::span<std::byte> out);
  std::optional<TimePoint> next_deadline() const noexcept;

  // Ends the transfer from this side: sends `error` and fails with errc::aborted.
  void abort(Error error);

  const Outcome& outcome() const noexcept { return outcome_; }
  bool is_finished() const noexcept;  // false while dallying
  bool is_dallying() const noexcept { return state_ == State::dallying; }
  Duration give_up_time() const noexcept { return timer_.give_up_time(); }
  // The peer has shown that it receives what this machine sends (TransferConfig, Reach).
  bool answered() const noexcept { return proven_; }
  const Negotiated& negotiated() const noexcept { return negotiated_; }
  const TransferCounters& counters() const noexcept { return counters_; }
  Duration current_timeout() const noexcept { return timer_.timeout(); }

 private:
  enum class State { requesting, oack_sent, receiving, dallying, completed, failed };

  Receiver(BlockSink& sink, const TransferConfig& config, TimePoint now);
  void step(const detail::TransferInput& input);
  void end_on(const detail::TransferInput& input);
  void start_receiving(bool send_ack0);
  void handle_data(std::uint16_t block, std::span<const std::byte> payload);
  void deliver(std::span<const std::byte> payload);
  bool retry();
  void queue_ack(bool resend) noexcept;
  Duration dally() const noexcept { return config_.dally.value_or(timer_.give_up_time()); }
  void fail(errc why, std::optional<Error> send);
  void fail_by_peer(const Error& error);
  std::optional<std::size_t> transmit_control(std::span<std::byte> out);

  State state_;
  BlockSink* sink_;
  TransferConfig config_;
  detail::RetransmitTimer timer_;
  TimePoint now_;
  Negotiated negotiated_;
  bool client_ = false;
  Rrq request_;  // client: the RRQ to (re)send; its options are what check_oack compares with
  Oack oack_;    // server: the OACK to (re)send
  bool control_pending_ = false;
  bool control_resend_ = false;
  bool ack_pending_ = false;
  bool ack_resend_ = false;
  bool gap_acked_ = false;        // the current gap was already reported; stay quiet until progress
  bool error_pending_ = false;
  std::uint64_t next_ = 0;        // blocks written so far = index of the next expected block
  std::uint64_t since_ack_ = 0;   // in-order blocks received since the last ACK was queued
  bool proven_ = true;            // see TransferConfig, Reach
  std::optional<Duration> held_timeout_;  // a negotiated timeout, applied once proven
  Outcome outcome_;
  TransferCounters counters_;
};

}  // namespace tftp
