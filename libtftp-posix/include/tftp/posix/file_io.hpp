#pragma once
// Files as the transfer machines see them: a FileSource reads blocks of an open file (octet: pread at the
// block's offset; netascii: encoded on the fly, with a checkpoint per unacknowledged block so that a
// retransmission reproduces the same bytes), and an AtomicFile + FileSink write a received file into a
// temporary file beside its destination that is renamed into place only when the transfer completed.
// Whatever fails, the destination is untouched and the temporary file is removed.
//
// POSIX only (pread, openat, renameat, linkat). No Asio here: the drivers call these from their handlers;
// with regular files on a local disk a pread/pwrite does not block for long.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "tftp/netascii.hpp"
#include "tftp/posix/unique_fd.hpp"
#include "tftp/packet.hpp"
#include "tftp/transfer.hpp"

namespace tftp::posix {

// Reads a file by block for a Sender. Octet reads straight into the datagram at index * block size; blocks
// under 8 KiB come from a read-ahead chunk of about 16 KiB (one pread per chunk, not per block: at 512 bytes
// a third fewer system calls per block on the server; a retransmission inside the chunk reads nothing).
// Netascii keeps, for every block from the first unacknowledged one on, the file offset and encoder state at
// its start; release() drops the acknowledged ones, so memory is bounded by the window.
class FileSource final : public BlockSource {
 public:
  FileSource(UniqueFd file, Mode mode);
  // Over a descriptor other sources may read too (pread keeps no offset): a boot storm's thousands of
  // sessions of one file hold one descriptor, not thousands.
  FileSource(std::shared_ptr<const UniqueFd> file, Mode mode);

  // The size to announce as tsize: the file size for octet, the encoded size for netascii when
  // count_netascii was called (otherwise none: the wire size is unknown until the file was read once).
  std::optional<std::uint64_t> tsize() const noexcept { return tsize_; }
  // The file's size on disk (fstat when opened), whatever the mode.
  std::optional<std::uint64_t> file_size() const noexcept { return file_size_; }
  // Reads the whole file once to learn its netascii size (a client put announces it; a server may).
  std::error_code count_netascii();

  BlockRead read_block(std::uint64_t index, std::span<std::byte> out) override;
  void release(std::uint64_t first_unacknowledged) override;

 private:
  struct Checkpoint {
    std::uint64_t offset = 0;  // file offset of the first byte not yet consumed
    netascii::Encoder encoder;
  };
  BlockRead read_octet(std::uint64_t index, std::span<std::byte> out);
  BlockRead read_netascii(std::uint64_t index, std::span<std::byte> out);

  std::shared_ptr<const UniqueFd> file_;
  Mode mode_;
  std::optional<std::uint64_t> tsize_;
  std::optional<std::uint64_t> file_size_;
  std::vector<std::byte> chunk_;     // octet read-ahead; empty for large blocks
  std::uint64_t chunk_offset_ = 0;   // file offset of chunk_'s first byte
  std::size_t chunk_bytes_ = 0;      // bytes of chunk_ read (less at the end of the file)
  std::uint64_t first_checkpoint_ = 0;  // block index of checkpoints_.front()
  std::deque<Checkpoint> checkpoints_;  // netascii: the start of blocks first_checkpoint_, +1, ...
  std::vector<std::byte> scratch_;
};

// A file being received: a temporary file in the destination's directory ("." + name + ".XXXXXX", mode
// 0600 until committed), renamed onto the destination by commit(). The destructor removes the
// temporary file unless committed.
class AtomicFile {
 public:
  struct Options {
    bool overwrite = true;  // false: commit fails with EEXIST if the destination appeared meanwhile
    mode_t mode = 0644;     // the permissions the committed file gets (before nothing: the umask is not applied)
    bool sync = false;      // fsync the file before the rename (and the directory after)
  };

  // dir: an open directory (owned by the caller, kept open while this lives); name: a single path component.
  static AtomicFile create(int dir, std::string name, Options options, std::error_code& ec);
  // Convenience for a path (the client): opens the path's directory itself.
  static AtomicFile create(const std::string& path, Options options, std::error_code& ec);

  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  int fd() const noexcept { return file_.get(); }
  // The temporary file's name beside the destination; empty while it has none (O_TMPFILE: the file
  // gets a name only when committed, so a process killed meanwhile leaves nothing).
  const std::string& temp_name() const noexcept { return temp_; }
  std::error_code write(std::span<const std::byte> bytes);  // appends, retrying short writes
  std::error_code write(std::span<const std::span<const std::byte>> pieces);  // the same, with one writev
  std::error_code commit();
  // Removes the temporary file now (also done by the destructor).
  void discard() noexcept;

 private:
  AtomicFile() = default;

  template <class MakeName>
  int create_named_temp(MakeName&& make, std::error_code& ec);
  std::error_code link_anonymous();
  std::error_code rename_into_place();

  UniqueFd owned_dir_;  // only for the path form
  int dir_ = -1;
  std::string name_;
  std::string temp_;
  UniqueFd file_;
  Options options_;
  bool anonymous_ = false;  // O_TMPFILE: no name until commit
  bool committed_ = false;
};

// Whether a name is one of AtomicFile's temporary names (".NAME.tftp-" and 12 letters or digits).
bool is_stale_temp_name(std::string_view name) noexcept;
// Removes AtomicFile's temporary files left beneath dir by a process that was killed while writing (where
// O_TMPFILE could not be used, or between linking and renaming): never through a symlink, at most 32
// levels and a million entries. Returns how many were removed.
std::size_t remove_stale_temporaries(int dir);

// Writes received blocks into an AtomicFile, decoding netascii, failing with ERROR 3 beyond `limit`
// bytes (the server's --max-upload) or when the disk is full. finish() commits. Blocks under 8 KiB are
// gathered into 32 KiB writes (a write per 512-byte block was a quarter of the client's system calls); a
// write error then shows up to 32 KiB late, which only moves the failure a few blocks.
class FileSink final : public BlockSink {
 public:
  FileSink(AtomicFile& file, Mode mode, std::optional<std::uint64_t> limit = std::nullopt);

  std::optional<Error> write_block(std::uint64_t index, std::span<const std::byte> bytes) override;
  std::optional<Error> finish() override;

  // Write-behind for large octet blocks (tftpd-hpa does the same): write_block only holds the block (its
  // bytes are not copied and must stay valid until it is written), and write_held() writes it once the ACK
  // is out (the Receiver calls after_transmit), so the write overlaps the peer's next DATA. The next
  // write_block and finish() write a held block first. A failure then shows in write_held(): ERROR 3 or 0,
  // after the ACK of that block, which only moves the failure a few blocks.
  void hold_large_blocks(bool on) noexcept { hold_ = on; }
  // For a driver that reads several datagrams at once: while on, held blocks accumulate and after_transmit
  // keeps them, so that the ACK of the last one goes out before any is written. Once it is turned off, the
  // next after_transmit (poll_transmit drained again) writes them all with one writev; their buffers must
  // not be reused before.
  void keep_held(bool on) noexcept { keep_ = on; }
  std::optional<Error> write_held();
  std::optional<Error> after_transmit() override { return keep_ ? std::nullopt : write_held(); }

  std::uint64_t written() const noexcept { return written_; }
  // The local error behind a failure (for logs), if any.
  std::error_code failure() const noexcept { return failure_; }

 private:
  std::optional<Error> write(std::span<const std::byte> bytes);
  std::optional<Error> flush();
  std::optional<Error> io_error(std::error_code ec);

  AtomicFile* file_;
  Mode mode_;
  std::optional<std::uint64_t> limit_;
  netascii::Decoder decoder_;
  std::vector<std::byte> decoded_;
  std::vector<std::byte> pending_;  // accepted bytes not yet written (reserved once, on the first small block)
  bool hold_ = false;
  bool keep_ = false;
  std::vector<std::span<const std::byte>> held_;  // large blocks accepted and not yet written, in order
  std::uint64_t written_ = 0;
  std::error_code failure_;
};

// ERROR 3 "Disk full or allocation exceeded" for ENOSPC/EDQUOT/EFBIG, ERROR 0 with the reason otherwise.
Error error_for(std::error_code ec);

}  // namespace tftp::posix
