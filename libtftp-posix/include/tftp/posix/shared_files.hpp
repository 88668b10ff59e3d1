#pragma once
// Read-only descriptors shared by every reader of one file (its device and inode). A descriptor names the
// inode, not the path, so sharing gives each reader exactly what an open of its own would (a file renamed
// over is a new inode, a new descriptor); pread keeps no offset. A boot storm's 10,000 sessions of one file
// then hold one descriptor instead of 10,000, which is what decides how many sessions RLIMIT_NOFILE holds.
// Safe to use from several threads.

#include <sys/types.h>

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

#include "tftp/posix/unique_fd.hpp"

namespace tftp::posix {

class SharedFiles {
 public:
  // `opened` was just opened for reading: returns the descriptor its inode's readers share (`opened`
  // itself when it has none open, else `opened` is closed). One that cannot be fstat'ed is not shared.
  std::shared_ptr<const UniqueFd> share(UniqueFd opened);
  // Inodes with a shared descriptor open now.
  std::size_t open_count() const;

 private:
  using Key = std::pair<dev_t, ino_t>;
  void sweep();

  mutable std::mutex mutex_;
  std::map<Key, std::weak_ptr<const UniqueFd>> open_;
  std::size_t sweep_at_ = 64;  // entries whose readers are gone are dropped when the table reaches this
};

}  // namespace tftp::posix
