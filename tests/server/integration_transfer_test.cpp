// The server on real UDP sockets on loopback, driven packet by packet: downloads and uploads of every
// boundary size, options and their exact OACK bytes, netascii, block number rollover, many clients at once.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <thread>

#include "server_harness.hpp"

namespace tftp::test {
namespace {

class SizesTest : public ::testing::TestWithParam<std::size_t> {};

TEST_P(SizesTest, DownloadIsExact) {
  ServerHarness server(test_config());
  const auto content = pattern(GetParam());
  write_file(server.root() / "f", content);
  server.start();
  RawPeer peer;
  const auto got = download(peer, server.port(), "f");
  ASSERT_EQ(got.failure, "");
  ASSERT_FALSE(got.error);
  EXPECT_EQ(got.bytes, content);
  EXPECT_EQ(got.blocks, GetParam() / 512 + 1);  // a multiple of 512 ends with an empty DATA
  EXPECT_TRUE(server.wait_for_log({"transfer", "file=f", "direction=read", "result=ok"}));
}

TEST_P(SizesTest, UploadIsExactWithUmaskMode) {
  auto config = test_config();
  config.allow_create = true;
  config.umask = 027;
  ServerHarness server(config);
  server.start();
  const auto content = pattern(GetParam(), 7);
  RawPeer peer;
  const auto sent = upload(peer, server.port(), "up", content);
  ASSERT_EQ(sent.failure, "");
  ASSERT_FALSE(sent.error) << sent.error->message;
  ASSERT_TRUE(server.wait_for_log({"transfer", "file=up", "direction=write", "result=ok"}));
  EXPECT_EQ(read_file(server.root() / "up"), content);
  struct stat st {};
  ASSERT_EQ(::stat((server.root() / "up").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640U);
  EXPECT_EQ(list_dir(server.root()), std::vector<std::string>{"up"});
}

INSTANTIATE_TEST_SUITE_P(Boundaries, SizesTest, ::testing::Values(0, 1, 511, 512, 513, 1024 * 1024));

TEST(Options, OackBytesAreExactAndDataFollowsAckZero) {
  ServerHarness server(test_config());
  write_file(server.root() / "f", pattern(1000));
  server.start();
  RawPeer peer;
  peer.send(server.port(), Rrq{"f", Mode::octet,
                               {{"blksize", "1024"}, {"tsize", "0"}, {"windowsize", "4"}, {"timeout", "2"},
                                {"unknown", "1"}}});
  auto oack = peer.receive();
  ASSERT_TRUE(oack);
  using namespace std::string_view_literals;
  EXPECT_EQ(oack->bytes, bytes_of("\0\6blksize\0" "1024\0tsize\0" "1000\0windowsize\0" "4\0timeout\0" "2\0"sv));
  peer.send(oack->port, Ack{0});
  auto data = peer.receive();
  ASSERT_TRUE(data);
  EXPECT_EQ(data->port, oack->port);
  ASSERT_EQ(data->bytes.size(), 4U + 1000U);
  EXPECT_EQ(data->bytes[1], std::byte{3});
  peer.send(oack->port, Ack{1});
  EXPECT_TRUE(server.wait_for_log({"transfer", "result=ok", "blksize=1024", "windowsize=4"}));
}

TEST(Options, BlockSizeIsCappedByTheServerMaximum) {
  auto config = test_config();
  config.policy.max_block_size = 1428;
  ServerHarness server(config);
  const auto content = pattern(5000);
  write_file(server.root() / "f", content);
  server.start();
  RawPeer peer;
  const auto got = download(peer, server.port(), "f", {{"blksize", "65464"}});
  ASSERT_EQ(got.failure, "");
  ASSERT_TRUE(got.oack);
  EXPECT_EQ(got.oack->options, (OptionList{{"blksize", "1428"}}));
  EXPECT_EQ(got.bytes, content);
}

TEST(Options, UploadTsizeIsEchoed) {
  auto config = test_config();
  config.allow_create = true;
  ServerHarness server(config);
  server.start();
  RawPeer peer;
  peer.send(server.port(), Wrq{"u", Mode::octet, {{"tsize", "3"}}});
  auto oack = peer.receive();
  ASSERT_TRUE(oack);
  using namespace std::string_view_literals;
  EXPECT_EQ(oack->bytes, bytes_of("\0\6tsize\0" "3\0"sv));
}

TEST(Rollover, MoreThan65535BlocksArriveInOrder) {
  ServerHarness server(test_config());
  const auto content = pattern(65536 * 8 + 3);  // 65537 blocks of 8 bytes: block numbers wrap to 0
  write_file(server.root() / "big", content);
  server.start();
  RawPeer peer;
  const auto got = download(peer, server.port(), "big", {{"blksize", "8"}, {"windowsize", "64"}});
  ASSERT_EQ(got.failure, "");
  EXPECT_EQ(got.blocks, 65537U);
  EXPECT_EQ(got.bytes, content);
}

TEST(Netascii, DownloadConvertsLineEndsToCrLf) {
  ServerHarness server(test_config());
  write_file(server.root() / "t", bytes_of("a\nb\rc"));
  server.start();
  RawPeer peer;
  const auto got = download(peer, server.port(), "t", {}, Mode::netascii);
  ASSERT_EQ(got.failure, "");
  using namespace std::string_view_literals;
  EXPECT_EQ(got.bytes, bytes_of("a\r\nb\r\0c"sv));
}

TEST(Netascii, DownloadAnswersTsizeWithTheWireSize) {
  ServerHarness server(test_config());
  write_file(server.root() / "t", bytes_of("a\nb\n"));
  server.start();
  RawPeer peer;
  const auto got = download(peer, server.port(), "t", {{"tsize", "0"}}, Mode::netascii);
  ASSERT_TRUE(got.oack);
  EXPECT_EQ(got.oack->options, (OptionList{{"tsize", "6"}}));
  EXPECT_EQ(got.bytes, bytes_of("a\r\nb\r\n"));
}

TEST(Netascii, UploadConvertsCrLfToNewline) {
  auto config = test_config();
  config.allow_create = true;
  ServerHarness server(config);
  server.start();
  RawPeer peer;
  using namespace std::string_view_literals;
  const auto sent = upload(peer, server.port(), "t", bytes_of("x\r\ny\r\0z"sv), {}, Mode::netascii);
  ASSERT_EQ(sent.failure, "");
  ASSERT_TRUE(server.wait_for_log({"transfer", "file=t", "result=ok"}));
  EXPECT_EQ(read_file(server.root() / "t"), bytes_of("x\ny\rz"));
}

TEST(Requests, ANewRequestRightAfterTheLastAckIsServed) {
  // One client port, one download after another with no pause: the last ACK goes to the session's socket,
  // the next RRQ to the listener, and the server must not take that RRQ for a retransmission of the
  // transfer the ACK just ended (two sockets keep no order between them).
  ServerHarness server(test_config());
  write_file(server.root() / "f", bytes_of("one block"));
  server.start();
  RawPeer peer;
  for (int i = 0; i < 100; ++i) {
    const auto got = download(peer, server.port(), "f");
    ASSERT_EQ(got.failure, "") << "download " << i;
    ASSERT_EQ(got.bytes, bytes_of("one block")) << "download " << i;
  }
}

TEST(Concurrency, HundredDownloadsAtOnceAreAllExact) {
  auto config = test_config();
  config.max_sessions_per_client = 100;  // all from 127.0.0.1, as behind a NAT
  ServerHarness server(config);
  constexpr int clients = 100;
  std::vector<Bytes> contents;
  for (int i = 0; i < clients; ++i) {
    contents.push_back(pattern(20000 + static_cast<std::size_t>(i) * 37, static_cast<unsigned>(i)));
    write_file(server.root() / ("f" + std::to_string(i)), contents.back());
  }
  server.start();
  std::vector<Download> results(clients);
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      RawPeer peer;
      // 100 clients on two cores: a late ACK makes the server resend; repeats are counted, not failed.
      results[static_cast<std::size_t>(i)] =
          download(peer, server.port(), "f" + std::to_string(i), {}, Mode::octet, Repeats::counted);
    });
  }
  for (auto& thread : threads) thread.join();
  for (int i = 0; i < clients; ++i) {
    const auto& got = results[static_cast<std::size_t>(i)];
    EXPECT_EQ(got.failure, "") << "client " << i << ", " << got.duplicates << " repeats";
    EXPECT_EQ(got.bytes, contents[static_cast<std::size_t>(i)]) << "client " << i;
  }
}

TEST(Ipv6, DownloadOverLoopback) {
  if (!have_ipv6_loopback()) GTEST_SKIP() << "::1 cannot be bound on this host (no IPv6 loopback)";
  ServerHarness server(test_config(true));
  const auto content = pattern(1500);
  write_file(server.root() / "f", content);
  server.start();
  RawPeer peer(Family::v6);
  const auto got = download(peer, server.port(), "f");
  ASSERT_EQ(got.failure, "");
  EXPECT_EQ(got.bytes, content);
}

}  // namespace
}  // namespace tftp::test
