#pragma once
// Not API: what tftp::Sender and tftp::Receiver (tftp/transfer.hpp) share. Its public members are theirs: the
// inputs, poll_transmit, the deadline and what a transfer reports. Include tftp/transfer.hpp, not this.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <variant>

#include "tftp/detail/retransmit_timer.hpp"
#include "tftp/error.hpp"
#include "tftp/options.hpp"
#include "tftp/packet.hpp"
#include "tftp/transfer_config.hpp"
#include "tftp/transfer_outcome.hpp"

namespace tftp::detail {

enum class InputKind;
struct TransferInput;

// The part of a transfer both directions have in common: the start (the request or OACK, resent until the
// answer comes), the retransmission timer, Reach, the ways a transfer fails, and what it reports. A machine
// adds its data phase: step() holds all its transitions (the shared start through control_answered), and
// transmit_data() its datagrams.
class TransferBase {
 public:
  void on_datagram(std::span<const std::byte> bytes, TimePoint now);
  void on_timeout(TimePoint now);  // before next_deadline(): no-op
  std::optional<std::size_t> poll_transmit(std::span<std::byte> out);
  std::optional<TimePoint> next_deadline() const noexcept;

  // Ends the transfer from this side: sends `error` and fails with errc::aborted.
  void abort(Error error);

  const Outcome& outcome() const noexcept { return outcome_; }
  // Nothing more to send or wait for: the driver may close. False while a Receiver dallies.
  bool is_finished() const noexcept;
  const Negotiated& negotiated() const noexcept { return negotiated_; }
  const TransferCounters& counters() const noexcept { return counters_; }
  Duration current_timeout() const noexcept { return timer_.timeout(); }
  Duration give_up_time() const noexcept { return timer_.give_up_time(); }
  // The smoothed round trip measured so far (RFC 6298), for records; nullopt before the first sample.
  std::optional<Duration> smoothed_rtt() const noexcept { return timer_.smoothed_rtt(); }
  // The peer has shown that it receives what this machine sends (TransferConfig, Reach).
  bool answered() const noexcept { return proven_; }

 protected:
  // One set of states for both machines, so that the shared steps can read and end them. A client starts in
  // requesting, a server with options in oack_sent, any other server in transferring; only a Receiver
  // dallies (after its final ACK).
  enum class State { requesting, oack_sent, transferring, dallying, completed, failed };

  // `unexpected_packet`: the ERROR message for a packet that has no place in this machine.
  TransferBase(const TransferConfig& config, TimePoint now, const char* unexpected_packet);
  TransferBase(const TransferBase&) = default;
  TransferBase(TransferBase&&) = default;
  TransferBase& operator=(const TransferBase&) = default;
  TransferBase& operator=(TransferBase&&) = default;
  ~TransferBase() = default;

  // Server side; answer is negotiate()'s. True when the data phase starts at once (no OACK). A refusal is
  // queued and ends the transfer; an OACK is queued and waits for its answer.
  bool serve(const ServerAnswer& answer);
  // Client side: `request` goes out and waits for its answer; its options are what check_oack compares with.
  void send_request(std::variant<Rrq, Wrq> request);
  // A machine's client factory, which alone can make the machine (its constructor is private).
  template <class Machine>
  static Machine as_client(Machine machine, std::variant<Rrq, Wrq> request) {
    machine.send_request(std::move(request));
    return machine;
  }
  // Requesting or oack_sent: true when `input` answers the request or OACK (an acceptable OACK to a client,
  // or `answer` with block `answer_block`), and the machine starts its data phase. Anything else is dealt
  // with here: a timeout resends, a packet that ends a transfer ends it.
  bool control_answered(const TransferInput& input, InputKind answer, std::uint16_t answer_block);
  // The inputs that end a running transfer the same way in every state.
  void end_on(const TransferInput& input);
  // The source, sink or buffer failed (or the local user aborted): ends a running transfer, sending `error`.
  void fail_locally(errc why, const Error* error = nullptr);
  void fail(errc why, std::optional<Error> send);
  // A timeout: false when the transfer failed instead (give-up time, or Reach), else the timer is re-armed.
  bool retry();
  void prove() noexcept { proven_ = true; }
  // The client answered (Reach): the timeout it negotiated (RFC 2349) applies from now on.
  void apply_held_timeout();
  // The queued ERROR, cut to fit out.
  std::optional<std::size_t> transmit_error(std::span<std::byte> out);

  State state_ = State::transferring;
  TransferConfig config_;
  RetransmitTimer timer_;
  TimePoint now_;
  Negotiated negotiated_;
  bool client_ = false;
  bool proven_ = true;  // see TransferConfig, Reach
  bool error_pending_ = false;
  Outcome outcome_;
  TransferCounters counters_;

 private:
  virtual void step(const TransferInput& input) = 0;
  // The data phase's next datagram, if one is due; never called once the transfer failed.
  virtual std::optional<std::size_t> transmit_data(std::span<std::byte> out) = 0;

  void fail_by_peer(const Error& error);
  std::optional<std::size_t> transmit_control(std::span<std::byte> out);

  const char* unexpected_packet_;
  // Client: the RRQ or WRQ to (re)send; server: the OACK.
  std::variant<Oack, Rrq, Wrq> control_;
  bool control_pending_ = false;  // the request or OACK is due
  bool control_resend_ = false;
  std::optional<Duration> held_timeout_;  // a negotiated timeout, held back until the client answers (Reach)
};

}  // namespace tftp::detail
