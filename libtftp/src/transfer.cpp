// Pieces shared by the Sender and the Receiver: the retransmission timer and the ERRORs they send.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "tftp/detail/retransmit_timer.hpp"
#include "tftp/transfer_config.hpp"
#include "transfer_input.hpp"

namespace tftp {

namespace {

Duration clamped_initial(const TransferConfig& config) noexcept {
  const Duration low = std::min(config.min_timeout, config.max_timeout);
  return std::clamp(config.initial_timeout, low, config.max_timeout);
}

// The sum of `waits` waits starting at `first`, each doubled up to `cap`.
Duration backed_off_total(Duration first, Duration cap, std::uint64_t waits) noexcept {
  Duration total{0};
  for (std::uint64_t i = 0; i < waits; ++i) {
    total += first;
    first = std::min(first * 2, std::max(cap, first));
  }
  return total;
}

}  // namespace

Duration give_up_time(const TransferConfig& config, std::optional<Duration> negotiated) noexcept {
  const std::uint64_t waits = std::uint64_t{config.max_retries} + 1;
  if (negotiated) return *negotiated * static_cast<Duration::rep>(waits);
  return backed_off_total(clamped_initial(config), config.max_timeout, waits);
}

std::uint64_t max_timeouts_per_silence(const TransferConfig& config) noexcept {
  // A negotiated timeout gives max_retries + 1; a measured one at worst starts at min_timeout.
  const Duration patience = give_up_time(config);
  const Duration cap = config.max_timeout;
  Duration wait = std::max(std::min(config.min_timeout, cap), Duration{1});
  Duration elapsed{0};
  std::uint64_t timeouts = 0;
  while (elapsed < patience) {
    elapsed += wait;
    wait = std::min(wait * 2, std::max(cap, wait));
    ++timeouts;
  }
  return std::max<std::uint64_t>(timeouts, std::uint64_t{config.max_retries} + 1);
}

namespace detail {

RetransmitTimer::RetransmitTimer(const TransferConfig& config, TimePoint now)
    : config_(config),
      min_(std::min(config.min_timeout, config.max_timeout)),
      max_(config.max_timeout),
      initial_(clamped_initial(config)),
      rto_(initial_),
      patience_(tftp::give_up_time(config)),
      quiet_since_(now) {}

void RetransmitTimer::fix(Duration timeout) {
  fixed_ = true;
  rto_ = timeout;
  patience_ = tftp::give_up_time(config_, timeout);
  sample_start_.reset();
}

bool RetransmitTimer::take_retry(TimePoint now) noexcept {
  if (now >= quiet_since_ + patience_) return false;
  ++retries_;
  sample_start_.reset();  // Karn: the answer could now belong to either transmission
  if (!fixed_) rto_ = std::min(rto_ * 2, max_);
  return true;
}

void RetransmitTimer::progress(TimePoint now) noexcept {
  quiet_since_ = now;
  retries_ = 0;
  // Without measurements nothing would ever undo the backoff; with them the next sample does (Karn).
  if (!fixed_ && !config_.adaptive) rto_ = initial_;
}

void RetransmitTimer::finish_sample(TimePoint now) noexcept {
  if (!sample_start_) return;
  const Duration rtt = now - *sample_start_;
  sample_start_.reset();
  if (config_.adaptive && !fixed_) add_sample(rtt);
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
