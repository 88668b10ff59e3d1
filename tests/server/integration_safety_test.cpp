// What the server refuses and how it behaves towards wrong peers: traversal and symlinks, read-only by
// default, overwrite, upload limits, aborted uploads leaving nothing, transfer IDs, duplicates, the
// reflection and retry limits, and "server busy".
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "netns.hpp"
#include "server_harness.hpp"

namespace tftp::test {
namespace {

using namespace std::chrono_literals;

// The first answer to a request, which must be an ERROR.
Error refusal(const RawPeer& peer, std::uint16_t port, const Packet& request) {
  peer.send(port, request);
  auto reply = peer.receive();
  if (!reply) throw std::runtime_error("no answer to the request");
  auto packet = reply->packet();
  if (!std::holds_alternative<Error>(packet)) throw std::runtime_error("the request was not refused");
  return std::get<Error>(packet);
}

std::uint16_t code(const Error& error) { return static_cast<std::uint16_t>(error.code); }

TEST(Confinement, TraversalAndSymlinksOutOfRootGetNoByte) {
  auto config = test_config();
  config.allow_create = true;
  config.allow_overwrite = true;
  ServerHarness server(config);
  write_file(server.outside() / "secret", bytes_of("outside"));
  std::filesystem::create_directory(server.root() / "sub");
  std::filesystem::create_symlink("../secret", server.root() / "up-link");
  std::filesystem::create_symlink(server.outside() / "secret", server.root() / "abs-link");
  std::filesystem::create_directory_symlink("..", server.root() / "dir-link");
  server.start();
  RawPeer peer;
  for (const char* name : {"../secret", "..\\secret", "sub/../../secret", "sub/..\\..\\secret", "up-link",
                           "abs-link", "dir-link/secret", "a\x01" "b"}) {
    const auto read = refusal(peer, server.port(), Rrq{name, Mode::octet, {}});
    EXPECT_EQ(code(read), 2) << name << ": " << read.message;
    const auto write = refusal(peer, server.port(), Wrq{name, Mode::octet, {}});
    EXPECT_EQ(code(write), 2) << name << ": " << write.message;
  }
  // A leading slash or backslash names ROOT (as tftpd-hpa -s and dnsmasq do): ROOT/etc/passwd is not there,
  // and neither is a directory to upload it into.
  for (const char* name : {"/etc/passwd", "\\etc\\passwd"}) {
    EXPECT_EQ(code(refusal(peer, server.port(), Rrq{name, Mode::octet, {}})), 1) << name;
    EXPECT_EQ(code(refusal(peer, server.port(), Wrq{name, Mode::octet, {}})), 1) << name;
  }
  // "...." is an ordinary name: not found, and nothing stripped to make it "..".
  EXPECT_EQ(code(refusal(peer, server.port(), Rrq{"....//secret", Mode::octet, {}})), 1);
  EXPECT_EQ(code(refusal(peer, server.port(), Rrq{"sub", Mode::octet, {}})), 2);  // a directory
  EXPECT_EQ(read_file(server.outside() / "secret"), bytes_of("outside"));
  EXPECT_EQ(list_dir(server.root()), (std::vector<std::string>{"abs-link", "dir-link", "sub", "up-link"}));
  EXPECT_TRUE(server.wait_for_log({"warning refused", "file=../secret", "code=2"}));
}

TEST(Uploads, ReadOnlyByDefault) {
  ServerHarness server(test_config());
  server.start();
  RawPeer peer;
  const auto error = refusal(peer, server.port(), Wrq{"new", Mode::octet, {}});
  EXPECT_EQ(code(error), 2);
  EXPECT_TRUE(list_dir(server.root()).empty());
}

TEST(Uploads, CreateWithoutOverwriteRefusesAnExistingFile) {
  auto config = test_config();
  config.allow_create = true;
  ServerHarness server(config);
  write_file(server.root() / "f", bytes_of("old"));
  server.start();
  RawPeer peer;
  EXPECT_EQ(code(refusal(peer, server.port(), Wrq{"f", Mode::octet, {}})), 6);
  EXPECT_EQ(read_file(server.root() / "f"), bytes_of("old"));
}

TEST(Uploads, OverwriteWithoutCreateRefusesANewFile) {
  auto config = test_config();
  config.allow_overwrite = true;
  ServerHarness server(config);
  server.start();
  RawPeer peer;
  EXPECT_EQ(code(refusal(peer, server.port(), Wrq{"new", Mode::octet, {}})), 2);
  EXPECT_TRUE(list_dir(server.root()).empty());
}

TEST(Uploads, TsizeAboveMaxUploadIsRefusedBeforeAnyData) {
  auto config = test_config();
  config.allow_create = true;
  config.policy.max_upload = 1000;
  ServerHarness server(config);
  server.start();
  RawPeer peer;
  EXPECT_EQ(code(refusal(peer, server.port(), Wrq{"big", Mode::octet, {{"tsize", "1001"}}})), 3);
  EXPECT_TRUE(list_dir(server.root()).empty());
}

// Sends DATA 1 and 2 of a WRQ; returns the session port.
std::uint16_t start_upload(const RawPeer& peer, std::uint16_t port, const std::string& name) {
  peer.send(port, Wrq{name, Mode::octet, {}});
  auto ack0 = peer.receive();
  if (!ack0 || ack0->bytes != encoded(Ack{0})) throw std::runtime_error("no ACK 0");
  const auto block = pattern(512);
  peer.send(ack0->port, Data{1, block});
  auto ack1 = peer.receive();
  if (!ack1 || ack1->bytes != encoded(Ack{1})) throw std::runtime_error("no ACK 1");
  return ack0->port;
}

TEST(Uploads, GrowingPastMaxUploadIsAbortedAndLeavesNothing) {
  auto config = test_config();
  config.allow_create = true;
  config.policy.max_upload = 1000;
  ServerHarness server(config);
  server.start();
  RawPeer peer;
  const auto session = start_upload(peer, server.port(), "big");
  peer.send(session, Data{2, pattern(512)});
  auto reply = peer.receive();
  ASSERT_TRUE(reply);
  auto packet = reply->packet();
  ASSERT_TRUE(std::holds_alternative<Error>(packet));
  EXPECT_EQ(code(std::get<Error>(packet)), 3);
  ASSERT_TRUE(server.wait_for_log({"transfer", "file=big", "direction=write"}));
  EXPECT_TRUE(list_dir(server.root()).empty());
}

TEST(Uploads, AbortedByTheClientMidwayLeavesNothing) {
  auto config = test_config();
  config.allow_create = true;
  config.allow_overwrite = true;
  ServerHarness server(config);
  write_file(server.root() / "keep", bytes_of("previous"));
  server.start();
  RawPeer peer;
  const auto session = start_upload(peer, server.port(), "keep");
  // The upload's file has no name while it runs (O_TMPFILE): nothing to see, nothing a kill leaves behind.
  ASSERT_EQ(list_dir(server.root()), std::vector<std::string>{"keep"});
  peer.send(session, Error{ErrorCode::not_defined, "client gives up"});
  ASSERT_TRUE(server.wait_for_log({"transfer", "file=keep", "client gives up"}));
  EXPECT_EQ(list_dir(server.root()), std::vector<std::string>{"keep"});
  EXPECT_EQ(read_file(server.root() / "keep"), bytes_of("previous"));
}

TEST(Uploads, ClientVanishingMidwayLeavesNothing) {
  auto config = test_config();
  config.allow_create = true;
  config.timeout = 50ms;
  config.retries = 1;
  ServerHarness server(config);
  server.start();
  {
    RawPeer peer;
    start_upload(peer, server.port(), "gone");
  }
  ASSERT_TRUE(server.wait_for_log({"transfer", "file=gone", "timed out"}));
  EXPECT_TRUE(list_dir(server.root()).empty());
}

TEST(TransferIds, StrangerGetsError5AndTheTransferGoesOn) {
  ServerHarness server(test_config());
  const auto content = pattern(700);
  write_file(server.root() / "f", content);
  server.start();
  RawPeer client;
  RawPeer stranger;
  client.send(server.port(), Rrq{"f", Mode::octet, {}});
  auto data1 = client.receive();
  ASSERT_TRUE(data1);
  stranger.send(data1->port, Ack{1});
  auto error = stranger.receive();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->port, data1->port);
  EXPECT_EQ(error->bytes, encoded(Error{ErrorCode::unknown_transfer_id, "Unknown transfer ID"}));
  client.send(data1->port, Ack{1});
  auto data2 = client.receive();
  ASSERT_TRUE(data2);
  EXPECT_EQ(data2->port, data1->port);
  EXPECT_EQ(std::get<Data>(data2->packet()).block, 2);
  EXPECT_EQ(data2->bytes.size(), 4U + 700 - 512);
  client.send(data1->port, Ack{2});
  EXPECT_TRUE(server.wait_for_log({"transfer", "file=f", "result=ok"}));
}

TEST(Duplicates, RepeatedRequestDoesNotStartASecondTransfer) {
  ServerHarness server(test_config());
  write_file(server.root() / "f", pattern(700));
  server.start();
  RawPeer client;
  client.send(server.port(), Rrq{"f", Mode::octet, {}});
  auto data1 = client.receive();
  ASSERT_TRUE(data1);
  client.send(server.port(), Rrq{"f", Mode::octet, {}});  // as if the first DATA were late
  client.send(data1->port, Ack{1});
  auto data2 = client.receive();
  ASSERT_TRUE(data2);
  EXPECT_EQ(data2->port, data1->port);
  EXPECT_EQ(std::get<Data>(data2->packet()).block, 2);  // not a DATA 1 from a second session
  client.send(data1->port, Ack{2});
  ASSERT_TRUE(server.wait_for_log({"transfer", "file=f", "result=ok"}));
  EXPECT_FALSE(client.receive(200ms)) << "a second session answered the repeated request";
}

TEST(Duplicates, DuplicateAckCausesNoDuplicateData) {
  ServerHarness server(test_config());
  write_file(server.root() / "f", pattern(1200));
  server.start();
  RawPeer client;
  client.send(server.port(), Rrq{"f", Mode::octet, {}});
  auto data1 = client.receive();
  ASSERT_TRUE(data1);
  client.send(data1->port, Ack{1});
  client.send(data1->port, Ack{1});  // the Sorcerer's Apprentice: must not send DATA 2 twice
  auto data2 = client.receive();
  ASSERT_TRUE(data2);
  EXPECT_EQ(std::get<Data>(data2->packet()).block, 2);
  client.send(data1->port, Ack{2});
  auto data3 = client.receive();
  ASSERT_TRUE(data3);
  EXPECT_EQ(std::get<Data>(data3->packet()).block, 3);
  client.send(data1->port, Ack{3});
  ASSERT_TRUE(server.wait_for_log({"transfer", "file=f", "result=ok"}));
  EXPECT_FALSE(client.receive(200ms));
}

// Counts the datagrams already waiting on the socket.
std::vector<Datagram> drain(const RawPeer& peer) {
  std::vector<Datagram> all;
  while (auto datagram = peer.receive(0ms)) all.push_back(std::move(*datagram));
  return all;
}

TEST(Reflection, UnansweredFirstDataIsResentAtMostTwice) {
  auto config = test_config();
  config.timeout = 50ms;
  config.retries = 10;  // the reflection limit, not the retry limit, must end it
  ServerHarness server(config);
  write_file(server.root() / "f", pattern(2000));
  server.start();
  RawPeer victim;
  victim.send(server.port(), Rrq{"f", Mode::octet, {}});
  ASSERT_TRUE(server.wait_for_log({"transfer", "file=f", "no answer from the client"}));
  const auto got = drain(victim);
  ASSERT_EQ(got.size(), 3U);
  for (const auto& datagram : got) EXPECT_EQ(std::get<Data>(datagram.packet()).block, 1);
}

TEST(Retries, RetransmissionsStopAtTheLimit) {
  auto config = test_config();
  config.timeout = 50ms;
  config.retries = 3;
  ServerHarness server(config);
  write_file(server.root() / "f", pattern(2000));
  server.start();
  RawPeer client;
  client.send(server.port(), Rrq{"f", Mode::octet, {}});
  auto data1 = client.receive();
  ASSERT_TRUE(data1);
  client.send(data1->port, Ack{1});
  ASSERT_TRUE(client.receive());
  client.send(data1->port, Ack{2});  // beyond the first window: the client is proven, patience applies
  ASSERT_TRUE(server.wait_for_log({"transfer", "file=f", "timed out"}));
  std::size_t data3 = 0;
  for (const auto& datagram : drain(client)) data3 += std::get<Data>(datagram.packet()).block == 3 ? 1U : 0U;
  EXPECT_EQ(data3, 1U + 3U);
}

TEST(Limits, BeyondMaxSessionsTheAnswerIsServerBusy) {
  auto config = test_config();
  config.max_sessions = 1;
  ServerHarness server(config);
  write_file(server.root() / "f", pattern(1200));
  server.start();
  RawPeer first;
  first.send(server.port(), Rrq{"f", Mode::octet, {}});
  auto data1 = first.receive();
  ASSERT_TRUE(data1);
  first.send(data1->port, Ack{1});
  ASSERT_TRUE(first.receive());
  first.send(data1->port, Ack{2});  // beyond the first window: established, so not displaced (see Flood.*)
  ASSERT_TRUE(first.receive());
  RawPeer second;
  const auto busy = refusal(second, server.port(), Rrq{"f", Mode::octet, {}});
  EXPECT_EQ(busy, (Error{ErrorCode::not_defined, "server busy"}));
  first.send(data1->port, Ack{3});
  ASSERT_TRUE(server.wait_for_log({"transfer", "file=f", "result=ok"}));
  const auto got = download(second, server.port(), "f");  // a slot is free again
  EXPECT_EQ(got.failure, "");
  EXPECT_EQ(got.bytes.size(), 1200U);
}

// The per-client limit holds remote hosts (loopback clients are exempt): run from 10.9.0.x in a namespace.
class RemoteLimits : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const auto why = netns_unavailable(); !why.empty()) TFTP_SKIP_MISSING(why);
    hosts_.emplace();
    ASSERT_TRUE(hosts_->ready());
  }
  server::ServerConfig config() const {
    auto config = test_config();
    config.listen = {server::ListenAddress{RemoteHosts::address(1), 0}};
    config.max_sessions_per_client = 1;
    config.allow_create = true;
    return config;
  }
  // Starts the server and makes the peers inside the namespace.
  void start(ServerHarness& server) {
    InNamespace inside(hosts_->netns().path());
    ASSERT_TRUE(inside.entered());
    server.start();
    for (int n : {2, 3}) peers_.push_back(std::make_unique<RawPeer>(RawPeer::Route{RemoteHosts::address(n), RemoteHosts::address(1)}));
    peers_.push_back(std::make_unique<RawPeer>(RawPeer::Route{RemoteHosts::address(2), RemoteHosts::address(1)}));
  }
  // 0 and 2: two ports of 10.9.0.2; 1: 10.9.0.3.
  const RawPeer& peer(std::size_t i) const { return *peers_.at(i); }

  std::optional<RemoteHosts> hosts_;
  std::vector<std::unique_ptr<RawPeer>> peers_;
};

TEST_F(RemoteLimits, BeyondMaxSessionsPerClientTheAnswerIsServerBusy) {
  ServerHarness server(config());
  write_file(server.root() / "f", pattern(1200));
  start(server);
  const RawPeer& first = peer(0);
  first.send(server.port(), Rrq{"f", Mode::octet, {}});
  const auto data1 = first.receive();
  ASSERT_TRUE(data1);
  first.send(data1->port, Ack{1});
  ASSERT_TRUE(first.receive());
  first.send(data1->port, Ack{2});  // established
  ASSERT_TRUE(first.receive());     // DATA 3: the session has read ACK 2
  // Another port of the same address is busy; another address is not.
  EXPECT_EQ(refusal(peer(2), server.port(), Rrq{"f", Mode::octet, {}}), (Error{ErrorCode::not_defined, "server busy"}));
  const auto other = download(peer(1), server.port(), "f");
  EXPECT_EQ(other.failure, "");
  EXPECT_EQ(other.bytes.size(), 1200U);
}

TEST_F(RemoteLimits, ADallyingUploadDoesNotCountAgainstItsClient) {
  ServerHarness server(config());
  write_file(server.root() / "f", pattern(10));
  start(server);
  const RawPeer& uploader = peer(0);
  uploader.send(server.port(), Wrq{"u", Mode::octet, {}});
  auto ack0 = uploader.receive();
  ASSERT_TRUE(ack0);
  uploader.send(ack0->port, Data{1, pattern(5)});
  ASSERT_TRUE(uploader.receive());  // the final ACK: the upload is complete and its session dallies
  ASSERT_TRUE(server.wait_for_log({"transfer", "file=u", "result=ok"}));
  const auto got = download(peer(2), server.port(), "f");  // the same address, another port
  EXPECT_EQ(got.failure, "");
  EXPECT_FALSE(got.error);
}

TEST(Requests, MalformedRequestGetsError4) {
  ServerHarness server(test_config());
  server.start();
  RawPeer peer;
  using namespace std::string_view_literals;
  peer.send(server.port(), bytes_of("\0\1f\0mail\0"sv));
  auto reply = peer.receive();
  ASSERT_TRUE(reply);
  EXPECT_EQ(code(std::get<Error>(reply->packet())), 4);
  peer.send(server.port(), Ack{1});  // a stray ACK to the server port is not answered
  peer.send(server.port(), Rrq{"missing", Mode::octet, {}});
  auto next = peer.receive();
  ASSERT_TRUE(next);
  EXPECT_EQ(code(std::get<Error>(next->packet())), 1);
}

}  // namespace
}  // namespace tftp::test

namespace tftp::test {
namespace {

TEST(PortRange, SessionsAnswerFromTheRangeAndBeyondItTheServerIsBusy) {
  std::uint16_t free_port = 0;
  {
    RawPeer probe;  // a port the kernel just handed out and took back: free for the range
    free_port = probe.port();
  }
  auto config = test_config();
  config.port_range = server::PortRange{free_port, free_port};
  ServerHarness server(config);
  write_file(server.root() / "f", pattern(700));
  server.start();
  RawPeer first;
  first.send(server.port(), Rrq{"f", Mode::octet, {}});
  auto data1 = first.receive();
  ASSERT_TRUE(data1);
  EXPECT_EQ(data1->port, free_port);
  RawPeer second;
  second.send(server.port(), Rrq{"f", Mode::octet, {}});
  auto busy = second.receive();
  ASSERT_TRUE(busy);
  EXPECT_EQ(busy->bytes, encoded(Error{ErrorCode::not_defined, "server busy"}));
}

}  // namespace
}  // namespace tftp::test
