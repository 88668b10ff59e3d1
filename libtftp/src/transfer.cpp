// Pieces shared by the Sender and the Receiver: the retransmission timer and the ERRORs they send.
#include "tftp/transfer.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "transfer_input.hpp"

namespace tftp {
namespace detail {

RetransmitTimer::RetransmitTimer(const TransferConfig& config)
    : min_(std::min(config.min_timeout, config.max_timeout)),
      max_(config.max_timeout),
      max_retries_(config.max_retries),
      adaptive_(config.adaptive),
      initial_(std::clamp(config.initial_timeout, min_, max_)),
      rto_(initial_) {}

void RetransmitTimer::fix(Duration timeout) {
  fixed_ = true;
  rto_ = timeout;
  sample_start_.reset();
}

bool RetransmitTimer::take_retry() noexcept {
  if (retries_ >= max_retries_) return false;
  ++retries_;
  sample_start_.reset();  // Karn: the answer could now belong to either transmission
  if (!fixed_) rto_ = std::min(rto_ * 2, max_);
  return true;
}

void RetransmitTimer::progress() noexcept {
  retries_ = 0;
  // Without measurements nothing would ever undo the backoff; with them the next sample does (Karn).
  if (!fixed_ && !adaptive_) rto_ = initial_;
}

void RetransmitTimer::finish_sample(TimePoint now) noexcept {
  if (!sample_start_) return;
  const Duration rtt = now - *sample_start_;
  sample_start_.reset();
  if (adaptive_ && !fixed_) add_sample(rtt);
}

// RFC 6298 section 2, with min_timeout in place of the clock granularity and the 1 s floor.
void RetransmitTimer::add_sample(Duration rtt) noexcept {
  if (!srtt_) {
    srtt_ = rtt;
    rttvar_ = rtt / 2;
  } else {
    const Duration deviation = *srtt_ > rtt ? *srtt_ - rtt : rtt - *srtt_;
    rttvar_ = (rttvar_ * 3 + deviation) / 4;
    srtt_ = (*srtt_ * 7 + rtt) / 8;
  }
  rto_ = std::clamp(*srtt_ + rttvar_ * 4, min_, max_);
}

std::optional<std::size_t> encode_error_fitting(const Error& error, std::span<std::byte> out) noexcept {
  constexpr std::size_t fixed = 5;  // opcode, code, NUL
  if (out.size() < fixed) return std::nullopt;
  const std::string_view message(error.message.data(), std::min(error.message.find('\0'), error.message.size()));
  const std::size_t length = std::min(message.size(), out.size() - fixed);
  const auto code = static_cast<std::uint16_t>(error.code);
  out[0] = std::byte{0};
  out[1] = static_cast<std::byte>(Opcode::error);
  out[2] = static_cast<std::byte>(code >> 8U);
  out[3] = static_cast<std::byte>(code & 0xFFU);
  std::memcpy(out.data() + 4, message.data(), length);
  out[4 + length] = std::byte{0};
  return fixed + length;
}

Error illegal_operation(std::string message) { return Error{ErrorCode::illegal_operation, std::move(message)}; }

Error malformed_packet_error(errc why) { return illegal_operation("Malformed packet: " + make_error_code(why).message()); }

Error oack_refusal(errc why) {
  return Error{ErrorCode::option_refused, "Refused OACK: " + make_error_code(why).message()};
}

}  // namespace detail
}  // namespace tftp
