#pragma once
// Confinement of requested names beneath the served directory (ROOT).
//
// Rules, applied to the name exactly as the client sent it, before the file system is asked anything:
// - A backslash is a path separator: Windows clients and PXE ROMs send "boot\bcd", and treating it as a
//   literal byte would let "..\x" look harmless here and dangerous to anyone who later copies the tree
//   to a system where it is a separator. So "..\x" is refused exactly like "../x".
// - Absolute names ("/etc/passwd", "\x") are refused. tftp-hpa strips a leading "/" only when it runs
//   chrooted (-s); this server never guesses what an absolute name was meant to be.
// - A ".." component is refused wherever it is, even where it would stay inside ROOT ("a/../b").
//   Empty and "." components are dropped ("a//b" and "./a" name "a/b" and "a").
// - Control characters (0x01-0x1f, 0x7f) are refused; so are names longer than max_name_length bytes
//   and components longer than NAME_MAX.
// Then the name is opened relative to an O_PATH descriptor of ROOT:
// - with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) where the kernel has it (Linux 5.6+): a symlink
//   is followed only while it stays beneath ROOT (an absolute symlink target is refused);
// - otherwise component by component with openat(O_NOFOLLOW): every symlink is refused.
// - Only regular files are served or replaced (no directory, FIFO, socket or device); the file is opened
//   O_NONBLOCK so that a FIFO cannot stall the server, and checked with fstat on the open descriptor.

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "tftp/error.hpp"

namespace tftp::server {

inline constexpr std::size_t max_name_length = 400;

// An owned file descriptor.
class ScopedFd {
 public:
  ScopedFd() = default;
  explicit ScopedFd(int fd) noexcept : fd_(fd) {}
  ScopedFd(ScopedFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  ScopedFd& operator=(ScopedFd&& other) noexcept;
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd();

  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }
  explicit operator bool() const noexcept { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Why a request is refused: the ERROR packet the client gets.
struct Refusal {
  ErrorCode code = ErrorCode::access_violation;
  std::string message;
  friend bool operator==(const Refusal&, const Refusal&) = default;
};

// The name checked against the rules above: components joined by '/', never empty, never absolute.
std::variant<std::string, Refusal> check_name(std::string_view requested);

enum class Resolver { openat2, component_walk };

// Where an accepted upload goes: the directory that will hold the file and the file's name in it.
struct UploadTarget {
  ScopedFd directory;   // O_PATH descriptor of the target's directory, beneath ROOT
  std::string leaf;     // last component of the checked name
  bool exists = false;  // a regular file of that name is there now
};

class Root {
 public:
  // Opens ROOT; throws std::system_error when it is not a directory that can be opened.
  explicit Root(const std::string& path);
  // As above with a chosen resolver (tests force the fallback on kernels that have openat2).
  Root(const std::string& path, Resolver resolver);

  Resolver resolver() const noexcept { return resolver_; }
  const std::string& path() const noexcept { return path_; }
  // The open directory (for housekeeping beneath it, never for a client's name).
  int fd() const noexcept { return root_.get(); }

  // A regular file for reading (O_RDONLY).
  std::variant<ScopedFd, Refusal> open_for_read(std::string_view requested) const;
  // The directory `name` beneath this root as a root of its own (same resolver, same rules beneath it), for
  // per-client roots: std::monostate when there is no directory of that name (nothing, or not a directory);
  // a Refusal when the name is refused or reaches out of this root (a symlink that leaves it, or with the
  // component walk any symlink), so that a broken per-client tree is an error, not a silent fallback.
  std::variant<std::monostate, Root, Refusal> subdirectory(std::string_view name) const;
  // The directory an upload of this name lands in. A non-regular file or a symlink of that name is refused;
  // whether an existing file may be replaced is the caller's decision (UploadTarget::exists).
  std::variant<UploadTarget, Refusal> open_for_upload(std::string_view requested) const;

 private:
  Root(std::string path, ScopedFd root, Resolver resolver) noexcept;
  // Opens a checked relative path with flags; errno-style failure as a negative value.
  ScopedFd open_beneath(const std::string& path, int flags, int& error) const;
  ScopedFd walk(const std::string& path, int flags, int& error) const;

  std::string path_;
  ScopedFd root_;
  Resolver resolver_;
};

// The refusal for an errno from opening a checked name.
Refusal refusal_for_errno(int error);

}  // namespace tftp::server
