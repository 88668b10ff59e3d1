// Block reads and atomic writes for the drivers (see file_io.hpp).
#include "tftp/asio/file_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <random>

namespace tftp::fileio {
namespace {

std::error_code last_error() { return {errno, std::system_category()}; }

// pread until out is full or the file ends; the number of bytes read, or -1 with errno.
ssize_t pread_full(int fd, std::span<std::byte> out, std::uint64_t offset) {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return static_cast<ssize_t>(done);
}

// Blocks below this size are read ahead and written behind in chunks of these sizes.
constexpr std::size_t small_block = 8192;
constexpr std::size_t read_ahead_bytes = 16 * 1024;
constexpr std::size_t write_behind_bytes = 32 * 1024;

Error read_error(std::error_code ec) { return Error{ErrorCode::not_defined, "Read failed: " + ec.message()}; }

// ".name.XXXXXX" with a random suffix, kept within NAME_MAX.
std::string temp_name_for(const std::string& name, std::mt19937_64& random) {
  constexpr std::size_t name_max = 255;
  constexpr std::size_t overhead = 1 + 1 + 12;  // ".", ".", suffix
  static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string temp = "." + name.substr(0, name_max - overhead) + ".";
  for (int i = 0; i < 12; ++i) temp += alphabet[random() % (sizeof alphabet - 1)];
  return temp;
}

}  // namespace

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

// ---- FileSource ----------------------------------------------------------------------------------

FileSource::FileSource(Fd file, Mode mode) : file_(std::move(file)), mode_(mode) {
  struct stat st {};
  if (::fstat(file_.get(), &st) == 0) file_size_ = static_cast<std::uint64_t>(st.st_size);
  if (mode_ == Mode::octet) {
    tsize_ = file_size_;
  } else {
    checkpoints_.push_back({});
  }
}

std::error_code FileSource::count_netascii() {
  if (mode_ == Mode::octet) return {};
  std::vector<std::byte> buffer(64 * 1024);
  std::uint64_t offset = 0;
  std::uint64_t total = 0;
  for (;;) {
    const ssize_t n = pread_full(file_.get(), buffer, offset);
    if (n < 0) return last_error();
    if (n == 0) break;
    total += netascii::encoded_size(std::span(buffer).first(static_cast<std::size_t>(n)));
    offset += static_cast<std::uint64_t>(n);
  }
  tsize_ = total;
  return {};
}

BlockRead FileSource::read_block(std::uint64_t index, std::span<std::byte> out) {
  return mode_ == Mode::octet ? read_octet(index, out) : read_netascii(index, out);
}

BlockRead FileSource::read_octet(std::uint64_t index, std::span<std::byte> out) {
  const std::uint64_t offset = index * out.size();
  if (out.size() >= small_block || out.empty()) {
    const ssize_t n = pread_full(file_.get(), out, offset);
    if (n < 0) return read_error(last_error());
    return static_cast<std::size_t>(n);
  }
  const std::size_t chunk_size = read_ahead_bytes / out.size() * out.size();  // whole blocks
  const std::uint64_t chunk_offset = offset / chunk_size * chunk_size;
  if (chunk_.size() != chunk_size || chunk_offset_ != chunk_offset) {
    chunk_.resize(chunk_size);
    chunk_bytes_ = 0;  // invalid until the read below succeeds
    const ssize_t n = pread_full(file_.get(), chunk_, chunk_offset);
    if (n < 0) {
      chunk_.clear();
      return read_error(last_error());
    }
    chunk_offset_ = chunk_offset;
    chunk_bytes_ = static_cast<std::size_t>(n);
  }
  const std::size_t start = static_cast<std::size_t>(offset - chunk_offset);
  const std::size_t size = start < chunk_bytes_ ? std::min(out.size(), chunk_bytes_ - start) : 0;
  std::copy_n(chunk_.begin() + static_cast<std::ptrdiff_t>(start), size, out.begin());
  return size;
}

BlockRead FileSource::read_netascii(std::uint64_t index, std::span<std::byte> out) {
  if (index < first_checkpoint_ || index - first_checkpoint_ >= checkpoints_.size()) {
    return Error{ErrorCode::not_defined, "Read failed: block out of order"};  // the Sender never does this
  }
  Checkpoint at = checkpoints_[static_cast<std::size_t>(index - first_checkpoint_)];
  scratch_.resize(out.size());
  std::size_t written = 0;
  while (written < out.size()) {
    const auto room = out.subspan(written);
    const ssize_t n = pread_full(file_.get(), std::span(scratch_).first(room.size()), at.offset);
    if (n < 0) return read_error(last_error());
    const auto progress = at.encoder.encode(std::span(scratch_).first(static_cast<std::size_t>(n)), room);
    written += progress.written;
    at.offset += progress.consumed;
    if (n == 0) break;  // end of file: encode() above wrote a pending half of a pair, if any
  }
  if (index + 1 == first_checkpoint_ + checkpoints_.size()) checkpoints_.push_back(at);
  return written;
}

void FileSource::release(std::uint64_t first_unacknowledged) {
  while (checkpoints_.size() > 1 && first_checkpoint_ < first_unacknowledged) {
    checkpoints_.pop_front();
    ++first_checkpoint_;
  }
}

// ---- AtomicFile ----------------------------------------------------------------------------------

AtomicFile AtomicFile::create(int dir, std::string name, Options options, std::error_code& ec) {
  ec.clear();
  AtomicFile file;
  file.dir_ = dir;
  file.name_ = std::move(name);
  file.options_ = options;
  if (!options.overwrite) {
    struct stat st {};
    if (::fstatat(dir, file.name_.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      ec = std::make_error_code(std::errc::file_exists);
      return file;
    }
  }
  std::mt19937_64 random(std::random_device{}());
  for (int attempt = 0; attempt < 16; ++attempt) {
    std::string temp = temp_name_for(file.name_, random);
    const int fd = ::openat(dir, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
      file.temp_ = std::move(temp);
      file.file_ = Fd(fd);
      return file;
    }
    if (errno != EEXIST) {
      ec = last_error();
      return file;
    }
  }
  ec = std::make_error_code(std::errc::file_exists);
  return file;
}

AtomicFile AtomicFile::create(const std::string& path, Options options, std::error_code& ec) {
  const auto slash = path.rfind('/');
  const std::string dir_path = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  Fd dir(::open(dir_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) {
    ec = last_error();
    return AtomicFile();
  }
  if (name.empty() || name == "." || name == "..") {
    ec = std::make_error_code(std::errc::is_a_directory);
    return AtomicFile();
  }
  AtomicFile file = create(dir.get(), name, options, ec);
  file.owned_dir_ = std::move(dir);
  return file;
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : owned_dir_(std::move(other.owned_dir_)),
      dir_(other.dir_),
      name_(std::move(other.name_)),
      temp_(std::move(other.temp_)),
      file_(std::move(other.file_)),
      options_(other.options_),
      committed_(other.committed_) {
  other.temp_.clear();
  other.committed_ = true;  // nothing left for the moved-from object to remove
}

AtomicFile::~AtomicFile() { discard(); }

std::error_code AtomicFile::write(std::span<const std::byte> bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(file_.get(), bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return last_error();
    bytes = bytes.subspan(static_cast<std::size_t>(n));
  }
  return {};
}

std::error_code AtomicFile::commit() {
  if (committed_ || !file_) return std::make_error_code(std::errc::bad_file_descriptor);
  if (::fchmod(file_.get(), options_.mode) != 0) return last_error();
  if (options_.sync && ::fsync(file_.get()) != 0) return last_error();
  if (options_.overwrite) {
    if (::renameat(dir_, temp_.c_str(), dir_, name_.c_str()) != 0) return last_error();
  } else if (::renameat2(dir_, temp_.c_str(), dir_, name_.c_str(), RENAME_NOREPLACE) != 0) {
    if (errno != EINVAL) return last_error();
    // A file system without RENAME_NOREPLACE: a hard link fails the same way if the name exists.
    if (::linkat(dir_, temp_.c_str(), dir_, name_.c_str(), 0) != 0) return last_error();
    ::unlinkat(dir_, temp_.c_str(), 0);
  }
  committed_ = true;
  file_ = Fd();
  if (options_.sync) ::fsync(dir_);
  return {};
}

void AtomicFile::discard() noexcept {
  if (committed_ || temp_.empty()) return;
  ::unlinkat(dir_, temp_.c_str(), 0);
  file_ = Fd();
  committed_ = true;
}

// ---- FileSink ------------------------------------------------------------------------------------

FileSink::FileSink(AtomicFile& file, Mode mode, std::optional<std::uint64_t> limit)
    : file_(&file), mode_(mode), limit_(limit) {}

std::optional<Error> FileSink::write_block(std::uint64_t, std::span<const std::byte> bytes) {
  if (auto error = write_held()) return error;
  if (mode_ == Mode::octet && hold_ && bytes.size() >= small_block) {
    if (limit_ && written_ + bytes.size() > *limit_) return write(bytes);  // refused now, as unheld
    if (auto error = flush()) return error;
    written_ += bytes.size();
    held_ = bytes;
    return std::nullopt;
  }
  if (mode_ == Mode::octet) return write(bytes);
  decoded_.resize(netascii::max_decoded_size(bytes.size()));
  const auto progress = decoder_.decode(bytes, decoded_);
  return write(std::span(decoded_).first(progress.written));
}

std::optional<Error> FileSink::write_held() {
  if (held_.empty()) return std::nullopt;
  const auto ec = file_->write(held_);
  held_ = {};
  if (ec) return io_error(ec);
  return std::nullopt;
}

std::optional<Error> FileSink::finish() {
  if (auto error = write_held()) return error;
  if (mode_ == Mode::netascii) {
    std::byte last[1];
    const std::size_t n = decoder_.finish(last);
    if (auto error = write(std::span(last).first(n))) return error;
  }
  if (auto error = flush()) return error;
  if (const auto ec = file_->commit()) return io_error(ec);
  return std::nullopt;
}

std::optional<Error> FileSink::write(std::span<const std::byte> bytes) {
  if (limit_ && written_ + bytes.size() > *limit_) {
    failure_ = std::make_error_code(std::errc::file_too_large);
    file_->discard();
    return Error{ErrorCode::disk_full, "File exceeds the upload limit"};
  }
  written_ += bytes.size();
  if (bytes.size() < small_block) {
    if (pending_.capacity() == 0) pending_.reserve(write_behind_bytes);
    if (pending_.size() + bytes.size() <= pending_.capacity()) {
      pending_.insert(pending_.end(), bytes.begin(), bytes.end());
      return std::nullopt;
    }
  }
  if (auto error = flush()) return error;
  if (bytes.size() < small_block) {
    pending_.insert(pending_.end(), bytes.begin(), bytes.end());
    return std::nullopt;
  }
  if (const auto ec = file_->write(bytes)) return io_error(ec);
  return std::nullopt;
}

std::optional<Error> FileSink::flush() {
  if (pending_.empty()) return std::nullopt;
  const auto ec = file_->write(pending_);
  pending_.clear();
  if (ec) return io_error(ec);
  return std::nullopt;
}

std::optional<Error> FileSink::io_error(std::error_code ec) {
  failure_ = ec;
  file_->discard();
  return error_for(ec);
}

Error error_for(std::error_code ec) {
  if (ec == std::errc::no_space_on_device || ec == std::errc::file_too_large ||
      (ec.category() == std::system_category() && ec.value() == EDQUOT)) {
    return Error{ErrorCode::disk_full, "Disk full or allocation exceeded"};
  }
  if (ec == std::errc::file_exists) return Error{ErrorCode::file_exists, "File already exists"};
  if (ec == std::errc::permission_denied) return Error{ErrorCode::access_violation, "Access violation"};
  return Error{ErrorCode::not_defined, ec.message()};
}

}  // namespace tftp::fileio
