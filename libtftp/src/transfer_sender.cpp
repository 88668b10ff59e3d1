// The Sender: serves an RRQ or performs a client WRQ. All transitions are in Sender::step.
#include <algorithm>
#include <utility>

#include "tftp/transfer.hpp"
#include "transfer_input.hpp"

namespace tftp {

using detail::InputKind;

Sender Sender::serve_read(const ServerAnswer& answer, BlockSource& source, const TransferConfig& config,
                          TimePoint now) {
  Sender sender(source, config, now);
  if (sender.serve(answer)) sender.start_data();
  return sender;
}

Sender Sender::client_write(Wrq request, BlockSource& source, const TransferConfig& config, TimePoint now) {
  return as_client(Sender(source, config, now), std::move(request));
}

void Sender::start_data() {
  state_ = State::transferring;
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

// Rule: every state change of a Sender happens here; the start, shared, goes through control_answered.
void Sender::step(const detail::TransferInput& input) {
  switch (state_) {
    case State::transferring:
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
    case State::requesting:  // client WRQ sent; the answer is OACK, ACK 0 or ERROR
    case State::oack_sent:   // server RRQ with options; ACK 0 accepts the OACK
      if (!control_answered(input, InputKind::ack, 0)) return;
      apply_held_timeout();  // the client answered the OACK (Reach)
      start_data();
      return;
    case State::dallying:  // only a Receiver dallies
    case State::completed:
    case State::failed: return;
  }
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
  // An ACK of DATA beyond the first window: the client receives what is sent (TransferConfig, Reach).
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

void Sender::resume(TimePoint now) {
  now_ = now;
  if (!waiting_ || state_ != State::transferring) return;
  waiting_ = false;
  if (!timer_.deadline()) {  // nothing was in flight: the silence starts with what is sent now
    timer_.progress(now_);
    timer_.arm(now_);
  }
}

void Sender::go_back() {
  if (sampled_ && *sampled_ >= base_) {
    sampled_.reset();
    timer_.cancel_sample();
  }
  next_ = base_;
}

std::uint64_t Sender::send_end() const noexcept {
  const std::uint64_t window_end = base_ + window();
  return last_ ? std::min(window_end, *last_ + 1) : window_end;
}

std::optional<std::size_t> Sender::transmit_data(std::span<std::byte> out) {
  if (state_ != State::transferring || next_ >= send_end()) return std::nullopt;
  const std::size_t block_size = negotiated_.block_size;
  if (out.size() < header_size + block_size) {
    fail_locally(errc::buffer_too_small);
    return std::nullopt;
  }
  const BlockRead read = source_->read_block(next_, out.subspan(header_size, block_size));
  if (std::holds_alternative<BlockPending>(read)) {
    waiting_ = true;
    if (base_ == sent_end_) timer_.disarm();  // nothing in flight: nothing to resend, nobody to give up on
    return std::nullopt;
  }
  waiting_ = false;
  if (const auto* error = std::get_if<Error>(&read)) {
    fail_locally(errc::local_io_error, error);
    // The ERROR goes out in this same call, and the caller (poll_transmit) counts it once.
    if (!error_pending_) return std::nullopt;
    return transmit_error(out);
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

}  // namespace tftp
