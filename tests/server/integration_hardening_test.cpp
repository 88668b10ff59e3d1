// Hardening (issue 18), shown by the attack failing: forged-source amplification through windows, slot
// pinning with the client's timeout option, per-/64 counting. A forged source is a socket bound to the
// victim's loopback address: the victim is whoever the server answers.
#include <gtest/gtest.h>

#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include <fstream>
#include <regex>
#include <string>

#include "netns.hpp"
#include "server_harness.hpp"

namespace tftp::test {
namespace {

using namespace std::chrono_literals;

struct Drawn {
  std::size_t datagrams = 0;
  std::size_t bytes = 0;
};

// Everything that reaches the victim until it has been quiet for `quiet`.
Drawn drawn(const RawPeer& victim, std::chrono::milliseconds quiet) {
  Drawn result;
  while (const auto datagram = victim.receive(quiet)) {
    ++result.datagrams;
    result.bytes += datagram->bytes.size();
  }
  return result;
}

class Amplification : public ::testing::TestWithParam<bool> {};  // single-port, or a 10-port range

// A forged RRQ asking for the largest blocks and window, and a forged ACK 0, both "from" the victim: the
// server sends the OACK, then a first window of at most 16 KiB (one block of 65464 here) three times, and
// gives up. Before: 385 datagrams, 25 MB.
TEST_P(Amplification, AForgedRequestAndAck0DrawOneSmallWindowThreeTimes) {
  auto config = test_config();
  config.timeout = 100ms;
  config.verbosity = server::Verbosity::normal;
  if (GetParam()) {
    config.single_port = true;
  } else {
    config.port_range = server::PortRange{46100, 46109};
  }
  ServerHarness server(config);
  write_file(server.root() / "big.iso", pattern(8 << 20, 41));
  server.start();
  RawPeer victim(RawPeer::Route{"127.0.0.5", "127.0.0.1"});
  victim.send(server.port(), Rrq{"big.iso", Mode::octet, {{"blksize", "65464"}, {"windowsize", "64"}}});
  const auto oack = victim.receive();
  ASSERT_TRUE(oack);
  ASSERT_TRUE(std::holds_alternative<Oack>(oack->packet()));
  victim.send(oack->port, Ack{0});  // the attacker's guess of the port was right
  const auto got = drawn(victim, 1500ms);
  EXPECT_EQ(got.datagrams, 3U);
  EXPECT_EQ(got.bytes, 3U * (4 + 65464));
  ASSERT_TRUE(server.wait_for_log({"transfer", "file=big.iso", "no answer from the client"}));
}

INSTANTIATE_TEST_SUITE_P(GuessablePorts, Amplification, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "SinglePort" : "TenPortRange"; });

// ---- Strangers and log floods ----------------------------------------------------------------------

std::size_t lines_with(ServerHarness& server, const std::string& part) {
  std::size_t n = 0;
  for (const auto& line : server.lines()) n += line.find(part) != std::string::npos ? 1U : 0U;
  return n;
}

// The sum of lines=N over the "suppressed" lines of one class.
std::size_t suppressed(ServerHarness& server, const std::string& flood_class) {
  std::size_t total = 0;
  for (const auto& line : server.lines()) {
    if (line.find("suppressed class=" + flood_class) == std::string::npos) continue;
    total += std::stoul(line.substr(line.find("lines=") + 6));
  }
  return total;
}

// A session port answers junk with nothing, well-formed strangers with ERROR 5 at a bounded rate, and logs a
// burst of stranger lines, then counts the rest in a "suppressed" line.
TEST(Strangers, JunkGetsNothingAndErrorsAndLogLinesAreRateLimited) {
  auto config = test_config();
  config.verbosity = server::Verbosity::normal;
  ServerHarness server(config);
  write_file(server.root() / "f", pattern(3000, 46));
  server.start();
  RawPeer client;
  client.send(server.port(), Rrq{"f", Mode::octet, {}});
  const auto data1 = client.receive();
  ASSERT_TRUE(data1);
  RawPeer stranger;
  for (int i = 0; i < 200; ++i) stranger.send(data1->port, bytes_of("junk that is no TFTP packet"));
  EXPECT_FALSE(stranger.receive(300ms));
  for (int i = 0; i < 200; ++i) stranger.send(data1->port, Ack{1});
  const auto answered = drawn(stranger, 300ms);
  EXPECT_GE(answered.datagrams, 1U);
  EXPECT_LE(answered.datagrams, 55U);  // a burst of 50, then 50 per second
  // The transfer went on.
  client.send(data1->port, Ack{1});
  const auto data2 = client.receive();
  ASSERT_TRUE(data2);
  EXPECT_EQ(std::get<Data>(data2->packet()).block, 2U);
  client.send(data1->port, Error{ErrorCode::not_defined, "done"});
  server.stop();
  const auto logged = lines_with(server, " stranger ");
  EXPECT_LE(logged, 25U);
  EXPECT_EQ(logged + suppressed(server, "stranger"), answered.datagrams);
}

// 200 refused requests: each is answered, but the log holds a burst and one "suppressed" count.
TEST(Strangers, RefusalLogLinesAreRateLimited) {
  auto config = test_config();
  config.verbosity = server::Verbosity::normal;
  ServerHarness server(config);
  server.start();
  RawPeer peer;
  for (int i = 0; i < 200; ++i) peer.send(server.port(), Rrq{"missing", Mode::octet, {}});
  EXPECT_EQ(drawn(peer, 300ms).datagrams, 200U);
  server.stop();
  const auto logged = lines_with(server, " refused ");
  EXPECT_LE(logged, 25U);
  EXPECT_EQ(logged + suppressed(server, "refused"), 200U);
}

// ---- Files that are not files -------------------------------------------------------------------------

// A requested FIFO (or device) is looked at with O_PATH and refused: it is never opened (inotify would see
// IN_OPEN), so opening it cannot block, rewind a tape or hang up a line.
TEST(NotAFile, AFifoIsRefusedWithoutBeingOpened) {
  ServerHarness server(test_config());
  const auto fifo = server.root() / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  const int watch = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  ASSERT_GE(watch, 0);
  ASSERT_GE(::inotify_add_watch(watch, fifo.c_str(), IN_OPEN), 0);
  server.start();
  RawPeer peer;
  const auto got = download(peer, server.port(), "pipe");
  ASSERT_TRUE(got.error) << got.failure;
  EXPECT_EQ(got.error->code, ErrorCode::access_violation);
  EXPECT_EQ(got.error->message, "not a regular file");
  pollfd events{watch, POLLIN, 0};
  EXPECT_EQ(::poll(&events, 1, 0), 0) << "the server opened the FIFO";
  ::close(watch);
}

// ---- Resource limits --------------------------------------------------------------------------------

// By default an upload may be 8 GiB, and never more than the file system has free: both refused with
// ERROR 3 before any data.
TEST(UploadLimits, TheDefaultLimitAndTheFreeSpaceBoundAnnouncedUploads) {
  auto config = test_config();
  config.allow_create = true;
  ASSERT_EQ(config.policy.max_upload, server::default_max_upload);
  ServerHarness server(config);
  server.start();
  RawPeer peer;
  peer.send(server.port(), Wrq{"huge", Mode::octet, {{"tsize", std::to_string((std::uint64_t{8} << 30) + 1)}}});
  const auto too_large = peer.receive();
  ASSERT_TRUE(too_large);
  EXPECT_EQ(std::get<Error>(too_large->packet()).code, ErrorCode::disk_full);
  auto unlimited = test_config();
  unlimited.allow_create = true;
  unlimited.policy.max_upload.reset();
  ServerHarness roomy(unlimited);
  roomy.start();
  peer.send(roomy.port(), Wrq{"huge", Mode::octet, {{"tsize", std::to_string(std::uint64_t{1} << 60)}}});
  const auto no_room = peer.receive();
  ASSERT_TRUE(no_room);
  const auto error = std::get<Error>(no_room->packet());
  EXPECT_EQ(error.code, ErrorCode::disk_full);
  // The free space changes from run to run; the announced size and the form do not.
  EXPECT_TRUE(std::regex_match(error.message, std::regex(R"(Disk full: 1152921504606846976 bytes announced, \d+ free)")))
      << error.message;
  EXPECT_TRUE(list_dir(roomy.root()).empty());
}

// netascii tsize makes the server read the whole file to count its wire size, on the one event-loop thread:
// only files up to 1 MiB are counted; above, the OACK leaves tsize out (RFC 2349 lets it) and no byte is
// read before the transfer starts.
TEST(NetasciiTsize, ASmallFileIsCountedALargeOneIsNot) {
  ServerHarness server(test_config());
  std::string small;
  for (int i = 0; i < 100; ++i) small += "line " + std::to_string(i) + "\n";
  write_file(server.root() / "small.txt", bytes_of(small));
  {
    std::ofstream big(server.root() / "big.iso", std::ios::binary);
    big.seekp((std::int64_t{256} << 20) - 1);  // 256 MiB, sparse
    big.put('\n');
  }
  server.start();
  RawPeer peer;
  const auto counted = download(peer, server.port(), "small.txt", {{"tsize", "0"}}, Mode::netascii);
  ASSERT_TRUE(counted.oack);
  EXPECT_EQ(counted.oack->options, (OptionList{{"tsize", std::to_string(small.size() + 100)}}));  // CR LF per line
  EXPECT_EQ(counted.bytes.size(), small.size() + 100);
  peer.send(server.port(), Rrq{"big.iso", Mode::netascii, {{"tsize", "0"}, {"blksize", "1024"}}});
  const auto oack = peer.receive();
  ASSERT_TRUE(oack);
  EXPECT_EQ(oack->bytes, encoded(Oack{{{"blksize", "1024"}}}));
  peer.send(oack->port, Error{ErrorCode::not_defined, "enough"});
}

// The client's timeout option cannot pin a slot: above --timeout-max (10 s) it is ignored, and below it
// it only applies once the client has answered; an unanswered session keeps the server's own timeout.
TEST(TimeoutOption, AboveTheMaximumItIsLeftOutOfTheOack) {
  auto config = test_config();
  ServerHarness server(config);
  write_file(server.root() / "f", pattern(1000, 43));
  server.start();
  RawPeer peer;
  peer.send(server.port(), Rrq{"f", Mode::octet, {{"timeout", "255"}, {"blksize", "1024"}}});
  const auto oack = peer.receive();
  ASSERT_TRUE(oack);
  EXPECT_EQ(oack->bytes, encoded(Oack{{{"blksize", "1024"}}}));
  peer.send(oack->port, Error{ErrorCode::not_defined, "done"});
}

TEST(TimeoutOption, AnUnansweredSessionKeepsTheServersOwnTimeout) {
  auto config = test_config();
  config.timeout = 100ms;
  config.verbosity = server::Verbosity::normal;
  ServerHarness server(config);
  write_file(server.root() / "f", pattern(1000, 44));
  server.start();
  RawPeer victim;
  victim.send(server.port(), Rrq{"f", Mode::octet, {{"timeout", "10"}}});
  ASSERT_TRUE(victim.receive());  // the OACK with timeout 10, never answered
  // 0.1 + 0.2 + 0.4 s of the server's own timeout, not 3 x 10 s.
  EXPECT_TRUE(server.wait_for_log({"transfer", "file=f", "no answer from the client"}, 3s));
}

// IPv6 clients count per /64: fd00:9::2 and fd00:9::3 are one client for --max-sessions-per-client.
TEST(PerClientLimit, Ipv6ClientsCountPerSlash64) {
  if (const auto why = netns_unavailable(); !why.empty()) TFTP_SKIP_MISSING(why);
  RemoteHosts hosts;
  ASSERT_TRUE(hosts.ready());
  auto config = test_config();
  config.listen = {server::ListenAddress{RemoteHosts::address6(1), 0}};
  config.max_sessions_per_client = 1;
  ServerHarness server(config);
  write_file(server.root() / "f", pattern(1200, 45));
  std::optional<RawPeer> first;
  std::optional<RawPeer> neighbour;
  {
    InNamespace inside(hosts.netns().path());
    ASSERT_TRUE(inside.entered());
    server.start();
    first.emplace(RawPeer::Route{RemoteHosts::address6(2), RemoteHosts::address6(1)});
    neighbour.emplace(RawPeer::Route{RemoteHosts::address6(3), RemoteHosts::address6(1)});
  }
  first->send(server.port(), Rrq{"f", Mode::octet, {}});
  const auto data1 = first->receive();
  ASSERT_TRUE(data1);
  first->send(data1->port, Ack{1});
  ASSERT_TRUE(first->receive());
  first->send(data1->port, Ack{2});  // established
  ASSERT_TRUE(first->receive());
  neighbour->send(server.port(), Rrq{"f", Mode::octet, {}});
  const auto refused = neighbour->receive();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->bytes, encoded(Error{ErrorCode::not_defined, "server busy"}));
}

}  // namespace
}  // namespace tftp::test
