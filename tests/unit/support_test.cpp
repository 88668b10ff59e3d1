// The helpers every test group relies on (tests/support): a pattern that cannot hide a misplaced block, files
// that fail loudly, a temporary directory that goes away, a child process that reports how it ended.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_set>
#include <vector>

#include "support/child_process.hpp"
#include "support/files.hpp"
#include "support/pattern.hpp"
#include "support/raw_peer.hpp"
#include "support/temp_dir.hpp"

namespace tftp::test {
namespace {

using namespace std::chrono_literals;

TEST(Pattern, EveryViewGivesTheSameBytes) {
  const auto whole = pattern(10'000, 3);
  for (const std::uint64_t offset : {0U, 1U, 7U, 8U, 511U, 4097U}) {
    Bytes part(1000);
    fill_pattern(part, offset, 3);
    EXPECT_EQ(part, Bytes(whole.begin() + static_cast<std::ptrdiff_t>(offset),
                          whole.begin() + static_cast<std::ptrdiff_t>(offset + 1000)))
        << offset;
    EXPECT_EQ(pattern_at(offset, 3), whole[offset]) << offset;
  }
  EXPECT_EQ(pattern_text(100, 3), text_of(std::span(whole).first(100)));
}

TEST(Pattern, EveryByteValueOccursAndNoWordIsZero) {
  const auto bytes = pattern(4096);
  EXPECT_EQ(std::set<std::byte>(bytes.begin(), bytes.end()).size(), 256U);
  for (const std::uint32_t seed : {0U, 1U, 41U}) {
    const auto words = pattern(8 * 1024, seed);
    for (std::size_t i = 0; i < words.size(); i += 8) {
      EXPECT_FALSE(std::all_of(words.begin() + static_cast<std::ptrdiff_t>(i), words.begin() + static_cast<std::ptrdiff_t>(i + 8),
                               [](std::byte b) { return b == std::byte{0}; }))
          << "seed " << seed << " word " << i / 8;
    }
  }
}

// A block that arrives shifted (by a byte, a word or a block of any size), repeated, or from another seed's
// file is never equal to the block expected there.
TEST(Pattern, NoBlockEqualsAnotherBlockOrAnotherSeedsBlock) {
  for (const std::size_t block : {8U, 512U, 1428U}) {
    std::vector<std::string> files;
    for (const std::uint32_t seed : {0U, 1U, 2U}) files.push_back(pattern_text(block * 20 + 1, seed));
    std::unordered_set<std::string_view> seen;
    for (const std::string& file : files) {
      for (std::size_t offset = 0; offset + block <= file.size(); ++offset) seen.insert(std::string_view(file).substr(offset, block));
    }
    EXPECT_EQ(seen.size(), 3 * (block * 19 + 2)) << "block size " << block;  // every one distinct
  }
}

TEST(Files, WriteThenReadEveryByteAndCreateTheDirectories) {
  const TempDir dir;
  const auto bytes = pattern(70'000);
  write_file(dir / "a" / "b" / "f", bytes);
  EXPECT_EQ(read_file(dir / "a" / "b" / "f"), bytes);
  write_file(dir / "a" / "b" / "f", "shorter");
  EXPECT_EQ(read_text(dir / "a" / "b" / "f"), "shorter");
  write_file(dir / ".hidden", "");
  EXPECT_EQ(read_text(dir / ".hidden"), "");
  EXPECT_EQ(list_dir(dir.path()), (std::vector<std::string>{".hidden", "a"}));
}

TEST(Files, WhatCannotBeReadOrWrittenThrows) {
  const TempDir dir;
  EXPECT_THROW(read_file(dir / "missing"), std::runtime_error);
  write_file(dir / "file", "x");
  EXPECT_THROW(write_file(dir / "file" / "below", "y"), std::exception);  // a file is no directory
}

TEST(TempDir, IsPrivateAndGoesAwayWithEverythingInIt) {
  std::filesystem::path kept;
  {
    const TempDir dir;
    kept = dir.path();
    struct stat st {};
    ASSERT_EQ(::stat(kept.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777U, 0700U);
    write_file(dir / "sub" / "f", "x");
  }
  EXPECT_FALSE(std::filesystem::exists(kept));
}

std::string shell() { return "/bin/sh"; }

TEST(ChildProcess, ReportsTheExitStatusAndWhatItPrinted) {
  ChildProcess child(Spawn{.argv = {shell(), "-c", "echo one; echo two; echo oops >&2; exit 3"},
                           .out = Stdio::pipe,
                           .err = Stdio::pipe});
  EXPECT_EQ(child.line(), "one");
  EXPECT_EQ(child.wait(), 3);
  EXPECT_EQ(child.line(), "two");
  EXPECT_EQ(child.line(), std::nullopt);
  EXPECT_EQ(child.errors(), "oops\n");
}

TEST(ChildProcess, ASignalIsReportedAs128PlusItsNumber) {
  ChildProcess child(Spawn{.argv = {shell(), "-c", "kill -TERM $$"}});
  EXPECT_EQ(child.wait(), 128 + SIGTERM);
}

TEST(ChildProcess, WaitIsBoundedAndStdinCanBeClosed) {
  ChildProcess cat(Spawn{.argv = {"/bin/cat"}, .in = Stdio::pipe, .out = Stdio::pipe});
  cat.write("echoed\n");
  EXPECT_EQ(cat.line(), "echoed");
  EXPECT_EQ(cat.wait(50ms), std::nullopt);  // still reading its stdin
  cat.close_stdin();
  EXPECT_EQ(cat.wait(), 0);
}

TEST(ChildProcess, AProgramThatCannotRunThrows) {
  EXPECT_THROW(ChildProcess(Spawn{.argv = {"/nonexistent/program"}}), std::system_error);
  EXPECT_THROW(ChildProcess(Spawn{.argv = {shell(), "-c", "true"}, .directory = "/nonexistent/dir"}), std::system_error);
}

TEST(ChildProcess, RunsInItsDirectoryWithASocketPassedTheSystemdWay) {
  const TempDir dir;
  const RawPeer socket;
  ChildProcess child(Spawn{.argv = {shell(), "-c", "pwd; echo $LISTEN_FDS $LISTEN_PID $$; readlink /proc/self/fd/3"},
                           .out = Stdio::pipe,
                           .directory = dir.path(),
                           .listen_fd = socket.fd()});
  EXPECT_EQ(child.line(), std::filesystem::canonical(dir.path()).string());
  EXPECT_EQ(child.line(), "1 " + std::to_string(child.pid()) + " " + std::to_string(child.pid()));
  const auto fd3 = child.line();
  ASSERT_TRUE(fd3);
  EXPECT_TRUE(fd3->starts_with("socket:[")) << *fd3;
  EXPECT_EQ(child.wait(), 0);
}

}  // namespace
}  // namespace tftp::test
