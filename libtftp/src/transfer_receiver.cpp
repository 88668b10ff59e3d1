// The Receiver: serves a WRQ or performs a client RRQ. All transitions are in Receiver::step.
#include <utility>

#include "tftp/transfer.hpp"
#include "transfer_input.hpp"

namespace tftp {

using detail::InputKind;

Receiver Receiver::serve_write(const ServerAnswer& answer, BlockSink& sink, const TransferConfig& config,
                               TimePoint now) {
  Receiver receiver(sink, config, now);
  if (receiver.serve(answer)) receiver.start_receiving(true);
  return receiver;
}

Receiver Receiver::client_read(Rrq request, BlockSink& sink, const TransferConfig& config, TimePoint now) {
  return as_client(Receiver(sink, config, now), std::move(request));
}

void Receiver::start_receiving(bool send_ack0) {
  state_ = State::transferring;
  next_ = 0;
  since_ack_ = 0;
  timer_.progress(now_);
  timer_.arm(now_);
  if (send_ack0) queue_ack(false);
}

// Rule: every state change of a Receiver happens here; the start, shared, goes through control_answered.
void Receiver::step(const detail::TransferInput& input) {
  switch (state_) {
    case State::transferring:
      switch (input.kind) {
        case InputKind::data: handle_data(input.block, input.payload); return;
        case InputKind::oack:
          if (!client_) break;
          // The server did not get our ACK 0 and repeats its OACK: acknowledge it again.
          ++counters_.duplicates;
          if (next_ == 0) queue_ack(true);
          return;
        case InputKind::timeout:
          if (!retry()) return;
          queue_ack(true);
          gap_acked_ = false;  // the sender starts a new window from this ACK: report its first gap too
          return;
        default: break;
      }
      end_on(input);
      return;
    case State::dallying:  // the final ACK went out; only a repeated final DATA needs an answer
      switch (input.kind) {
        case InputKind::data:
          if (input.block == static_cast<std::uint16_t>(next_)) {
            // The final ACK was lost; the sender is still retrying, so stay for as long again.
            ++counters_.duplicates;
            queue_ack(true);
            timer_.arm_at(now_ + dally());
          }
          return;
        case InputKind::timeout:
          state_ = State::completed;
          timer_.disarm();
          return;
        default: return;  // the transfer is complete: nothing the peer says now changes that
      }
    case State::requesting:  // client RRQ sent; the answer is OACK, DATA 1 or ERROR
    case State::oack_sent:   // server WRQ with options; DATA 1 accepts the OACK
      if (!control_answered(input, InputKind::data, 1)) return;
      start_receiving(input.kind == InputKind::oack);  // ACK 0 accepts the server's OACK
      if (input.kind == InputKind::data) handle_data(input.block, input.payload);
      return;
    case State::completed:
    case State::failed: return;
  }
}

void Receiver::handle_data(std::uint16_t block, std::span<const std::byte> payload) {
  const auto expected = detail::block_number(next_);
  if (block != expected) {
    if (next_ > 0 && block == static_cast<std::uint16_t>(expected - 1)) {
      // Our ACK of the last block was lost: say it again (the sender ignores duplicate ACKs, so no
      // Sorcerer's Apprentice). Older duplicates of a resent window are answered by this one.
      ++counters_.duplicates;
      queue_ack(true);
    } else if (static_cast<std::uint16_t>(block - expected) < negotiated_.window_size && !gap_acked_) {
      // A later block of the window: one before it was lost. Report the last in-order block at once
      // (RFC 7440 section 4) instead of waiting for a timeout; once per gap.
      gap_acked_ = true;
      queue_ack(true);
    } else {
      ++counters_.duplicates;
    }
    return;
  }
  if (payload.size() > negotiated_.block_size) {
    fail(errc::protocol_violation, detail::illegal_operation("DATA larger than the block size"));
    return;
  }
  deliver(payload);
}

void Receiver::deliver(std::span<const std::byte> payload) {
  if (auto error = sink_->write_block(next_, payload)) {
    fail(errc::local_io_error, std::move(error));
    return;
  }
  ++next_;
  ++counters_.blocks;
  counters_.bytes += payload.size();
  gap_acked_ = false;
  if (!proven_) {
    prove();  // the first DATA: the client receives what this machine sends (TransferConfig, Reach)
    apply_held_timeout();
  }
  timer_.progress(now_);
  timer_.finish_sample(now_);
  if (payload.size() < negotiated_.block_size) {
    if (auto error = sink_->finish()) {
      fail(errc::local_io_error, std::move(error));
      return;
    }
    queue_ack(false);
    state_ = State::dallying;
    outcome_.status = TransferStatus::completed;
    timer_.arm_at(now_ + dally());
    return;
  }
  timer_.arm(now_);
  if (++since_ack_ >= negotiated_.window_size) queue_ack(false);
}

void Receiver::queue_ack(bool resend) noexcept {
  ack_pending_ = true;
  ack_resend_ = ack_resend_ || resend;
  since_ack_ = 0;
}

std::optional<std::size_t> Receiver::transmit_data(std::span<std::byte> out) {
  if (!ack_pending_) return write_behind(out);
  ack_pending_ = false;
  const auto encoded = encode(Ack{static_cast<std::uint16_t>(next_)}, out);
  if (!encoded) {
    fail_locally(errc::buffer_too_small);
    return std::nullopt;
  }
  ++counters_.acks_sent;
  if (ack_resend_) {
    ++counters_.retransmissions;
  } else if (state_ == State::transferring) {
    timer_.start_sample(now_);  // the next DATA answers this ACK: a round trip
  }
  ack_resend_ = false;
  return *encoded;
}

// Everything that answered the last input is out (the driver drains poll_transmit): a sink may write
// the block it held back. A failure is this input's answer: the ERROR is the next datagram.
std::optional<std::size_t> Receiver::write_behind(std::span<std::byte> out) {
  if (state_ != State::transferring) return std::nullopt;
  auto error = sink_->after_transmit();
  if (!error) return std::nullopt;
  fail(errc::local_io_error, std::move(error));
  return transmit_error(out);
}

}  // namespace tftp
