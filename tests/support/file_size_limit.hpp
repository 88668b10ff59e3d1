#pragma once
// A full disk for one scope: RLIMIT_FSIZE lowered to `bytes` (a write past it fails with EFBIG, SIGXFSZ
// ignored), both restored when the scope ends. For tests of what a failed write leaves behind.
#include <sys/resource.h>

#include <csignal>

namespace tftp::test {

class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) : old_handler_(std::signal(SIGXFSZ, SIG_IGN)) {
    if (::getrlimit(RLIMIT_FSIZE, &saved_) != 0) return;
    rlimit small = saved_;
    small.rlim_cur = bytes;
    active_ = ::setrlimit(RLIMIT_FSIZE, &small) == 0;
  }
  ~FileSizeLimit() {
    if (active_) ::setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, old_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

  // The limit is in force (assert on it before writing).
  bool active() const noexcept { return active_; }

 private:
  rlimit saved_{};
  void (*old_handler_)(int);
  bool active_ = false;
};

}  // namespace tftp::test
