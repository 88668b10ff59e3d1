#include "local_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <vector>

namespace tftp::client::detail {
namespace {

std::error_code last_error() { return {errno, std::system_category()}; }

std::string temp_directory() {
  const char* dir = std::getenv("TMPDIR");
  return dir != nullptr && *dir != '\0' ? dir : "/tmp";
}

// Copies everything from one descriptor to another, retrying short writes and interruptions.
std::error_code copy_all(int from, int to) {
  std::vector<char> buffer(64 * 1024);
  for (;;) {
    const ssize_t got = ::read(from, buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return last_error();
    if (got == 0) return {};
    for (ssize_t done = 0; done < got;) {
      const ssize_t put = ::write(to, buffer.data() + done, static_cast<std::size_t>(got - done));
      if (put < 0 && errno == EINTR) continue;
      if (put < 0) return last_error();
      done += put;
    }
  }
}

// A file nobody else can open and that vanishes with its descriptor.
posix::UniqueFd anonymous_file(std::error_code& ec) {
  const std::string dir = temp_directory();
  posix::UniqueFd fd(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (fd) return fd;
  std::string path = dir + "/tftp-client.XXXXXX";
  fd = posix::UniqueFd(::mkostemp(path.data(), O_CLOEXEC));
  if (!fd) {
    ec = last_error();
    return fd;
  }
  ::unlink(path.c_str());
  return fd;
}

// A file a download replaces keeps its permissions; a new one gets 0666 & ~umask, as any program's.
mode_t mode_for(const std::string& local) {
  struct stat st {};
  if (::stat(local.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return st.st_mode & 07777;
  const mode_t mask = ::umask(0);
  ::umask(mask);
  return 0666 & ~mask;
}

}  // namespace

std::unique_ptr<Download> Download::open(const std::string& local, Mode mode, std::optional<std::uint64_t> limit,
                                         std::error_code& ec) {
  ec.clear();
  std::unique_ptr<Download> download(new Download());
  std::string path = local;
  if (local == stdio_name) {
    std::string dir = temp_directory() + "/tftp-client.XXXXXX";
    if (::mkdtemp(dir.data()) == nullptr) {
      ec = last_error();
      return nullptr;
    }
    download->stage_dir_ = dir;
    download->stage_path_ = path = dir + "/stdout";
  } else if (struct stat st {}; ::stat(local.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    // The rename at the end would fail: say so before the server sends a single block.
    ec = std::make_error_code(std::errc::is_a_directory);
    return nullptr;
  }
  download->file_.emplace(posix::AtomicFile::create(path, {.mode = mode_for(path)}, ec));
  if (ec) return nullptr;
  download->sink_.emplace(*download->file_, mode, limit);
  // Write-behind: the ACK of a large block leaves before its write, which then overlaps the next DATA.
  download->sink_->hold_large_blocks(true);
  return download;
}

Download::~Download() {
  sink_.reset();
  file_.reset();  // removes the temporary file unless it was committed
  if (stage_dir_.empty()) return;
  ::unlink(stage_path_.c_str());
  ::rmdir(stage_dir_.c_str());
}

std::error_code Download::deliver() {
  if (stage_dir_.empty()) return {};
  const posix::UniqueFd staged(::open(stage_path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (!staged) return last_error();
  return copy_all(staged.get(), STDOUT_FILENO);
}

std::unique_ptr<posix::FileSource> open_upload(const std::string& local, Mode mode, bool count_size,
                                                std::error_code& ec) {
  ec.clear();
  posix::UniqueFd file;
  if (local == stdio_name) {
    file = anonymous_file(ec);
    if (!ec) ec = copy_all(STDIN_FILENO, file.get());
  } else {
    file = posix::UniqueFd(::open(local.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (!file || ::fstat(file.get(), &st) != 0) {
      ec = last_error();
    } else if (!S_ISREG(st.st_mode)) {
      // A directory or a device has no blocks to re-read on a retransmission.
      ec = std::make_error_code(S_ISDIR(st.st_mode) ? std::errc::is_a_directory : std::errc::invalid_argument);
    }
  }
  if (ec) return nullptr;
  auto source = std::make_unique<posix::FileSource>(std::move(file), mode);
  if (count_size && mode == Mode::netascii) ec = source->count_netascii();
  if (ec) return nullptr;
  return source;
}

}  // namespace tftp::client::detail
