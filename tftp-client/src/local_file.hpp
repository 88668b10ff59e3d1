#pragma once
// The local end of a client transfer, opened before any packet is sent so that a local problem is
// reported as such (Exit::local_error) and never after the server started sending.
//
// "-" is stdout for a get and stdin for a put. Both are staged in a temporary file: a get copies to stdout
// only after the whole file arrived (a failed get writes nothing); a put reads stdin to its end first, since
// tsize is announced in the WRQ and a retransmission reads a block again.

#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include "tftp/posix/file_io.hpp"

namespace tftp::client::detail {

inline constexpr std::string_view stdio_name = "-";

// Where a get writes: a temporary file beside LOCAL, renamed onto it by the sink's finish().
class Download {
 public:
  // limit: the most bytes kept; more ends the transfer with ERROR 3 (failure() is file_too_large).
  static std::unique_ptr<Download> open(const std::string& local, Mode mode, std::optional<std::uint64_t> limit,
                                        std::error_code& ec);
  Download(const Download&) = delete;
  Download& operator=(const Download&) = delete;
  ~Download();

  posix::FileSink& sink() { return *sink_; }
  std::uint64_t written() const { return sink_->written(); }
  std::error_code failure() const { return sink_->failure(); }
  // After the transfer completed: stdout gets the bytes now; a file is already in place.
  std::error_code deliver();

 private:
  Download() = default;

  std::string stage_dir_;  // stdout only: a private directory for the staged file
  std::string stage_path_;
  std::optional<posix::AtomicFile> file_;
  std::optional<posix::FileSink> sink_;
};

// What a put sends: LOCAL (a regular file) or stdin staged in an unlinked temporary file. With count_size,
// netascii is read once to learn its encoded size for tsize.
std::unique_ptr<posix::FileSource> open_upload(const std::string& local, Mode mode, bool count_size,
                                                std::error_code& ec);

}  // namespace tftp::client::detail
