#pragma once
// The one timer of a driver, armed from a machine's (or the endpoint's) next_deadline(), lazily: a pending
// wait that ends no later than the new deadline stays. Ending early, it is a no-op for the machine, which
// is asked again and re-arms from there; so a transfer costs one wake-up per timeout instead of a cancelled
// wait and a timerfd update per packet.

#include <optional>
#include <system_error>
#include <utility>

#include <asio/steady_timer.hpp>

#include "tftp/transfer.hpp"

namespace tftp::net {

class DeadlineTimer {
 public:
  explicit DeadlineTimer(const asio::any_io_executor& executor) : timer_(executor) {}

  // on_expiry runs once the deadline has passed (never after cancel(), nor once this timer is gone).
  template <class Handler>
  void arm(std::optional<TimePoint> deadline, Handler on_expiry) {
    if (!deadline) {
      cancel();
      return;
    }
    if (armed_ && *armed_ <= *deadline) return;
    armed_ = deadline;
    timer_.expires_at(*deadline);
    timer_.async_wait([this, on_expiry = std::move(on_expiry)](const std::error_code& ec) mutable {
      if (ec == asio::error::operation_aborted) return;  // replaced by a later arm, cancelled, or destroyed
      armed_.reset();
      if (!ec) on_expiry();
    });
  }

  void cancel() {
    armed_.reset();
    timer_.cancel();
  }

 private:
  asio::steady_timer timer_;
  std::optional<TimePoint> armed_;  // when the pending wait ends
};

}  // namespace tftp::net
