#pragma once
// How a transfer machine is configured: the clock it is given (never read) and its patience with a silent or
// unproven peer.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace tftp {

using Clock = std::chrono::steady_clock;  // the machines take time points of this clock but never read it
using TimePoint = Clock::time_point;
using Duration = std::chrono::nanoseconds;

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

}  // namespace tftp
