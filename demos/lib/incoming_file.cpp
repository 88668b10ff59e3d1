#include "incoming_file.hpp"

#include <cerrno>
#include <cstring>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>

#include "chat_protocol.hpp"

namespace demos {
namespace {

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

std::variant<IncomingFile, std::string> IncomingFile::open(const std::filesystem::path& directory,
                                                           const FileHeader& header, std::uint64_t max_size) {
  if (auto reason = unsafe_file_name(header.name)) return std::string(*reason);
  if (header.size > max_size) return "the file is larger than the server accepts";
  auto final_path = directory / header.name;
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::symlink_status(final_path, ec))) {
    return "a file named " + header.name + " exists already";
  }
  std::string pattern = (directory / ".incoming-XXXXXX").string();
  const int fd = ::mkstemp(pattern.data());
  if (fd < 0) return errno_text("cannot create the file");
  // mkstemp makes the file private (0600); a shared file is what the sender meant.
  ::fchmod(fd, 0644);
  return IncomingFile(fd, pattern, std::move(final_path), header.name, header.size);
}

IncomingFile::IncomingFile(int fd, std::filesystem::path temporary, std::filesystem::path final_path,
                           std::string name, std::uint64_t size) noexcept
    : fd_(fd), temporary_(std::move(temporary)), final_(std::move(final_path)), name_(std::move(name)),
      remaining_(size) {}

IncomingFile::IncomingFile(IncomingFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), temporary_(std::move(other.temporary_)), final_(std::move(other.final_)),
      name_(std::move(other.name_)), remaining_(other.remaining_) {}

IncomingFile& IncomingFile::operator=(IncomingFile&& other) noexcept {
  if (this != &other) {
    discard();
    fd_ = std::exchange(other.fd_, -1);
    temporary_ = std::move(other.temporary_);
    final_ = std::move(other.final_);
    name_ = std::move(other.name_);
    remaining_ = other.remaining_;
  }
  return *this;
}

IncomingFile::~IncomingFile() { discard(); }

void IncomingFile::discard() noexcept {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
  ::unlink(temporary_.c_str());
}

std::string IncomingFile::write(std::span<const std::byte> bytes) {
  if (fd_ < 0) return "the file is closed";
  if (bytes.size() > remaining_) return "more bytes than the header announced";
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_text("cannot write the file");
    bytes = bytes.subspan(static_cast<std::size_t>(n));
    remaining_ -= static_cast<std::uint64_t>(n);
  }
  return {};
}

std::string IncomingFile::commit() {
  if (fd_ < 0) return "the file is closed";
  if (remaining_ != 0) return "the file is incomplete";
  // fsync before the name appears, so a crash cannot leave a complete-looking name over missing bytes.
  if (::fsync(fd_) != 0) return errno_text("cannot sync the file");
  if (::link(temporary_.c_str(), final_.c_str()) != 0) {
    if (errno == EEXIST) return "a file named " + name_ + " exists already";
    return errno_text("cannot store the file");
  }
  discard();
  return {};
}

}  // namespace demos
