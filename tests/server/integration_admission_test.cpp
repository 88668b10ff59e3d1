// Floods do not lock real clients out (issue 17): at a session limit a new request takes the place of the
// oldest session whose client never answered, and only established sessions make a request "server busy".
// In-process server on loopback; the flood is real RRQs from real sockets that never answer.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "netns.hpp"
#include "server_harness.hpp"

namespace tftp::test {
namespace {

using namespace std::chrono_literals;

// `count` RRQs for `name`, each from its own socket bound to one of `addresses` in turn; the sockets stay
// open and never answer (a spoofer's victims, or clients that went away). Sent in bursts of 50, each once
// the server has read the one before (its packet trace), so that the test counts evictions, not drops.
std::vector<std::unique_ptr<RawPeer>> flood(ServerHarness& server, const std::vector<std::string>& addresses,
                                            std::size_t count, const std::string& name, const std::string& to) {
  std::vector<std::unique_ptr<RawPeer>> silent;
  for (std::size_t i = 0; i < count; ++i) {
    silent.push_back(std::make_unique<RawPeer>(RawPeer::Route{addresses[i % addresses.size()], to}));
    silent.back()->send(server.port(), Rrq{name, Mode::octet, {}});
    if ((i + 1) % 50 == 0 || i + 1 == count) {
      EXPECT_TRUE(server.wait_for_lines("packet=\"RRQ " + name + "\"", i + 1)) << "the server read fewer requests";
    }
  }
  return silent;
}

std::size_t count_lines(ServerHarness& server, const std::string& part) {
  std::size_t n = 0;
  for (const auto& line : server.lines()) n += line.find(part) != std::string::npos ? 1U : 0U;
  return n;
}

server::ServerConfig flood_config() {
  auto config = test_config();
  config.verbosity = server::Verbosity::verbose;  // the packet trace paces the flood
  return config;
}

// 500 never-answered RRQs against an overall limit of 200, then a real client from 127.0.0.1: it is served
// at once (300 evictions during the flood, one for it), and every eviction is in the log.
void flood_then_serve(const std::vector<std::string>& addresses, unsigned seed) {
  auto config = flood_config();
  config.max_sessions = 200;
  ServerHarness server(config);
  const auto content = pattern(20000, seed);
  write_file(server.root() / "f", content);
  server.start();
  const auto silent = flood(server, addresses, 500, "f", "127.0.0.1");
  ASSERT_TRUE(server.wait_for_log({"evicted", "evictions=300"}));
  RawPeer client;
  const auto got = download(client, server.port(), "f", {}, Mode::octet, Repeats::counted);  // busy: it may resend
  EXPECT_EQ(got.failure, "");
  EXPECT_FALSE(got.error) << got.error->message;
  EXPECT_EQ(got.bytes, content);
  EXPECT_EQ(count_lines(server, "evicted"), 301U);
  EXPECT_EQ(count_lines(server, "server busy"), 0U);
}

// From the client's own address. (Loopback clients count only against the overall limit; the per-client
// limit is shown from a non-loopback address below.)
TEST(Flood, NeverAnsweredRequestsFromOneAddressDoNotLockItsRealClientOut) { flood_then_serve({"127.0.0.1"}, 31); }

// From 250 addresses (127.0.1.x): the oldest unanswered session of any client makes room.
TEST(Flood, NeverAnsweredRequestsFromManyAddressesDoNotLockOthersOut) {
  std::vector<std::string> addresses;
  for (int i = 1; i <= 250; ++i) addresses.push_back("127.0.1." + std::to_string(i));
  flood_then_serve(addresses, 32);
}

// The per-client limit (8 by default) from a non-loopback address: a namespace whose lo also holds 10.9.0.1
// (the server), .2 (the flooding address) and .3 (a neighbour).
TEST(Flood, AtThePerClientLimitAFloodDisplacesOnlyItsOwnSessions) {
  if (const auto why = netns_unavailable(); !why.empty()) TFTP_SKIP_MISSING(why);
  TestNamespace netns("flood");
  ASSERT_TRUE(netns.created() && netns.run("ip addr add 10.9.0.1/24 dev lo && ip addr add 10.9.0.2/24 dev lo && "
                                           "ip addr add 10.9.0.3/24 dev lo"));
  auto config = flood_config();
  ASSERT_EQ(config.max_sessions_per_client, 8U);
  config.listen = {server::ListenAddress{"10.9.0.1", 0}};
  ServerHarness server(config);
  const auto content = pattern(20000, 35);
  write_file(server.root() / "f", content);
  InNamespace inside(netns.path());
  ASSERT_TRUE(inside.entered());
  server.start();
  // The neighbour's transfer is under way (established) before the flood.
  RawPeer neighbour(RawPeer::Route{"10.9.0.3", "10.9.0.1"});
  neighbour.send(server.port(), Rrq{"f", Mode::octet, {}});
  const auto data1 = neighbour.receive();
  ASSERT_TRUE(data1);
  neighbour.send(data1->port, Ack{1});
  ASSERT_TRUE(neighbour.receive());
  neighbour.send(data1->port, Ack{2});
  ASSERT_TRUE(neighbour.receive());
  const auto silent = flood(server, {"10.9.0.2"}, 500, "f", "10.9.0.1");
  ASSERT_TRUE(server.wait_for_log({"evicted", "evictions=492"}));
  RawPeer client(RawPeer::Route{"10.9.0.2", "10.9.0.1"});
  const auto got = download(client, server.port(), "f", {}, Mode::octet, Repeats::counted);  // busy: it may resend
  EXPECT_EQ(got.failure, "");
  EXPECT_FALSE(got.error) << got.error->message;
  EXPECT_EQ(got.bytes, content);
  EXPECT_EQ(count_lines(server, "evicted"), 493U);
  for (const auto& line : server.lines()) {
    if (line.find("evicted") == std::string::npos) continue;
    EXPECT_NE(line.find("client=10.9.0.2:"), std::string::npos) << line;
  }
  // The neighbour's session was never in the way.
  neighbour.send(data1->port, Ack{3});
  const auto data4 = neighbour.receive();
  ASSERT_TRUE(data4);
  EXPECT_EQ(std::get<Data>(data4->packet()).block, 4U);
}

// Loopback clients are this host's own programs: only the overall limit holds them.
TEST(Flood, LoopbackClientsAreNotHeldToThePerClientLimit) {
  auto config = flood_config();
  ServerHarness server(config);
  write_file(server.root() / "f", pattern(5000, 36));
  server.start();
  std::vector<std::unique_ptr<RawPeer>> clients;
  for (int i = 0; i < 20; ++i) {
    clients.push_back(std::make_unique<RawPeer>());
    clients.back()->send(server.port(), Rrq{"f", Mode::octet, {}});
    const auto first = clients.back()->receive();
    ASSERT_TRUE(first);
    EXPECT_EQ(std::get<Data>(first->packet()).block, 1U) << "client " << i;
  }
  EXPECT_EQ(count_lines(server, "evicted"), 0U);
}

// Established transfers are never displaced: at the limit with every session answered, a request is busy.
TEST(Flood, OnlyEstablishedSessionsInTheWayMakeARequestBusy) {
  auto config = flood_config();
  config.max_sessions = 2;
  ServerHarness server(config);
  write_file(server.root() / "f", pattern(5000, 33));
  server.start();
  RawPeer first;
  RawPeer second;
  for (const RawPeer* peer : {&first, &second}) {
    peer->send(server.port(), Rrq{"f", Mode::octet, {}});
    const auto data1 = peer->receive();
    ASSERT_TRUE(data1);
    peer->send(data1->port, Ack{1});
    ASSERT_TRUE(peer->receive());     // DATA 2
    peer->send(data1->port, Ack{2});  // beyond the first window: established
    ASSERT_TRUE(peer->receive());     // DATA 3
  }
  RawPeer third;
  third.send(server.port(), Rrq{"f", Mode::octet, {}});
  const auto refused = third.receive();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->bytes, encoded(Error{ErrorCode::not_defined, "server busy"}));
  EXPECT_EQ(count_lines(server, "evicted"), 0U);
}

// An evicted upload leaves nothing behind: its temporary file goes with it.
TEST(Flood, AnEvictedUploadLeavesNothing) {
  auto config = flood_config();
  config.max_sessions = 1;
  config.allow_create = true;
  ServerHarness server(config);
  write_file(server.root() / "f", pattern(700, 34));
  server.start();
  RawPeer uploader;
  uploader.send(server.port(), Wrq{"up", Mode::octet, {}});
  const auto ack0 = uploader.receive();
  ASSERT_TRUE(ack0);
  EXPECT_EQ(ack0->bytes, encoded(Ack{0}));
  EXPECT_EQ(list_dir(server.root()), std::vector<std::string>{"f"});  // the upload's file has no name yet
  RawPeer reader;
  const auto got = download(reader, server.port(), "f");
  EXPECT_EQ(got.failure, "");
  EXPECT_EQ(got.bytes, pattern(700, 34));
  ASSERT_TRUE(server.wait_for_log({"evicted", "file=up"}));
  EXPECT_EQ(list_dir(server.root()), std::vector<std::string>{"f"});
  EXPECT_FALSE(uploader.receive(200ms));  // nothing more to the evicted client
}

}  // namespace
}  // namespace tftp::test
