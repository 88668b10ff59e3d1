#pragma once
// A token bucket: at most `burst` events at once and `per_second` on average. No clock is read: the caller
// passes the time, which never goes backwards. For what a stranger or a flood can make the server do per
// packet: ERROR 5 replies, log lines.

#include <algorithm>
#include <chrono>
#include <optional>

namespace tftp {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  TokenBucket(double per_second, double burst) : rate_(per_second), burst_(burst), tokens_(burst) {}

  // Whether one more event may happen now (and counts it).
  bool take(Clock::time_point now) {
    if (last_) tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - *last_).count() * rate_);
    last_ = now;
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }

 private:
  double rate_;
  double burst_;
  double tokens_;
  std::optional<Clock::time_point> last_;
};

}  // namespace tftp
