// What tftp-client --stats and --json print about a transfer, without sockets.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "tftp/client/summary.hpp"

namespace tftp::client {
namespace {

using namespace std::chrono_literals;

Report transferred() {
  Report outcome;
  outcome.bytes = 1048576;
  outcome.elapsed = 500ms;
  outcome.negotiated.block_size = 1428;
  outcome.negotiated.window_size = 8;
  outcome.negotiated.tsize = 1048576;
  outcome.counters.retransmissions = 3;
  outcome.counters.timeouts = 1;
  outcome.counters.duplicates = 2;
  outcome.round_trip = std::chrono::microseconds(210);
  return outcome;
}

const Target target{HostPort{"192.0.2.1", 69}, "boot/pxelinux.0", "pxelinux.0", std::nullopt};

TEST(Summary, StatsLineForPeople) {
  EXPECT_EQ(stats_line(Operation::get, transferred()),
            "got 1048576 bytes in 0.500 s (2.0 MiB/s), blksize 1428, windowsize 8, 3 retransmissions, 1 timeouts, "
            "2 duplicates, round trip 0.210 ms");
  auto plain = transferred();
  plain.round_trip.reset();
  EXPECT_EQ(stats_line(Operation::put, plain),
            "put 1048576 bytes in 0.500 s (2.0 MiB/s), blksize 1428, windowsize 8, 3 retransmissions, 1 timeouts, "
            "2 duplicates");
}

TEST(Summary, JsonLineForScripts) {
  EXPECT_EQ(json_summary(Operation::get, target, transferred()),
            R"({"operation":"get","server":"192.0.2.1:69","remote":"boot/pxelinux.0","local":"pxelinux.0",)"
            R"("exit":0,"result":"ok","bytes":1048576,"seconds":0.5,"blksize":1428,"windowsize":8,"tsize":1048576,)"
            R"("retransmissions":3,"timeouts":1,"duplicates":2,"srtt_ms":0.21})");
}

// A failed run is summarised too; what the server said and a name that is not UTF-8 stay one valid line.
TEST(Summary, JsonOfAFailureEscapesWhatTheServerSent) {
  Report failed;
  failed.exit = Exit::server_error;
  failed.message = "server error 1: \"gone\"\n\x1b[2J";
  const Target odd{HostPort{"::1", 6969}, "caf\xe9", "-", std::nullopt};
  EXPECT_EQ(json_summary(Operation::get, odd, failed),
            R"({"operation":"get","server":"[::1]:6969","remote":"caf\ufffd","local":"-","exit":1,)"
            R"("result":"server error 1: \"gone\"\n\u001b[2J","bytes":0,"seconds":0.0,"blksize":512,"windowsize":1,)"
            R"("retransmissions":0,"timeouts":0,"duplicates":0})");
}

}  // namespace
}  // namespace tftp::client
