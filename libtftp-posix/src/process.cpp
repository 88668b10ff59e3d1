#include "tftp/posix/process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace tftp::posix {

namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

std::uint64_t raise_open_files_limit(std::uint64_t wanted) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < wanted && limit.rlim_cur != RLIM_INFINITY) {
    // Root (before it drops privileges) may raise the hard limit too; anyone else up to it.
    rlimit raised{wanted, std::max<rlim_t>(limit.rlim_max, wanted)};
    if (limit.rlim_max == RLIM_INFINITY) raised.rlim_max = RLIM_INFINITY;
    if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) {
      raised = {std::min<rlim_t>(wanted, limit.rlim_max), limit.rlim_max};
      if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) raised = limit;
    }
    limit = raised;
  }
  return limit.rlim_cur == RLIM_INFINITY ? wanted : limit.rlim_cur;
}

void drop_privileges(const std::string& user) {
  errno = 0;
  const passwd* entry = ::getpwnam(user.c_str());
  if (entry == nullptr) throw std::runtime_error("unknown user " + user);
  if (::initgroups(entry->pw_name, entry->pw_gid) != 0) throw_errno("initgroups " + user);
  if (::setgid(entry->pw_gid) != 0) throw_errno("setgid " + user);
  if (::setuid(entry->pw_uid) != 0) throw_errno("setuid " + user);
}

void give_directory_to(const std::string& directory, const std::string& user) {
  errno = 0;
  const passwd* entry = ::getpwnam(user.c_str());
  if (entry == nullptr) throw std::runtime_error("unknown user " + user);
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) throw_errno("open " + directory);
  if (::fchown(fd, entry->pw_uid, entry->pw_gid) != 0) {
    const int error = errno;
    ::close(fd);
    errno = error;
    throw_errno("chown " + directory);
  }
  DIR* dir = ::fdopendir(fd);  // owns fd from here
  if (dir == nullptr) {
    ::close(fd);
    throw_errno("opendir " + directory);
  }
  while (const dirent* e = ::readdir(dir)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    ::fchownat(::dirfd(dir), name.c_str(), entry->pw_uid, entry->pw_gid, AT_SYMLINK_NOFOLLOW);
  }
  ::closedir(dir);
}

}  // namespace tftp::posix
