#pragma once
// What a transfer machine reports: its outcome and its counters.

#include <cstdint>
#include <optional>

#include "tftp/error.hpp"
#include "tftp/packet.hpp"

namespace tftp {

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

  TransferCounters& operator+=(const TransferCounters& other) noexcept {
    datagrams_sent += other.datagrams_sent;
    data_sent += other.data_sent;
    acks_sent += other.acks_sent;
    retransmissions += other.retransmissions;
    timeouts += other.timeouts;
    duplicates += other.duplicates;
    blocks += other.blocks;
    bytes += other.bytes;
    return *this;
  }
};

}  // namespace tftp
