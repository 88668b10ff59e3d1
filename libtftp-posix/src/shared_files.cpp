#include "tftp/posix/shared_files.hpp"

#include <sys/stat.h>

#include <algorithm>

namespace tftp::posix {

std::shared_ptr<const UniqueFd> SharedFiles::share(UniqueFd opened) {
  struct stat st {};
  if (::fstat(opened.get(), &st) != 0) return std::make_shared<const UniqueFd>(std::move(opened));
  const Key key{st.st_dev, st.st_ino};
  const std::lock_guard lock(mutex_);
  auto& slot = open_[key];
  if (auto shared = slot.lock()) return shared;  // `opened` closes on return
  auto shared = std::make_shared<const UniqueFd>(std::move(opened));
  slot = shared;
  if (open_.size() >= sweep_at_) sweep();
  return shared;
}

std::size_t SharedFiles::open_count() const {
  const std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(
      std::count_if(open_.begin(), open_.end(), [](const auto& entry) { return !entry.second.expired(); }));
}

// Amortised: the table is swept when it has doubled since the last sweep, so it stays within twice the
// files being read.
void SharedFiles::sweep() {
  std::erase_if(open_, [](const auto& entry) { return entry.second.expired(); });
  sweep_at_ = std::max<std::size_t>(64, 2 * open_.size());
}

}  // namespace tftp::posix
