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
#include <optional>

#include "tftp/packet.hpp"
#include "tftp/posix/unique_fd.hpp"
#include "tftp/result.hpp"

namespace tftp::posix {

inline constexpr std::size_t max_name_length = 400;

// The name checked against the rules above: components joined by '/', never empty, never absolute.
Result<std::string, Error> check_name(std::string_view requested);

enum class Resolver { openat2, component_walk };

// Where an accepted upload goes: the directory that will hold the file and the file's name in it.
struct UploadTarget {
  UniqueFd directory;   // O_PATH descriptor of the target's directory, beneath ROOT
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
  Result<UniqueFd, Error> open_for_read(std::string_view requested) const;
  // The directory `name` beneath this root as a root of its own (same resolver, same rules beneath it), for
  // per-client roots: nullopt when there is no directory of that name (nothing, or not a directory);
  // an Error when the name is refused or reaches out of this root (a symlink that leaves it, or with the
  // component walk any symlink), so that a broken per-client tree is an error, not a silent fallback.
  Result<std::optional<Root>, Error> subdirectory(std::string_view name) const;
  // The directory an upload of this name lands in. A non-regular file or a symlink of that name is refused;
  // whether an existing file may be replaced is the caller's decision (UploadTarget::exists).
  Result<UploadTarget, Error> open_for_upload(std::string_view requested) const;

 private:
  Root(std::string path, UniqueFd root, Resolver resolver) noexcept;
  // Opens a checked relative path with flags; errno-style failure as a negative value.
  UniqueFd open_beneath(const std::string& path, int flags, int& error) const;
  UniqueFd walk(const std::string& path, int flags, int& error) const;

  std::string path_;
  UniqueFd root_;
  Resolver resolver_;
};

// The ERROR for an errno from opening a checked name.
Error open_error(int error);

}  // namespace tftp::posix
