#include "tftp/posix/root.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <system_error>

namespace tftp::posix {

namespace {

bool is_control(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

Error refuse(std::string message) { return Error{ErrorCode::access_violation, std::move(message)}; }

#ifdef SYS_openat2
int sys_openat2(int dirfd, const char* path, int flags, std::uint64_t resolve) noexcept {
  open_how how{};
  how.flags = static_cast<unsigned>(flags);
  how.resolve = resolve;
  return static_cast<int>(::syscall(SYS_openat2, dirfd, path, &how, sizeof how));
}
#endif

constexpr std::uint64_t beneath_flags = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;

Resolver detect_resolver(int root_fd) noexcept {
#ifdef SYS_openat2
  // ENOSYS on kernels before 5.6; container seccomp filters may answer EPERM instead.
  const int fd = sys_openat2(root_fd, ".", O_PATH | O_CLOEXEC, beneath_flags);
  if (fd >= 0) {
    ::close(fd);
    return Resolver::openat2;
  }
#else
  (void)root_fd;
#endif
  return Resolver::component_walk;
}

UniqueFd open_root(const std::string& path) {
  const int fd = ::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "cannot open root directory " + path);
  return UniqueFd(fd);
}

// The checked path split as "directory" (or ".") and leaf.
std::pair<std::string, std::string> split_parent(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return {".", path};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

}  // namespace

Result<std::string, Error> check_name(std::string_view requested) {
  if (requested.empty()) return refuse("empty file name");
  if (requested.size() > max_name_length) return refuse("file name too long");
  if (requested.front() == '/' || requested.front() == '\\') return refuse("absolute file names are refused");
  std::string path;
  path.reserve(requested.size());
  std::size_t start = 0;
  while (start <= requested.size()) {
    std::size_t end = requested.find_first_of("/\\", start);
    if (end == std::string_view::npos) end = requested.size();
    const auto component = requested.substr(start, end - start);
    start = end + 1;
    if (component.empty() || component == ".") continue;
    if (component == "..") return refuse("\"..\" is refused in file names");
    if (component.size() > NAME_MAX) return refuse("file name component too long");
    for (const char c : component) {
      if (is_control(c)) return refuse("control characters in file name");
    }
    if (!path.empty()) path += '/';
    path += component;
  }
  if (path.empty()) return refuse("file name names no file");
  return path;
}

Error open_error(int error) {
  switch (error) {
    case ENOENT:
    case ENOTDIR:
      return Error{ErrorCode::file_not_found, "file not found"};
    case EACCES:
    case EPERM:
      return refuse("permission denied");
    case ELOOP:
      return refuse("symbolic link refused");
    case EXDEV:
      return refuse("name leaves the served directory");
    case ENAMETOOLONG:
      return refuse("file name too long");
    case ENOSPC:
    case EDQUOT:
      return Error{ErrorCode::disk_full, "disk full"};
    default:
      return Error{ErrorCode::not_defined, std::strerror(error)};
  }
}

Root::Root(const std::string& path) : path_(path), root_(open_root(path)), resolver_(detect_resolver(root_.get())) {}

Root::Root(const std::string& path, Resolver resolver) : path_(path), root_(open_root(path)), resolver_(resolver) {
  if (resolver == Resolver::openat2 && detect_resolver(root_.get()) != Resolver::openat2) {
    throw std::system_error(ENOSYS, std::generic_category(), "openat2 is not available");
  }
}

Root::Root(std::string path, UniqueFd root, Resolver resolver) noexcept
    : path_(std::move(path)), root_(std::move(root)), resolver_(resolver) {}

Result<std::optional<Root>, Error> Root::subdirectory(std::string_view name) const {
  auto checked = check_name(name);
  if (!checked) return checked.error();
  const auto& path = *checked;
  int error = 0;
  // No O_DIRECTORY: the component walk then hands back a symlink itself, which fstat tells apart from a file.
  UniqueFd fd = open_beneath(path, O_PATH | O_CLOEXEC, error);
  if (!fd) {
    if (error == ENOENT || error == ENOTDIR) return std::optional<Root>();
    return open_error(error);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return open_error(errno);
  if (S_ISLNK(st.st_mode)) return open_error(ELOOP);
  if (!S_ISDIR(st.st_mode)) return std::optional<Root>();
  return std::optional<Root>(Root(path_ + "/" + path, std::move(fd), resolver_));
}

UniqueFd Root::walk(const std::string& path, int flags, int& error) const {
  UniqueFd current;
  int dir = root_.get();
  std::size_t start = 0;
  for (;;) {
    const auto slash = path.find('/', start);
    const std::string component = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (slash == std::string::npos) {
      const int fd = ::openat(dir, component.c_str(), flags | O_NOFOLLOW);
      if (fd < 0) error = errno;
      return UniqueFd(fd);
    }
    // O_PATH | O_NOFOLLOW hands back a symlink itself rather than failing, so that fstat can tell a
    // refused symlink (ELOOP) from a plain file in the middle of the name (ENOTDIR).
    const int fd = ::openat(dir, component.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      error = errno;
      return UniqueFd();
    }
    UniqueFd next(fd);
    struct stat st {};
    if (::fstat(next.get(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      error = S_ISLNK(st.st_mode) ? ELOOP : ENOTDIR;
      return UniqueFd();
    }
    current = std::move(next);
    dir = current.get();
    start = slash + 1;
  }
}

UniqueFd Root::open_beneath(const std::string& path, int flags, int& error) const {
#ifdef SYS_openat2
  if (resolver_ == Resolver::openat2) {
    int fd = -1;
    do {
      fd = sys_openat2(root_.get(), path.c_str(), flags, beneath_flags);
      // EAGAIN: a concurrent rename raced the lookup; the kernel asks for a retry.
    } while (fd < 0 && errno == EAGAIN);
    if (fd < 0) error = errno;
    return UniqueFd(fd);
  }
#endif
  return walk(path, flags, error);
}

// The name is looked at (O_PATH) before anything is opened: a device or a FIFO is never opened for real
// (opening some devices does something: a tape rewinds, a modem line hangs up). A regular file is then
// opened through its O_PATH descriptor (/proc/self/fd), which pins the inode that was checked.
Result<UniqueFd, Error> Root::open_for_read(std::string_view requested) const {
  auto checked = check_name(requested);
  if (!checked) return checked.error();
  int error = 0;
  UniqueFd looked = open_beneath(*checked, O_PATH | O_CLOEXEC, error);
  if (!looked) return open_error(error);
  struct stat st {};
  if (::fstat(looked.get(), &st) != 0) return open_error(errno);
  if (S_ISLNK(st.st_mode)) return open_error(ELOOP);  // the component walk hands symlinks back
  if (!S_ISREG(st.st_mode)) return refuse("not a regular file");
  const std::string self = "/proc/self/fd/" + std::to_string(looked.get());
  UniqueFd fd(::open(self.c_str(), O_RDONLY | O_NOCTTY | O_CLOEXEC));
  if (!fd && errno == ENOENT) {
    // No /proc: open the checked name again; the check above has already refused every non-regular file.
    fd = open_beneath(*checked, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, error);
    if (!fd) return open_error(error);
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return refuse("not a regular file");
  }
  if (!fd) return open_error(errno);
  return fd;
}

Result<UploadTarget, Error> Root::open_for_upload(std::string_view requested) const {
  auto checked = check_name(requested);
  if (!checked) return checked.error();
  auto [parent, leaf] = split_parent(*checked);
  int error = 0;
  UniqueFd dir = open_beneath(parent, O_PATH | O_DIRECTORY | O_CLOEXEC, error);
  if (!dir) return open_error(error);
  struct stat st {};
  if (::fstatat(dir.get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno != ENOENT) return open_error(errno);
    return UploadTarget{std::move(dir), std::move(leaf), false};
  }
  if (S_ISLNK(st.st_mode)) return refuse("symbolic link refused");
  if (!S_ISREG(st.st_mode)) return refuse("not a regular file");
  return UploadTarget{std::move(dir), std::move(leaf), true};
}

}  // namespace tftp::posix
