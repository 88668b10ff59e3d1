// The Receiver: serves a WRQ or performs a client RRQ. All transitions are in Receiver::step.
#include <chrono>
#include <utility>

#include "tftp/transfer.hpp"
#include "transfer_input.hpp"

namespace tftp {

using detail::InputKind;
using detail::TransferInput;

Receiver::Receiver(BlockSink& sink, const TransferConfig& config, TimePoint now)
    : state_(State::receiving), sink_(&sink), config_(config), timer_(config, now), now_(now) {}

Receiver Receiver::serve_write(const ServerAnswer& answer, BlockSink& sink, const TransferConfig& config,
                               TimePoint now) {
  Receiver receiver(sink, config, now);
  receiver.negotiated_ = answer.negotiated;
  receiver.proven_ = false;
  // The client's timeout applies once it has sent DATA: a forged request keeps the server's own.
  if (answer.negotiated.timeout_s) receiver.held_timeout_ = std::chrono::seconds(*answer.negotiated.timeout_s);
  if (answer.refusal) {
    receiver.fail(errc::aborted, *answer.refusal);
  } else if (!answer.oack.empty()) {
    receiver.state_ = State::oack_sent;
    receiver.oack_.options = answer.oack;
    receiver.control_pending_ = true;
    receiver.timer_.arm(now);
  } else {
    receiver.start_receiving(true);
  }
  return receiver;
}

Receiver Receiver::client_read(Rrq request, BlockSink& sink, const TransferConfig& config, TimePoint now) {
  Receiver receiver(sink, config, now);
  receiver.client_ = true;
  receiver.state_ = State::requesting;
  receiver.request_ = std::move(request);
  receiver.control_pending_ = true;
  receiver.timer_.arm(now);
  return receiver;
}

void Receiver::on_datagram(std::span<const std::byte> bytes, TimePoint now) {
  now_ = now;
  detail::decode_input(bytes, [this](const TransferInput& input) { step(input); });
}

void Receiver::on_timeout(TimePoint now) {
  now_ = now;
  if (timer_.expired(now)) step(TransferInput{.kind = InputKind::timeout});
}

void Receiver::abort(Error error) {
  step(TransferInput{.kind = InputKind::local_failure, .error = &error, .failure = errc::aborted});
}

// Rule: every state change of a Receiver happens here.
void Receiver::step(const TransferInput& input) {
  switch (state_) {
    case State::requesting:  // client RRQ sent; the answer is OACK, DATA 1 or ERROR
      switch (input.kind) {
        case InputKind::oack: {
          auto negotiated = check_oack(request_.options, *input.options);
          if (!negotiated) {
            fail(negotiated.error(), detail::oack_refusal(negotiated.error()));
            return;
          }
          negotiated_ = *negotiated;
          if (negotiated_.timeout_s) timer_.fix(std::chrono::seconds(*negotiated_.timeout_s));
          timer_.finish_sample(now_);
          start_receiving(true);
          return;
        }
        case InputKind::data:
          if (input.block != 1) return;  // not an answer to our request
          negotiated_ = Negotiated{};    // the server ignored our options: RFC 1350 defaults
          timer_.finish_sample(now_);
          start_receiving(false);
          handle_data(input.block, input.payload);
          return;
        case InputKind::timeout:
          if (retry()) control_pending_ = control_resend_ = true;
          return;
        default: end_on(input); return;
      }
    case State::oack_sent:  // server WRQ with options; DATA 1 accepts the OACK
      switch (input.kind) {
        case InputKind::data:
          if (input.block != 1) return;
          timer_.finish_sample(now_);
          start_receiving(false);
          handle_data(input.block, input.payload);
          return;
        case InputKind::timeout:
          if (retry()) control_pending_ = control_resend_ = true;
          return;
        default: end_on(input); return;
      }
    case State::receiving:
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
    case State::completed:
    case State::failed: return;
  }
}

void Receiver::end_on(const TransferInput& input) {
  switch (input.kind) {
    case InputKind::peer_error: fail_by_peer(*input.error); return;
    case InputKind::malformed: fail(errc::malformed_packet, detail::malformed_packet_error(input.failure)); return;
    case InputKind::local_failure:
      fail(input.failure, input.error != nullptr ? std::optional<Error>(*input.error) : std::nullopt);
      return;
    default: fail(errc::protocol_violation, detail::illegal_operation("Unexpected packet for a receiver")); return;
  }
}

void Receiver::start_receiving(bool send_ack0) {
  state_ = State::receiving;
  next_ = 0;
  since_ack_ = 0;
  timer_.progress(now_);
  timer_.arm(now_);
  if (send_ack0) queue_ack(false);
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
    proven_ = true;  // the first DATA: the client receives what this machine sends (TransferConfig, Reach)
    if (held_timeout_) timer_.fix(*std::exchange(held_timeout_, std::nullopt));
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

bool Receiver::retry() {
  ++counters_.timeouts;
  if (!proven_ && config_.unanswered_resends && timer_.retries() >= *config_.unanswered_resends) {
    fail(errc::unanswered, std::nullopt);
    return false;
  }
  if (!timer_.take_retry(now_)) {
    fail(errc::timed_out, std::nullopt);  // the peer is gone or unreachable: nobody to tell
    return false;
  }
  timer_.arm(now_);
  return true;
}

void Receiver::queue_ack(bool resend) noexcept {
  ack_pending_ = true;
  ack_resend_ = ack_resend_ || resend;
  since_ack_ = 0;
}

void Receiver::fail(errc why, std::optional<Error> send) {
  state_ = State::failed;
  outcome_.status = TransferStatus::failed;
  outcome_.error = why;
  error_pending_ = send.has_value();
  outcome_.sent = std::move(send);
  control_pending_ = ack_pending_ = false;
  timer_.disarm();
}

void Receiver::fail_by_peer(const Error& error) {
  // ERROR 8 in answer to our OACK: the client declined the options (EDK II does so to learn the size).
  const bool declined = state_ == State::oack_sent && error.code == ErrorCode::option_refused;
  fail(declined ? errc::options_declined : errc::peer_error, std::nullopt);
  outcome_.received = error;
}

std::optional<std::size_t> Receiver::poll_transmit(std::span<std::byte> out) {
  std::optional<std::size_t> size;
  if (error_pending_) {
    error_pending_ = false;
    size = detail::encode_error_fitting(*outcome_.sent, out);
  } else if (control_pending_ && (state_ == State::requesting || state_ == State::oack_sent)) {
    size = transmit_control(out);
  } else if (ack_pending_) {
    ack_pending_ = false;
    const auto encoded = encode(Ack{static_cast<std::uint16_t>(next_)}, out);
    if (!encoded) {
      step(TransferInput{.kind = InputKind::local_failure, .failure = errc::buffer_too_small});
      return std::nullopt;
    }
    size = *encoded;
    ++counters_.acks_sent;
    if (ack_resend_) {
      ++counters_.retransmissions;
    } else if (state_ == State::receiving) {
      timer_.start_sample(now_);  // the next DATA answers this ACK: a round trip
    }
    ack_resend_ = false;
  }
  if (size) ++counters_.datagrams_sent;
  return size;
}

std::optional<std::size_t> Receiver::transmit_control(std::span<std::byte> out) {
  const auto size = state_ == State::requesting ? encode(request_, out) : encode(oack_, out);
  control_pending_ = false;
  if (!size) {
    step(TransferInput{.kind = InputKind::local_failure, .failure = size.error()});
    return std::nullopt;
  }
  if (control_resend_) {
    ++counters_.retransmissions;
  } else {
    timer_.start_sample(now_);
  }
  control_resend_ = false;
  return *size;
}

std::optional<TimePoint> Receiver::next_deadline() const noexcept {
  if (state_ == State::completed || state_ == State::failed) return std::nullopt;
  return timer_.deadline();
}

bool Receiver::is_finished() const noexcept {
  return (state_ == State::completed || state_ == State::failed) && !error_pending_;
}

}  // namespace tftp
