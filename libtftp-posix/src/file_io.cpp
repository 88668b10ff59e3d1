// Block reads and atomic writes for the drivers (see file_io.hpp).
#include "tftp/posix/file_io.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <random>

namespace tftp::posix {
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

constexpr std::string_view temp_marker = ".tftp-";
constexpr std::size_t temp_random = 12;
constexpr std::string_view temp_alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

// ".name.tftp-XXXXXXXXXXXX" with a random suffix, kept within NAME_MAX.
std::string temp_name_for(const std::string& name, std::mt19937_64& random) {
  constexpr std::size_t name_max = 255;
  constexpr std::size_t overhead = 1 + temp_marker.size() + temp_random;
  std::string temp = "." + name.substr(0, name_max - overhead) + std::string(temp_marker);
  for (std::size_t i = 0; i < temp_random; ++i) temp += temp_alphabet[random() % temp_alphabet.size()];
  return temp;
}

// Linking an O_TMPFILE file into place goes through /proc/self/fd (linkat with AT_EMPTY_PATH needs
// CAP_DAC_READ_SEARCH): without /proc, named temporary files.
bool can_link_anonymous_files() { return ::access("/proc/self/fd", X_OK) == 0; }

std::string proc_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

}  // namespace


// ---- FileSource ----------------------------------------------------------------------------------

FileSource::FileSource(UniqueFd file, Mode mode)
    : FileSource(std::make_shared<const UniqueFd>(std::move(file)), mode) {}

FileSource::FileSource(std::shared_ptr<const UniqueFd> file, Mode mode) : file_(std::move(file)), mode_(mode) {
  struct stat st {};
  if (::fstat(file_->get(), &st) == 0) file_size_ = static_cast<std::uint64_t>(st.st_size);
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
    const ssize_t n = pread_full(file_->get(), buffer, offset);
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
    const ssize_t n = pread_full(file_->get(), out, offset);
    if (n < 0) return read_error(last_error());
    return static_cast<std::size_t>(n);
  }
  const std::size_t chunk_size = read_ahead_bytes / out.size() * out.size();  // whole blocks
  const std::uint64_t chunk_offset = offset / chunk_size * chunk_size;
  if (chunk_.size() != chunk_size || chunk_offset_ != chunk_offset) {
    chunk_.resize(chunk_size);
    chunk_bytes_ = 0;  // invalid until the read below succeeds
    const ssize_t n = pread_full(file_->get(), chunk_, chunk_offset);
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
    const ssize_t n = pread_full(file_->get(), std::span(scratch_).first(room.size()), at.offset);
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
  // A file without a name until commit links it in: a process killed meanwhile leaves nothing behind.
  if (can_link_anonymous_files()) {
    const int fd = ::openat(dir, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (fd >= 0) {
      file.file_ = UniqueFd(fd);
      file.anonymous_ = true;
      return file;
    }
    // A file system or kernel without O_TMPFILE (EOPNOTSUPP, EISDIR): a named temporary file instead.
  }
  const int fd = file.create_named_temp(
      [dir](const std::string& temp) {
        return ::openat(dir, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
      },
      ec);
  if (fd >= 0) file.file_ = UniqueFd(fd);
  return file;
}

template <class MakeName>
int AtomicFile::create_named_temp(MakeName&& make, std::error_code& ec) {
  std::mt19937_64 random(std::random_device{}());
  for (int attempt = 0; attempt < 16; ++attempt) {
    std::string temp = temp_name_for(name_, random);
    const int fd = make(temp);
    if (fd >= 0) {
      temp_ = std::move(temp);
      return fd;
    }
    if (errno != EEXIST) {
      ec = last_error();
      return -1;
    }
  }
  ec = std::make_error_code(std::errc::file_exists);
  return -1;
}

bool is_stale_temp_name(std::string_view name) noexcept {
  if (name.size() < 1 + 1 + temp_marker.size() + temp_random || name.front() != '.') return false;
  const auto random = name.substr(name.size() - temp_random);
  if (name.substr(name.size() - temp_random - temp_marker.size(), temp_marker.size()) != temp_marker) return false;
  return random.find_first_not_of(temp_alphabet) == std::string_view::npos;
}

namespace {

// Depth-first beneath dir (never through a symlink), bounded in depth and in entries looked at.
void remove_stale_beneath(int dir, unsigned depth, std::size_t& budget, std::size_t& removed) {
  // A descriptor of its own to list (dir may be an O_PATH descriptor, which cannot be read).
  const int readable = ::openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (readable < 0) return;
  DIR* listing = ::fdopendir(readable);
  if (listing == nullptr) {
    ::close(readable);
    return;
  }
  while (budget > 0) {
    const dirent* entry = ::readdir(listing);
    if (entry == nullptr) break;
    --budget;
    const std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (::fstatat(dir, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISREG(st.st_mode) && is_stale_temp_name(name)) {
      if (::unlinkat(dir, entry->d_name, 0) == 0) ++removed;
    } else if (S_ISDIR(st.st_mode) && depth > 0) {
      const UniqueFd child(::openat(dir, entry->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (child) remove_stale_beneath(child.get(), depth - 1, budget, removed);
    }
  }
  ::closedir(listing);
}

}  // namespace

std::size_t remove_stale_temporaries(int dir) {
  std::size_t budget = 1'000'000;
  std::size_t removed = 0;
  remove_stale_beneath(dir, 32, budget, removed);
  return removed;
}

AtomicFile AtomicFile::create(const std::string& path, Options options, std::error_code& ec) {
  const auto slash = path.rfind('/');
  const std::string dir_path = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  UniqueFd dir(::open(dir_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
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
      anonymous_(other.anonymous_),
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

// One writev; whatever a short write left goes out with plain writes.
std::error_code AtomicFile::write(std::span<const std::span<const std::byte>> pieces) {
  std::vector<iovec> vectors;
  vectors.reserve(pieces.size());
  for (const auto& piece : pieces) vectors.push_back(iovec{const_cast<std::byte*>(piece.data()), piece.size()});
  const auto count = static_cast<int>(std::min<std::size_t>(vectors.size(), IOV_MAX));
  ssize_t n = 0;
  do {
    n = ::writev(file_.get(), vectors.data(), count);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return last_error();
  auto done = static_cast<std::size_t>(n);
  for (const auto& piece : pieces) {
    const std::size_t skip = std::min(done, piece.size());
    done -= skip;
    if (const auto ec = write(piece.subspan(skip))) return ec;
  }
  return {};
}

std::error_code AtomicFile::commit() {
  if (committed_ || !file_) return std::make_error_code(std::errc::bad_file_descriptor);
  if (::fchmod(file_.get(), options_.mode) != 0) return last_error();
  if (options_.sync && ::fsync(file_.get()) != 0) return last_error();
  if (anonymous_) {
    if (const auto ec = link_anonymous()) return ec;
  } else if (const auto ec = rename_into_place()) {
    return ec;
  }
  committed_ = true;
  file_ = UniqueFd();
  if (options_.sync) ::fsync(dir_);
  return {};
}

// The anonymous file gets its name: at once where nothing may be replaced (linkat fails if the name
// exists), else under a temporary name first, renamed over the destination.
std::error_code AtomicFile::link_anonymous() {
  const std::string self = proc_path(file_.get());
  if (!options_.overwrite) {
    if (::linkat(AT_FDCWD, self.c_str(), dir_, name_.c_str(), AT_SYMLINK_FOLLOW) != 0) return last_error();
    return {};
  }
  std::error_code ec;
  const int linked = create_named_temp(
      [&](const std::string& temp) {
        return ::linkat(AT_FDCWD, self.c_str(), dir_, temp.c_str(), AT_SYMLINK_FOLLOW) == 0 ? 0 : -1;
      },
      ec);
  if (linked < 0) return ec;
  return rename_into_place();  // on failure discard() unlinks the temporary name
}

std::error_code AtomicFile::rename_into_place() {
  if (options_.overwrite) {
    if (::renameat(dir_, temp_.c_str(), dir_, name_.c_str()) != 0) return last_error();
  } else if (::renameat2(dir_, temp_.c_str(), dir_, name_.c_str(), RENAME_NOREPLACE) != 0) {
    if (errno != EINVAL) return last_error();
    // A file system without RENAME_NOREPLACE: a hard link fails the same way if the name exists.
    if (::linkat(dir_, temp_.c_str(), dir_, name_.c_str(), 0) != 0) return last_error();
    ::unlinkat(dir_, temp_.c_str(), 0);
  }
  temp_.clear();
  return {};
}

void AtomicFile::discard() noexcept {
  if (committed_) return;
  if (!temp_.empty()) ::unlinkat(dir_, temp_.c_str(), 0);
  file_ = UniqueFd();  // an anonymous file goes with its descriptor
  committed_ = true;
}

// ---- FileSink ------------------------------------------------------------------------------------

FileSink::FileSink(AtomicFile& file, Mode mode, std::optional<std::uint64_t> limit)
    : file_(&file), mode_(mode), limit_(limit) {}

std::optional<Error> FileSink::write_block(std::uint64_t, std::span<const std::byte> bytes) {
  // Beyond the limit a block is refused now, as unheld.
  const bool hold = mode_ == Mode::octet && hold_ && bytes.size() >= small_block &&
                    !(limit_ && written_ + bytes.size() > *limit_);
  if (!hold || !keep_) {
    if (auto error = write_held()) return error;
  }
  if (hold) {
    if (auto error = flush()) return error;
    written_ += bytes.size();
    held_.push_back(bytes);
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
  held_.clear();
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
    return Error{ErrorCode::disk_full, "File exceeds the size limit of " + std::to_string(*limit_) + " bytes"};
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

}  // namespace tftp::posix
