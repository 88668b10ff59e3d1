#pragma once
// The sans-I/O transfer state machines (RFC 1350, RFC 1123 4.2.3, RFC 2347-2349, RFC 7440).
//
// Sender sends a file (server side of an RRQ, client side of a WRQ); Receiver receives one (server side of a
// WRQ, client side of an RRQ). Both include the start of the transfer (request, OACK, ACK 0) so that one
// retransmission logic covers every packet. They never read a clock, touch a socket or open a file: time is a
// parameter, datagrams are bytes, file contents come from a BlockSource and go to a BlockSink. Transfer-ID
// (source port) checks are the driver's job: the machines see only datagrams from the peer.
//
// What both machines share (that start, retries, failure, the outcome) is detail::TransferBase; each adds
// its data phase.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "tftp/codec.hpp"
#include "tftp/detail/transfer_base.hpp"
#include "tftp/error.hpp"
#include "tftp/options.hpp"
#include "tftp/packet.hpp"
#include "tftp/transfer_config.hpp"
#include "tftp/transfer_outcome.hpp"

namespace tftp {

// The buffer poll_transmit needs: the largest DATA packet. A smaller buffer works as long as it holds
// 4 + the negotiated block size and the request/OACK; a datagram that does not fit fails the transfer
// with errc::buffer_too_small.
inline constexpr std::size_t transmit_buffer_size = max_packet_size;

// ---- Block data ----------------------------------------------------------------------------------

// The block is not there yet (content still arriving, e.g. from an HTTP origin): the Sender sends nothing
// for it and waits until its driver calls Sender::resume(). A source may say so only for a block it has
// never given before: blocks once read can always be read again (a retransmission).
struct BlockPending {
  friend bool operator==(BlockPending, BlockPending) = default;
};

// What a BlockSource read gives: the number of bytes written, an ERROR to send to the peer instead
// (e.g. ERROR 0 "read failed"; the transfer then fails with errc::local_io_error), or BlockPending.
using BlockRead = std::variant<std::size_t, Error, BlockPending>;

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
// A sink may hold a block's bytes instead of writing them (write-behind, so that the write overlaps the
// peer's next DATA): they stay valid until after_transmit(), which the Receiver calls once poll_transmit
// has handed out everything that answered the input that delivered the block (the ACK goes out first).
class BlockSink {
 public:
  virtual ~BlockSink() = default;
  // An Error is sent to the peer (e.g. ERROR 3 "Disk full") and fails the transfer with errc::local_io_error.
  virtual std::optional<Error> write_block(std::uint64_t index, std::span<const std::byte> bytes) = 0;
  // Writes a held block now; an Error fails the transfer as write_block's does.
  virtual std::optional<Error> after_transmit() { return std::nullopt; }
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
class Sender final : public detail::TransferBase {
 public:
  // Server side of an RRQ; answer is negotiate()'s. A refusal is sent as is and the transfer ends
  // (errc::aborted). With an OACK: OACK, wait for ACK 0, then DATA 1. Without: DATA 1 at once.
  static Sender serve_read(const ServerAnswer& answer, BlockSource& source, const TransferConfig& config,
                           TimePoint now);
  // Client side of a WRQ whose options come from make_request_options(). The reply is an OACK (checked with
  // check_oack; refused with ERROR 8), ACK 0 (RFC 1350 defaults) or an ERROR.
  static Sender client_write(Wrq request, BlockSource& source, const TransferConfig& config, TimePoint now);

  // Blocks sent at once now (slow start), at most the negotiated window.
  std::uint64_t window() const noexcept { return std::min<std::uint64_t>(cwnd_, negotiated_.window_size); }

  // The source said BlockPending: the next block is not there yet. While every block sent is acknowledged
  // the Sender has no deadline (the client is not silent; we are the slow ones): the source's owner is
  // responsible for calling resume() once the block arrives or the content failed (then read_block gives an
  // Error), and for bounding how long that takes. Blocks still unacknowledged are retransmitted as usual.
  bool waiting_for_content() const noexcept { return waiting_; }
  // An input: the source has more (or failed). The silence of the client counts from now; then drain
  // poll_transmit as after any input.
  void resume(TimePoint now);

 private:
  Sender(BlockSource& source, const TransferConfig& config, TimePoint now)
      : TransferBase(config, now, "Unexpected packet for a sender"), source_(&source) {}
  void step(const detail::TransferInput& input) override;
  std::optional<std::size_t> transmit_data(std::span<std::byte> out) override;
  void start_data();
  void handle_ack(std::uint16_t block);
  void go_back();
  void count_block(std::size_t size);
  std::uint64_t send_end() const noexcept;

  BlockSource* source_;
  std::uint64_t base_ = 0;                 // first unacknowledged block index
  std::uint64_t next_ = 0;                 // next block index to transmit
  std::uint64_t sent_end_ = 0;             // one past the highest block index ever sent
  std::optional<std::uint64_t> last_;      // index of the final (short) block once read
  std::optional<std::uint64_t> sampled_;   // block index whose round trip is being measured
  std::uint64_t first_window_ = 0;         // blocks of the first window (unproven)
  std::uint64_t cwnd_ = ~std::uint64_t{0};  // blocks sent at once
  bool waiting_ = false;                   // the source said BlockPending for block next_
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
class Receiver final : public detail::TransferBase {
 public:
  // Server side of a WRQ; answer is negotiate()'s. A refusal is sent as is and the transfer ends
  // (errc::aborted). With an OACK: OACK, then DATA 1. Without: ACK 0, then DATA 1.
  static Receiver serve_write(const ServerAnswer& answer, BlockSink& sink, const TransferConfig& config,
                              TimePoint now);
  // Client side of an RRQ whose options come from make_request_options(). The reply is an OACK (checked with
  // check_oack; refused with ERROR 8; accepted with ACK 0), DATA 1 (the server ignored the options: RFC 1350
  // defaults) or an ERROR.
  static Receiver client_read(Rrq request, BlockSink& sink, const TransferConfig& config, TimePoint now);

  bool is_dallying() const noexcept { return state_ == State::dallying; }

 private:
  Receiver(BlockSink& sink, const TransferConfig& config, TimePoint now)
      : TransferBase(config, now, "Unexpected packet for a receiver"), sink_(&sink) {}
  void step(const detail::TransferInput& input) override;
  std::optional<std::size_t> transmit_data(std::span<std::byte> out) override;
  std::optional<std::size_t> write_behind(std::span<std::byte> out);
  void start_receiving(bool send_ack0);
  void handle_data(std::uint16_t block, std::span<const std::byte> payload);
  void deliver(std::span<const std::byte> payload);
  void queue_ack(bool resend) noexcept;
  Duration dally() const noexcept { return config_.dally.value_or(timer_.give_up_time()); }

  BlockSink* sink_;
  bool ack_pending_ = false;
  bool ack_resend_ = false;
  bool gap_acked_ = false;        // the current gap was already reported; stay quiet until progress
  std::uint64_t next_ = 0;        // blocks written so far = index of the next expected block
  std::uint64_t since_ack_ = 0;   // in-order blocks received since the last ACK was queued
};

}  // namespace tftp
