// What the Sender and the Receiver share: the start of a transfer, retries, failure, and the datagrams that
// are not data.
#include "tftp/detail/transfer_base.hpp"

#include <chrono>
#include <utility>

#include "transfer_input.hpp"

namespace tftp::detail {

TransferBase::TransferBase(const TransferConfig& config, TimePoint now, const char* unexpected_packet)
    : config_(config), timer_(config, now), now_(now), unexpected_packet_(unexpected_packet) {}

bool TransferBase::serve(const ServerAnswer& answer) {
  negotiated_ = answer.negotiated;
  proven_ = false;
  // The client's timeout applies once it has answered (the OACK for a Sender, with DATA for a Receiver): a
  // forged request keeps the server's own.
  if (answer.negotiated.timeout_s) held_timeout_ = std::chrono::seconds(*answer.negotiated.timeout_s);
  if (answer.refusal) {
    fail(errc::aborted, *answer.refusal);
    return false;
  }
  if (answer.oack.empty()) return true;
  state_ = State::oack_sent;
  control_ = Oack{answer.oack};
  control_pending_ = true;
  timer_.arm(now_);
  return false;
}

void TransferBase::send_request(std::variant<Rrq, Wrq> request) {
  client_ = true;
  state_ = State::requesting;
  std::visit([this](auto& packet) { control_ = std::move(packet); }, request);
  control_pending_ = true;
  timer_.arm(now_);
}

void TransferBase::on_datagram(std::span<const std::byte> bytes, TimePoint now) {
  now_ = now;
  decode_input(bytes, [this](const TransferInput& input) { step(input); });
}

void TransferBase::on_timeout(TimePoint now) {
  now_ = now;
  if (timer_.expired(now)) step(TransferInput{.kind = InputKind::timeout});
}

void TransferBase::abort(Error error) { fail_locally(errc::aborted, &error); }

void TransferBase::fail_locally(errc why, const Error* error) {
  step(TransferInput{.kind = InputKind::local_failure, .error = error, .failure = why});
}

bool TransferBase::control_answered(const TransferInput& input, InputKind answer, std::uint16_t answer_block) {
  if (input.kind == InputKind::timeout) {
    if (retry()) control_pending_ = control_resend_ = true;
    return false;
  }
  if (input.kind == InputKind::oack && state_ == State::requesting) {
    const auto& requested =
        std::visit([](const auto& packet) -> const OptionList& { return packet.options; }, control_);
    auto negotiated = check_oack(requested, *input.options);
    if (!negotiated) {
      fail(negotiated.error(), oack_refusal(negotiated.error()));
      return false;
    }
    negotiated_ = *negotiated;
    if (negotiated_.timeout_s) timer_.fix(std::chrono::seconds(*negotiated_.timeout_s));
  } else if (input.kind == answer) {
    if (input.block != answer_block) return false;  // answers nothing we sent
    if (state_ == State::requesting) negotiated_ = Negotiated{};  // the server ignored our options: RFC 1350 defaults
  } else {
    end_on(input);
    return false;
  }
  timer_.finish_sample(now_);
  return true;
}

void TransferBase::end_on(const TransferInput& input) {
  switch (input.kind) {
    case InputKind::peer_error: fail_by_peer(*input.error); return;
    case InputKind::malformed: fail(errc::malformed_packet, malformed_packet_error(input.failure)); return;
    case InputKind::local_failure:
      fail(input.failure, input.error != nullptr ? std::optional<Error>(*input.error) : std::nullopt);
      return;
    default: fail(errc::protocol_violation, illegal_operation(unexpected_packet_)); return;
  }
}

void TransferBase::fail(errc why, std::optional<Error> send) {
  state_ = State::failed;
  outcome_.status = TransferStatus::failed;
  outcome_.error = why;
  error_pending_ = send.has_value();
  outcome_.sent = std::move(send);
  control_pending_ = false;
  timer_.disarm();
}

void TransferBase::fail_by_peer(const Error& error) {
  // ERROR 8 in answer to our OACK: the client declined the options (EDK II does so to learn the size).
  const bool declined = state_ == State::oack_sent && error.code == ErrorCode::option_refused;
  fail(declined ? errc::options_declined : errc::peer_error, std::nullopt);
  outcome_.received = error;
}

bool TransferBase::retry() {
  ++counters_.timeouts;
  if (!proven_ && config_.unanswered_resends && timer_.retries() >= *config_.unanswered_resends) {
    fail(errc::unanswered, std::nullopt);  // a forged request, or a client gone: stop drawing on the victim
    return false;
  }
  if (!timer_.take_retry(now_)) {
    fail(errc::timed_out, std::nullopt);  // nothing sent: the peer is gone or unreachable (as tftp-hpa)
    return false;
  }
  timer_.arm(now_);
  return true;
}

void TransferBase::apply_held_timeout() {
  if (held_timeout_) timer_.fix(*std::exchange(held_timeout_, std::nullopt));
}

std::optional<std::size_t> TransferBase::poll_transmit(std::span<std::byte> out) {
  std::optional<std::size_t> size;
  if (error_pending_) {
    size = transmit_error(out);
  } else if (control_pending_ && (state_ == State::requesting || state_ == State::oack_sent)) {
    size = transmit_control(out);
  } else if (state_ != State::failed) {  // a failed transfer sends its ERROR and nothing else
    size = transmit_data(out);
  }
  if (size) ++counters_.datagrams_sent;
  return size;
}

std::optional<std::size_t> TransferBase::transmit_error(std::span<std::byte> out) {
  error_pending_ = false;
  return encode_error_fitting(*outcome_.sent, out);
}

std::optional<std::size_t> TransferBase::transmit_control(std::span<std::byte> out) {
  const auto size = std::visit([out](const auto& packet) { return encode(packet, out); }, control_);
  control_pending_ = false;
  if (!size) {
    fail_locally(size.error());
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

std::optional<TimePoint> TransferBase::next_deadline() const noexcept {
  if (state_ == State::completed || state_ == State::failed) return std::nullopt;
  return timer_.deadline();
}

bool TransferBase::is_finished() const noexcept {
  return (state_ == State::completed || state_ == State::failed) && !error_pending_;
}

}  // namespace tftp::detail
