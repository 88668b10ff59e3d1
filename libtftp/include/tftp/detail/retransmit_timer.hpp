#pragma once
// Not API: a part of the transfer machines (tftp/transfer.hpp).

#include <algorithm>
#include <optional>

#include "tftp/transfer_config.hpp"

namespace tftp::detail {

// Retransmission timeout (RFC 6298 with Karn's rule) with exponential backoff, inside the give-up time
// (TransferConfig): the deadline is never later than the moment the peer has been silent for that long.
class RetransmitTimer {
 public:
  RetransmitTimer(const TransferConfig& config, TimePoint now);

  // A negotiated timeout: no measurement, no backoff from now on; the give-up time becomes
  // (max_retries + 1) x timeout.
  void fix(Duration timeout);
  Duration timeout() const noexcept { return rto_; }
  // RFC 6298's SRTT; nullopt until a round trip was measured.
  std::optional<Duration> smoothed_rtt() const noexcept { return srtt_; }
  Duration give_up_time() const noexcept { return patience_; }

  void arm(TimePoint now) noexcept { deadline_ = std::min(now + rto_, quiet_since_ + patience_); }
  void arm_at(TimePoint at) noexcept { deadline_ = at; }  // beyond the give-up time: the dally
  void disarm() noexcept { deadline_.reset(); }
  std::optional<TimePoint> deadline() const noexcept { return deadline_; }
  bool expired(TimePoint now) const noexcept { return deadline_ && now >= *deadline_; }

  // A timeout: false once the peer has been silent for the give-up time; otherwise counts a retry and
  // backs off.
  bool take_retry(TimePoint now) noexcept;
  // The peer moved the transfer on: the silence starts again from now.
  void progress(TimePoint now) noexcept;
  unsigned retries() const noexcept { return retries_; }  // since the last progress

  // Round-trip measurement of one packet at a time. Only a packet sent once may be timed (Karn's rule).
  void start_sample(TimePoint sent) noexcept {
    if (!sample_start_) sample_start_ = sent;
  }
  void cancel_sample() noexcept { sample_start_.reset(); }
  bool sampling() const noexcept { return sample_start_.has_value(); }
  void finish_sample(TimePoint now) noexcept;

 private:
  void add_sample(Duration rtt) noexcept;

  TransferConfig config_;
  Duration min_;
  Duration max_;
  bool fixed_ = false;
  Duration initial_;
  Duration rto_;
  Duration patience_;
  TimePoint quiet_since_;
  std::optional<Duration> srtt_;
  Duration rttvar_{};
  std::optional<TimePoint> sample_start_;
  std::optional<TimePoint> deadline_;
  unsigned retries_ = 0;
};

}  // namespace tftp::detail
