// The server's command-line value forms and its log lines.
#include <gtest/gtest.h>

#include <chrono>

#include "tftp/server/config.hpp"
#include "tftp/server/log.hpp"

namespace tftp::server {
namespace {

TEST(ListenAddress, ParsesTheDocumentedForms) {
  EXPECT_EQ(parse_listen_address("127.0.0.1:6969"), (ListenAddress{"127.0.0.1", 6969}));
  EXPECT_EQ(parse_listen_address("[::1]:6969"), (ListenAddress{"::1", 6969}));
  EXPECT_EQ(parse_listen_address("[fe80::1%lo]:69"), (ListenAddress{"fe80::1%lo", 69}));
  EXPECT_EQ(parse_listen_address(":6969"), (ListenAddress{"", 6969}));
  EXPECT_EQ(parse_listen_address("0.0.0.0:0"), (ListenAddress{"0.0.0.0", 0}));
  for (const char* bad : {"", "6969", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "::1:69",
                          "[::1]", "[::1]69", "[]:69", "[::1:69", "h:6x", "h:+69", "h:000000069"}) {
    EXPECT_FALSE(parse_listen_address(bad)) << bad;
  }
}

TEST(PortRange, NeedsOrderedNonZeroPorts) {
  EXPECT_EQ(parse_port_range("40000:40100"), (PortRange{40000, 40100}));
  EXPECT_EQ(parse_port_range("5:5"), (PortRange{5, 5}));
  for (const char* bad : {"", "1", "0:10", "10:9", "1:65536", ":", "1:", ":2", "a:b", "1-2"}) {
    EXPECT_FALSE(parse_port_range(bad)) << bad;
  }
}

TEST(Size, TakesBinaryMultiples) {
  EXPECT_EQ(parse_size("0"), 0U);
  EXPECT_EQ(parse_size("4096"), 4096U);
  EXPECT_EQ(parse_size("512K"), 512U << 10);
  EXPECT_EQ(parse_size("10M"), 10U << 20);
  EXPECT_EQ(parse_size("10m"), 10U << 20);
  EXPECT_EQ(parse_size("2G"), std::uint64_t{2} << 30);
  EXPECT_EQ(parse_size("2GB"), std::uint64_t{2} << 30);
  EXPECT_EQ(parse_size("2GiB"), std::uint64_t{2} << 30);
  EXPECT_EQ(parse_size("1T"), std::uint64_t{1} << 40);
  EXPECT_EQ(parse_size("100B"), 100U);
  for (const char* bad : {"", "M", "-1", "1.5M", "10X", "10MM", "5iB", " 5", "5 ", "99999999999999999999T"}) {
    EXPECT_FALSE(parse_size(bad)) << bad;
  }
  EXPECT_FALSE(parse_size("16777216T"));  // 2^64: overflows
}

TEST(Umask, IsOctal) {
  EXPECT_EQ(parse_umask("022"), 022U);
  EXPECT_EQ(parse_umask("0"), 0U);
  EXPECT_EQ(parse_umask("0777"), 0777U);
  EXPECT_EQ(parse_umask("7"), 7U);
  for (const char* bad : {"", "8", "0888", "1000", "00000", "abc", "-1"}) EXPECT_FALSE(parse_umask(bad)) << bad;
}

TEST(Escape, KeepsLinesSingleAndAscii) {
  EXPECT_EQ(escape_string("plain/name.bin"), "plain/name.bin");
  EXPECT_EQ(escape_string("a\"b\\c"), "a\\\"b\\\\c");
  EXPECT_EQ(escape_string("x\ny\r\t\x01\x7f"), "x\\ny\\r\\t\\u0001\\u007f");
  EXPECT_EQ(escape_string("caf\xc3\xa9"), "caf\\u00c3\\u00a9");
}

const auto fixed_time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000123));

TransferLine record() {
  return TransferLine{.client = "127.0.0.1:5000",
                        .file = "dir/a b\"c",
                        .direction = Direction::read,
                        .bytes = 2048,
                        .elapsed = std::chrono::milliseconds(500),
                        .block_size = 1428,
                        .window_size = 8,
                        .result = "ok",
                        .ok = true};
}

TEST(LogLine, TransferAsText) {
  EXPECT_EQ(format_log_line(transfer_event(record()), LogFormat::text, fixed_time),
            "2023-11-14T22:13:20.123Z info transfer client=127.0.0.1:5000 file=\"dir/a b\\\"c\" direction=read "
            "bytes=2048 seconds=0.500 bytes_per_second=4096 blksize=1428 windowsize=8 retransmissions=0 timeouts=0 "
            "duplicates=0 result=ok");
}

TEST(LogLine, TransferAsJson) {
  auto failed = record();
  failed.ok = false;
  failed.result = "timed out";
  failed.direction = Direction::write;
  EXPECT_EQ(format_log_line(transfer_event(failed), LogFormat::json, fixed_time),
            R"({"time":"2023-11-14T22:13:20.123Z","level":"warning","event":"transfer","client":"127.0.0.1:5000",)"
            R"("file":"dir/a b\"c","direction":"write","bytes":2048,"seconds":0.500,"bytes_per_second":4096,)"
            R"("blksize":1428,"windowsize":8,"retransmissions":0,"timeouts":0,"duplicates":0,"result":"timed out"})");
}

TEST(ServerLog, FiltersByVerbosity) {
  const LogEvent info{LogLevel::info, "x", {}};
  const LogEvent warning{LogLevel::warning, "y", {}};
  const LogEvent debug{LogLevel::debug, "z", {}};
  struct Case {
    Verbosity verbosity;
    std::vector<LogEvent> written;
    std::string shown;  // the one line that comes out, after its time (UTC, ISO 8601, ending in Z)
  };
  for (const Case& c : {Case{Verbosity::quiet, {info, debug, warning}, "Z warning y"},
                        Case{Verbosity::normal, {info, debug}, "Z info x"},
                        Case{Verbosity::verbose, {debug}, "Z debug z"}}) {
    std::vector<std::string> lines;
    ServerLog log(LogFormat::text, c.verbosity, [&](std::string_view line) { lines.emplace_back(line); });
    for (const auto& event : c.written) log.write(event);
    ASSERT_EQ(lines.size(), 1U) << c.shown;
    EXPECT_TRUE(lines[0].ends_with(c.shown)) << lines[0];
  }
}

}  // namespace
}  // namespace tftp::server
