// The Sender: serves an RRQ or performs a client WRQ. All transitions are in Sender::step.
#include <algorithm>
#include <chrono>
#include <utility>

#include "tftp/transfer.hpp"
#include "transfer_input.hpp"

namespace tftp {

using detail::InputKind;
using detail::TransferInput;

Sender::Sender(BlockSource& source, const TransferConfig& config, TimePoint now)
    : state_(State::sending), source_(&source), config_(config), timer_(config, now), now_(now) {}

Sender Sender::serve_read(const ServerAnswer& answer, BlockSource& source, const TransferConfig& config,
                          TimePoint now) {
  Sender sender(source, config, now);
  sender.negotiated_ = answer.negotiated;
  sender.proven_ = false;
  // The client's timeout applies once it has answered the OACK: a forged request keeps the server's own.
  if (answer.negotiated.timeout_s) sender.held_timeout_ = std::chrono::seconds(*answer.negotiated.timeout_s);
  if (answer.refusal) {
    sender.fail(errc::aborted, *answer.refusal);
  } else if (!answer.oack.empty()) {
    sender.state_ = State::oack_sent;
    sender.oack_.options = answer.oack;
    sender.control_pending_ = true;
    sender.timer_.arm(now);
  } else {
    sender.start_data();
  }
  return sender;
}

Sender Sender::client_write(Wrq request, BlockSource& source, const TransferConfig& config, TimePoint now) {
  Sender sender(source, config, now);
  sender.client_ = true;
  sender.state_ = State::requesting;
  sender.request_ = std::move(request);
  sender.control_pending_ = true;
  sender.timer_.arm(now);
  return sender;
}

void Sender::on_datagram(std::span<const std::byte> bytes, TimePoint now) {
  now_ = now;
  detail::decode_input(bytes, [this](const TransferInput& input) { step(input); });
}

void Sender::on_timeout(TimePoint now) {
  now_ = now;
  if (timer_.expired(now)) step(TransferInput{.kind = InputKind::timeout});
}

void Sender::abort(Error error) {
  step(TransferInput{.kind = InputKind::local_failure, .error = &error, .failure = errc::aborted});
}

// Rule: every state change of a Sender happens here.
void Sender::step(const TransferInput& input) {
  switch (state_) {
    case State::requesting:  // client WRQ sent; the answer is OACK, ACK 0 or ERROR
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
          start_data();
          return;
        }
        case InputKind::ack:
          if (input.block != 0) return;  // acknowledges nothing we sent
          negotiated_ = Negotiated{};    // the server ignored our options: RFC 1350 defaults
          timer_.finish_sample(now_);
          start_data();
          return;
        case InputKind::timeout:
          if (retry()) resend_control();
          return;
        default: end_on(input); return;
      }
    case State::oack_sent:  // server RRQ with options; ACK 0 accepts the OACK
      switch (input.kind) {
        case InputKind::ack:
          if (input.block != 0) return;
          timer_.finish_sample(now_);
          if (held_timeout_) timer_.fix(*std::exchange(held_timeout_, std::nullopt));
          start_data();
          return;
        case InputKind::timeout:
          if (retry()) resend_control();
          return;
        default: end_on(input); return;
      }
    case State::sending:
      switch (input.kind) {
        case InputKind::ack: handle_ack(input.block); return;
        case InputKind::oack:
          if (!client_) break;
          ++counters_.duplicates;  // a retransmitted answer to our WRQ: our own timer resends DATA
          return;
        case InputKind::timeout:
          if (retry()) go_back();
          return;
        default: break;
      }
      end_on(input);
      return;
    case State::completed:
    case State::failed: return;
  }
}

// The inputs that end a running transfer the same way in every state.
void Sender::end_on(const TransferInput& input) {
  switch (input.kind) {
    case InputKind::peer_error: fail_by_peer(*input.error); return;
    case InputKind::malformed: fail(errc::malformed_packet, detail::malformed_packet_error(input.failure)); return;
    case InputKind::local_failure:
      fail(input.failure, input.error != nullptr ? std::optional<Error>(*input.error) : std::nullopt);
      return;
    default: fail(errc::protocol_violation, detail::illegal_operation("Unexpected packet for a sender")); return;
  }
}

void Sender::start_data() {
  state_ = State::sending;
  base_ = next_ = sent_end_ = 0;
  const std::uint64_t window = negotiated_.window_size;
  const std::uint64_t capped =
      config_.first_window_bytes ? std::max<std::uint64_t>(1, *config_.first_window_bytes / negotiated_.block_size)
                                 : window;
  first_window_ = std::min(window, capped);
  if (!proven_) cwnd_ = first_window_;
  timer_.progress(now_);
  timer_.arm(now_);
}

// An ACK of DATA beyond the first window: the client receives what is sent (TransferConfig, Reach).
void Sender::prove() {
  proven_ = true;
}

void Sender::handle_ack(std::uint16_t block) {
  const auto delta = static_cast<std::uint16_t>(block - detail::block_number(base_));
  if (delta >= sent_end_ - base_) {
    ++counters_.duplicates;  // an older block (Sorcerer's Apprentice: never resend for it) or one never sent
    return;
  }
  const std::uint64_t acked = base_ + delta;
  base_ = acked + 1;
  source_->release(base_);
  timer_.progress(now_);
  if (!proven_ && acked >= first_window_) prove();
  // Slow start: every block sent was acknowledged, so the next window may be twice as large.
  if (proven_ && base_ == sent_end_ && cwnd_ < negotiated_.window_size) {
    cwnd_ = std::min<std::uint64_t>(cwnd_ * 2, negotiated_.window_size);
  }
  if (sampled_ && *sampled_ <= acked) {
    timer_.finish_sample(now_);
    sampled_.reset();
  }
  if (last_ && base_ > *last_) {
    state_ = State::completed;
    outcome_.status = TransferStatus::completed;
    timer_.disarm();
    return;
  }
  // Blocks after the acknowledged one that were already sent: the receiver saw a gap, so the window restarts.
  if (next_ != base_) go_back();
  timer_.arm(now_);
}

bool Sender::retry() {
  ++counters_.timeouts;
  if (!proven_ && config_.unanswered_resends && timer_.retries() >= *config_.unanswered_resends) {
    fail(errc::unanswered, std::nullopt);  // a forged request, or a client gone: stop drawing on the victim
    return false;
  }
  if (!timer_.take_retry(now_)) {
    fail(errc::timed_out, std::nullopt);  // nothing sent: the peer is gone or unreachable (as tftp-hpa)
    return false;
  }
  sampled_.reset();
  timer_.arm(now_);
  return true;
}

void Sender::resend_control() {
  control_pending_ = true;
  control_resend_ = true;
}

void Sender::go_back() {
  if (sampled_ && *sampled_ >= base_) {
    sampled_.reset();
    timer_.cancel_sample();
  }
  next_ = base_;
}

void Sender::fail(errc why, std::optional<Error> send) {
  state_ = State::failed;
  outcome_.status = TransferStatus::failed;
  outcome_.error = why;
  error_pending_ = send.has_value();
  outcome_.sent = std::move(send);
  control_pending_ = false;
  timer_.disarm();
}

void Sender::fail_by_peer(const Error& error) {
  // ERROR 8 in answer to our OACK: the client declined the options (EDK II does so to learn the size).
  const bool declined = state_ == State::oack_sent && error.code == ErrorCode::option_refused;
  fail(declined ? errc::options_declined : errc::peer_error, std::nullopt);
  outcome_.received = error;
}

std::optional<std::size_t> Sender::poll_transmit(std::span<std::byte> out) {
  std::optional<std::size_t> size;
  if (error_pending_) {
    error_pending_ = false;
    size = detail::encode_error_fitting(*outcome_.sent, out);
  } else if (control_pending_ && (state_ == State::requesting || state_ == State::oack_sent)) {
    size = transmit_control(out);
  } else if (state_ == State::sending) {
    size = transmit_block(out);
  }
  if (size) ++counters_.datagrams_sent;
  return size;
}

std::optional<std::size_t> Sender::transmit_control(std::span<std::byte> out) {
  const auto size = state_ == State::requesting ? encode(request_, out) : encode(oack_, out);
  control_pending_ = false;
  if (!size) {
    const errc why = size.error();
    step(TransferInput{.kind = InputKind::local_failure, .failure = why});
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

std::uint64_t Sender::send_end() const noexcept {
  const std::uint64_t window_end = base_ + window();
  return last_ ? std::min(window_end, *last_ + 1) : window_end;
}

std::optional<std::size_t> Sender::transmit_block(std::span<std::byte> out) {
  if (next_ >= send_end()) return std::nullopt;
  const std::size_t block_size = negotiated_.block_size;
  if (out.size() < header_size + block_size) {
    step(TransferInput{.kind = InputKind::local_failure, .failure = errc::buffer_too_small});
    return std::nullopt;
  }
  const BlockRead read = source_->read_block(next_, out.subspan(header_size, block_size));
  if (const auto* error = std::get_if<Error>(&read)) {
    step(TransferInput{.kind = InputKind::local_failure, .error = error, .failure = errc::local_io_error});
    // The ERROR goes out in this same call, and the caller (poll_transmit) counts it once.
    if (!error_pending_) return std::nullopt;
    error_pending_ = false;
    return detail::encode_error_fitting(*outcome_.sent, out);
  }
  const std::size_t size = std::min(std::get<std::size_t>(read), block_size);
  if (size < block_size) last_ = next_;
  encode_data_header(detail::block_number(next_), out.first<header_size>());
  count_block(size);
  ++next_;
  return header_size + size;
}

void Sender::count_block(std::size_t size) {
  ++counters_.data_sent;
  if (next_ < sent_end_) {
    ++counters_.retransmissions;
    return;
  }
  sent_end_ = next_ + 1;
  ++counters_.blocks;
  counters_.bytes += size;
  if (!sampled_) {
    sampled_ = next_;
    timer_.start_sample(now_);
  }
}

std::optional<TimePoint> Sender::next_deadline() const noexcept {
  if (state_ == State::completed || state_ == State::failed) return std::nullopt;
  return timer_.deadline();
}

bool Sender::is_finished() const noexcept {
  return (state_ == State::completed || state_ == State::failed) && !error_pending_;
}

}  // namespace tftp
