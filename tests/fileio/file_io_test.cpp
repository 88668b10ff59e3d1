// FileSource, AtomicFile and FileSink on real files: block reads (octet and netascii, re-reads for
// retransmissions), atomic commit, and that every failure leaves the destination untouched and no
// temporary file behind.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "support/bytes.hpp"
#include "support/file_size_limit.hpp"
#include "support/files.hpp"
#include "support/pattern.hpp"
#include "support/temp_dir.hpp"
#include "tftp/posix/file_io.hpp"
#include "tftp/posix/shared_files.hpp"

namespace tftp::posix {
namespace {

namespace fs = std::filesystem;

using test::byte_view;
using test::pattern_text;
using test::text_of;

class FileIoTest : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  void write(const std::string& name, const std::string& content) const { test::write_file(path(name), content); }
  std::string read(const std::string& name) const { return test::read_text(path(name)); }
  UniqueFd open_read(const std::string& name) const { return UniqueFd(::open(path(name).c_str(), O_RDONLY | O_CLOEXEC)); }
  std::vector<std::string> entries() const { return test::list_dir(dir_.path()); }

  test::TempDir dir_;
};

std::string read_block(FileSource& source, std::uint64_t index, std::size_t block_size) {
  std::vector<std::byte> out(block_size);
  const auto read = source.read_block(index, out);
  EXPECT_TRUE(std::holds_alternative<std::size_t>(read));
  return text_of(std::span(out).first(std::get<std::size_t>(read)));
}

TEST_F(FileIoTest, OctetSourceReadsBlocksAtTheirOffsets) {
  write("f", "0123456789abcdefXYZ");
  FileSource source(open_read("f"), Mode::octet);
  EXPECT_EQ(source.tsize(), 19U);
  EXPECT_EQ(read_block(source, 1, 8), "89abcdef");
  EXPECT_EQ(read_block(source, 0, 8), "01234567");
  EXPECT_EQ(read_block(source, 2, 8), "XYZ");
  EXPECT_EQ(read_block(source, 3, 8), "");
}

TEST_F(FileIoTest, SmallBlocksComeFromTheReadAheadExactly) {
  // 512-byte blocks read ahead 32 at a time (16 KiB): forward, back into an older chunk (a window
  // retransmitted), the partial last block, past the end; and 1468-byte blocks, whose chunks hold 11.
  const std::string content = pattern_text(3 * 16384 + 700);
  write("f", content);
  FileSource source(open_read("f"), Mode::octet);
  for (const std::uint64_t i : {0U, 1U, 31U, 32U, 33U, 5U, 63U, 64U, 95U, 96U, 97U, 2U}) {
    const std::size_t offset = static_cast<std::size_t>(i) * 512;
    EXPECT_EQ(read_block(source, i, 512), offset < content.size() ? content.substr(offset, 512) : "") << i;
  }
  FileSource odd(open_read("f"), Mode::octet);
  for (std::uint64_t i = 0; i * 1468 <= content.size(); ++i) {
    EXPECT_EQ(read_block(odd, i, 1468), content.substr(static_cast<std::size_t>(i) * 1468, 1468)) << i;
  }
  EXPECT_EQ(read_block(odd, 10, 1468), content.substr(10 * 1468, 1468));  // back across a chunk boundary
}

TEST_F(FileIoTest, SinkGathersSmallBlocksInOrderAndLargeOnesPassThrough) {
  std::error_code ec;
  auto file = AtomicFile::create(path("dest"), {}, ec);
  ASSERT_FALSE(ec);
  FileSink sink(file, Mode::octet);
  const std::string content = pattern_text(100 * 512 + 9000 + 3 * 512 + 17);
  std::size_t at = 0;
  std::uint64_t index = 0;
  auto feed = [&](std::size_t size) {
    EXPECT_FALSE(sink.write_block(index++, byte_view(content.substr(at, size))));
    at += size;
  };
  for (int i = 0; i < 100; ++i) feed(512);  // more than one 32 KiB gather
  feed(9000);                               // a large block after gathered ones keeps the order
  for (int i = 0; i < 3; ++i) feed(512);
  feed(17);
  EXPECT_EQ(sink.written(), content.size());
  EXPECT_TRUE(entries().empty());  // the file has no name until it is committed (O_TMPFILE)
  EXPECT_FALSE(sink.finish());
  EXPECT_EQ(read("dest"), content);
  EXPECT_EQ(entries(), std::vector<std::string>{"dest"});
}

TEST_F(FileIoTest, HeldLargeBlocksAreWrittenAfterwardsInOrder) {
  std::error_code ec;
  auto file = AtomicFile::create(path("dest"), {}, ec);
  ASSERT_FALSE(ec);
  FileSink sink(file, Mode::octet);
  sink.hold_large_blocks(true);
  const std::string content = pattern_text(3 * 9000 + 512 + 100);
  const auto written = [&] {
    struct stat st {};
    ::fstat(file.fd(), &st);
    return static_cast<std::uintmax_t>(st.st_size);
  };
  // Held bytes are not copied: every block is a view into content, which outlives the sink's use of it.
  const auto slice = [&](std::size_t at, std::size_t size) { return byte_view(content).subspan(at, size); };
  EXPECT_FALSE(sink.write_block(0, slice(0, 9000)));
  EXPECT_EQ(written(), 0U);  // held: the driver writes it after sending the ACK
  EXPECT_FALSE(sink.write_held());
  EXPECT_EQ(written(), 9000U);
  EXPECT_FALSE(sink.write_held());  // nothing held: nothing written twice
  EXPECT_EQ(written(), 9000U);
  // Without write_held in between, the next block writes the held one first; small ones are gathered.
  EXPECT_FALSE(sink.write_block(1, slice(9000, 9000)));
  EXPECT_FALSE(sink.write_block(2, slice(18000, 9000)));
  EXPECT_EQ(written(), 18000U);
  EXPECT_FALSE(sink.write_block(3, slice(27000, 512)));
  EXPECT_FALSE(sink.write_block(4, slice(27512, 100)));
  EXPECT_EQ(sink.written(), content.size());
  EXPECT_FALSE(sink.finish());
  EXPECT_EQ(read("dest"), content);
}

TEST_F(FileIoTest, AFailedHeldWriteIsError3AndLeavesNothing) {
  // The file size limit stands in for a full disk: the write fails with EFBIG (SIGXFSZ ignored).
  std::error_code ec;
  auto file = AtomicFile::create(path("dest"), {}, ec);
  ASSERT_FALSE(ec);
  FileSink sink(file, Mode::octet);
  sink.hold_large_blocks(true);
  const std::string block = pattern_text(20000);
  std::optional<Error> accepted;
  std::optional<Error> failed;
  {
    test::FileSizeLimit limit(10000);
    ASSERT_TRUE(limit.active());
    accepted = sink.write_block(0, byte_view(block));
    failed = sink.write_held();
  }
  EXPECT_FALSE(accepted);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->code, ErrorCode::disk_full);
  EXPECT_TRUE(entries().empty());  // the temporary file is gone
}

// keep_held: a batch's blocks stay held through after_transmit until the driver turns it off; then one
// after_transmit writes them in order. A small block (the last) writes what is held first.
TEST_F(FileIoTest, KeptBlocksAreWrittenTogetherWhenTheBatchEnds) {
  std::error_code ec;
  auto file = AtomicFile::create(path("dest"), {}, ec);
  ASSERT_FALSE(ec);
  FileSink sink(file, Mode::octet);
  sink.hold_large_blocks(true);
  const std::string content = pattern_text(5 * 9000 + 100);
  const auto written = [&] {
    struct stat st {};
    ::fstat(file.fd(), &st);
    return static_cast<std::uintmax_t>(st.st_size);
  };
  const auto slice = [&](std::size_t at, std::size_t size) { return byte_view(content).subspan(at, size); };
  sink.keep_held(true);
  for (std::uint64_t i = 0; i < 3; ++i) {
    EXPECT_FALSE(sink.write_block(i, slice(i * 9000, 9000)));
    EXPECT_FALSE(sink.after_transmit());
  }
  EXPECT_EQ(written(), 0U);
  sink.keep_held(false);
  EXPECT_FALSE(sink.after_transmit());
  EXPECT_EQ(written(), 27000U);
  sink.keep_held(true);
  EXPECT_FALSE(sink.write_block(3, slice(27000, 9000)));
  EXPECT_FALSE(sink.write_block(4, slice(36000, 9000)));
  EXPECT_FALSE(sink.write_block(5, slice(45000, 100)));
  EXPECT_EQ(written(), 45000U);
  EXPECT_FALSE(sink.finish());
  EXPECT_EQ(read("dest"), content);
}

TEST_F(FileIoTest, AFailedWriteOfKeptBlocksIsError3AndLeavesNothing) {
  std::error_code ec;
  auto file = AtomicFile::create(path("dest"), {}, ec);
  ASSERT_FALSE(ec);
  FileSink sink(file, Mode::octet);
  sink.hold_large_blocks(true);
  sink.keep_held(true);
  const std::string block = pattern_text(9000);
  EXPECT_FALSE(sink.write_block(0, byte_view(block)));
  EXPECT_FALSE(sink.write_block(1, byte_view(block)));
  sink.keep_held(false);
  std::optional<Error> failed;
  {
    test::FileSizeLimit limit(10000);  // the writev stops short; the rest fails with EFBIG
    ASSERT_TRUE(limit.active());
    failed = sink.after_transmit();
  }
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->code, ErrorCode::disk_full);
  EXPECT_TRUE(entries().empty());
}

TEST_F(FileIoTest, NetasciiSourceEncodesAndRereadsTheSameBytes) {
  const std::string local = "line one\nline two\r\n\n\rend\r";
  const std::string expected("line one\r\nline two\r\0\r\n\r\n\r\0end\r\0", 31);
  write("t", local);
  FileSource source(open_read("t"), Mode::netascii);
  EXPECT_EQ(source.tsize(), std::nullopt);
  ASSERT_FALSE(source.count_netascii());
  EXPECT_EQ(source.tsize(), 31U);
  std::string all;
  for (std::uint64_t i = 0; i < 4; ++i) all += read_block(source, i, 8);
  EXPECT_EQ(all, expected);
  // A window goes back: blocks 1 and 2 again, byte for byte.
  EXPECT_EQ(read_block(source, 1, 8), expected.substr(8, 8));
  EXPECT_EQ(read_block(source, 2, 8), expected.substr(16, 8));
  source.release(3);
  EXPECT_EQ(read_block(source, 3, 8), expected.substr(24));
  EXPECT_EQ(read_block(source, 4, 8), "");

  // With 9-byte blocks block 1 starts between the CR and the LF of a pair; re-reading it starts there too.
  FileSource split(open_read("t"), Mode::netascii);
  EXPECT_EQ(read_block(split, 0, 9), "line one\r");
  EXPECT_EQ(read_block(split, 1, 9), "\nline two");
  EXPECT_EQ(read_block(split, 1, 9), "\nline two");
  EXPECT_EQ(read_block(split, 2, 9), expected.substr(18, 9));
}

TEST_F(FileIoTest, CommitRenamesIntoPlace) {
  write("dest", "old");
  std::error_code ec;
  auto file = AtomicFile::create(path("dest"), {}, ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_FALSE(file.write(byte_view("new content")));
  EXPECT_EQ(read("dest"), "old");  // untouched until the commit
  EXPECT_EQ(entries(), std::vector<std::string>{"dest"});  // the new file has no name yet (O_TMPFILE)
  EXPECT_TRUE(file.temp_name().empty());
  ASSERT_FALSE(file.commit());
  EXPECT_EQ(read("dest"), "new content");
  EXPECT_EQ(entries(), std::vector<std::string>{"dest"});
  EXPECT_EQ(fs::status(path("dest")).permissions(), fs::perms(0644));
}

// What a killed writer may leave where O_TMPFILE could not be used: removed at the server's start, and
// nothing else.
TEST_F(FileIoTest, StaleTemporariesAreRecognisedAndRemovedBeneathADirectory) {
  EXPECT_TRUE(is_stale_temp_name(".boot.img.tftp-AbCdEf123456"));
  EXPECT_FALSE(is_stale_temp_name("boot.img.tftp-AbCdEf123456"));   // not hidden
  EXPECT_FALSE(is_stale_temp_name(".boot.img.tftp-AbCdEf12345"));   // 11 characters
  EXPECT_FALSE(is_stale_temp_name(".boot.img.tftp-AbCdEf12345!"));  // not the alphabet
  EXPECT_FALSE(is_stale_temp_name(".tftp-AbCdEf123456"));           // no name before it
  write(".a.tftp-AbCdEf123456", "stale");
  write(".keep.tftp-short", "someone else's");
  fs::create_directories(dir_ / "sub" / "deeper");
  write("sub/deeper/.b.tftp-ZZZZZZ000000", "stale");
  fs::create_directory_symlink(dir_ / "sub", dir_ / "link");  // not followed: the file is counted once
  const UniqueFd dir(::open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  EXPECT_EQ(remove_stale_temporaries(dir.get()), 2U);
  EXPECT_EQ(entries(), (std::vector<std::string>{".keep.tftp-short", "link", "sub"}));
  EXPECT_TRUE(fs::is_empty(dir_ / "sub" / "deeper"));
}

TEST_F(FileIoTest, WithoutCommitNothingIsLeft) {
  write("dest", "old");
  {
    std::error_code ec;
    auto file = AtomicFile::create(path("dest"), {}, ec);
    ASSERT_FALSE(ec);
    ASSERT_FALSE(file.write(byte_view("partial")));
  }
  EXPECT_EQ(entries(), std::vector<std::string>{"dest"});
  EXPECT_EQ(read("dest"), "old");
  {
    std::error_code ec;
    auto file = AtomicFile::create(path("fresh"), {}, ec);
    ASSERT_FALSE(ec);
  }
  EXPECT_EQ(entries(), std::vector<std::string>{"dest"});
}

TEST_F(FileIoTest, NoOverwriteRefusesAnExistingName) {
  write("dest", "old");
  std::error_code ec;
  auto refused = AtomicFile::create(path("dest"), {.overwrite = false}, ec);
  EXPECT_EQ(ec, std::errc::file_exists);

  auto racing = AtomicFile::create(path("new"), {.overwrite = false}, ec);
  ASSERT_FALSE(ec);
  write("new", "appeared meanwhile");
  EXPECT_EQ(racing.commit(), std::errc::file_exists);
  racing.discard();
  EXPECT_EQ(read("new"), "appeared meanwhile");
  EXPECT_EQ(entries(), (std::vector<std::string>{"dest", "new"}));
}

TEST_F(FileIoTest, SinkDecodesNetasciiAndCommitsOnFinish) {
  std::error_code ec;
  auto file = AtomicFile::create(path("t"), {}, ec);
  ASSERT_FALSE(ec);
  FileSink sink(file, Mode::netascii);
  EXPECT_FALSE(sink.write_block(0, byte_view(std::string("a\r\nb\r", 5))));
  EXPECT_FALSE(sink.write_block(1, byte_view(std::string("\0c\r", 3))));
  EXPECT_FALSE(sink.finish());
  EXPECT_EQ(read("t"), "a\nb\rc\r");
  EXPECT_EQ(entries(), std::vector<std::string>{"t"});
}

TEST_F(FileIoTest, SinkBeyondTheLimitSendsError3AndLeavesNothing) {
  write("dest", "old");
  std::error_code ec;
  auto file = AtomicFile::create(path("dest"), {}, ec);
  ASSERT_FALSE(ec);
  FileSink sink(file, Mode::octet, 10);
  EXPECT_FALSE(sink.write_block(0, byte_view("12345678")));
  const auto error = sink.write_block(1, byte_view("901"));
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, ErrorCode::disk_full);
  EXPECT_EQ(sink.failure(), std::errc::file_too_large);
  EXPECT_EQ(entries(), std::vector<std::string>{"dest"});
  EXPECT_EQ(read("dest"), "old");
}

TEST(ErrorFor, MapsErrnoToTftpCodes) {
  EXPECT_EQ(error_for(std::make_error_code(std::errc::no_space_on_device)).code, ErrorCode::disk_full);
  EXPECT_EQ(error_for(std::make_error_code(std::errc::permission_denied)).code, ErrorCode::access_violation);
  EXPECT_EQ(error_for(std::make_error_code(std::errc::file_exists)).code, ErrorCode::file_exists);
  EXPECT_EQ(error_for(std::make_error_code(std::errc::io_error)).code, ErrorCode::not_defined);
}

// Readers of one file share one descriptor; a file renamed over is another inode with its own; once its
// readers are gone the next one opens afresh. Sources over the shared descriptor read their own offsets.
TEST_F(FileIoTest, ReadersOfOneFileShareOneDescriptor) {
  write("boot", pattern_text(5000));
  write("other", "x");
  SharedFiles files;
  auto first = files.share(open_read("boot"));
  UniqueFd again = open_read("boot");
  const int again_fd = again.get();
  auto second = files.share(std::move(again));
  EXPECT_EQ(first, second);
  EXPECT_EQ(::fcntl(again_fd, F_GETFD), -1);  // the second open was closed
  EXPECT_NE(files.share(open_read("other")), first);
  EXPECT_EQ(files.open_count(), 1U);  // "other" had no reader left

  FileSource a(first, Mode::octet);
  FileSource b(second, Mode::octet);
  std::string block(512, '\0');
  auto out = std::as_writable_bytes(std::span(block));
  ASSERT_EQ(std::get<std::size_t>(b.read_block(3, out)), 512U);
  EXPECT_EQ(block, pattern_text(5000).substr(3 * 512, 512));
  ASSERT_EQ(std::get<std::size_t>(a.read_block(0, out)), 512U);
  EXPECT_EQ(block, pattern_text(5000).substr(0, 512));

  write("boot.new", "replaced");
  fs::rename(path("boot.new"), path("boot"));
  auto replaced = files.share(open_read("boot"));
  EXPECT_NE(replaced, first);
  first.reset();
  second.reset();
  EXPECT_EQ(files.open_count(), 2U);  // the sources still read the replaced inode, the new reader the new one
}

}  // namespace
}  // namespace tftp::posix
