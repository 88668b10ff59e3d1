// What network boot needs from the server (issue 12): the names PXE firmware sends, per-client roots,
// single-port mode, and a block size that fits the interface MTU. In-process server on loopback, raw peers.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "server_harness.hpp"

namespace tftp::test {
namespace {

using namespace std::chrono_literals;

std::uint16_t code(const Error& error) { return static_cast<std::uint16_t>(error.code); }

// ---- Names PXE firmware sends ----------------------------------------------------------------------

TEST(PxeNames, TrailingFFAndLeadingSeparatorsAreDroppedByDefault) {
  ServerHarness server(test_config());
  std::filesystem::create_directories(server.root() / "boot");
  write_file(server.root() / "pxelinux.0", bytes_of("pxelinux"));
  write_file(server.root() / "boot" / "x", bytes_of("boot x"));
  server.start();
  RawPeer peer;
  EXPECT_EQ(download(peer, server.port(), "pxelinux.0\xFF\xFF").bytes, bytes_of("pxelinux"));
  EXPECT_EQ(download(peer, server.port(), "/boot/x").bytes, bytes_of("boot x"));
  EXPECT_EQ(download(peer, server.port(), "\\boot\\x").bytes, bytes_of("boot x"));
  // Case is kept without --lowercase.
  const auto upper = download(peer, server.port(), "BOOT/X");
  ASSERT_TRUE(upper.error) << upper.failure;
  EXPECT_EQ(code(*upper.error), 1);
  // Dropping separators never makes a traversal acceptable.
  for (const char* name : {"/../x", "\\..\\x", "boot/../../x"}) {
    const auto refused = download(peer, server.port(), name);
    ASSERT_TRUE(refused.error) << name << ": " << refused.failure;
    EXPECT_EQ(code(*refused.error), 2) << name;
  }
}

TEST(PxeNames, LowercaseFoldsTheRequestedName) {
  auto config = test_config();
  config.lowercase = true;
  ServerHarness server(config);
  std::filesystem::create_directories(server.root() / "boot");
  write_file(server.root() / "boot" / "pxelinux.0", bytes_of("pxelinux"));
  server.start();
  RawPeer peer;
  EXPECT_EQ(download(peer, server.port(), "BOOT/PXELINUX.0").bytes, bytes_of("pxelinux"));
  EXPECT_EQ(download(peer, server.port(), "\\Boot\\PxeLinux.0\xFF").bytes, bytes_of("pxelinux"));
}

// Issue 12, done when: a WDS-style request with the README's PXE/WDS map file.
TEST(PxeNames, WdsRequestWithTheReadmeMapFileServesTheLowerCaseTree) {
  TempDir rules_dir;
  const auto rules = rules_dir.path() / "tftpd.remap";
  write_file(rules, "rg \\\\ /            # Windows separators as slashes\n"
                    "r .* \\L\\0          # the tree is lower case\n"
                    "r [^[:print:]]+$   # other trailing bytes a ROM appends\n");
  auto config = test_config();
  config.map_file = rules.string();
  ServerHarness server(config);
  std::filesystem::create_directories(server.root() / "boot" / "x64");
  const auto content = pattern(30000, 12);
  write_file(server.root() / "boot" / "x64" / "wdsnbp.com", content);
  server.start();
  RawPeer peer;
  for (const char* name : {"\\Boot\\X64\\wdsnbp.com", "\\Boot\\X64\\WDSNBP.COM\xFF", "/boot/x64/wdsnbp.com\x7f"}) {
    const auto got = download(peer, server.port(), name);
    EXPECT_EQ(got.failure, "") << name;
    EXPECT_FALSE(got.error) << name << ": " << got.error->message;
    EXPECT_EQ(got.bytes, content) << name;
  }
}

// ---- --unique-root ip ------------------------------------------------------------------------------

class UniqueRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = test_config();
    config.unique_root = server::UniqueRoot::ip;
    config.allow_create = true;
    server_ = std::make_unique<ServerHarness>(config);
    const auto root = server_->root();
    std::filesystem::create_directories(root / "127.0.0.1");
    write_file(root / "f", bytes_of("shared"));
    write_file(root / "127.0.0.1" / "f", bytes_of("for 127.0.0.1"));
    write_file(server_->outside() / "secret", bytes_of("outside"));
    // 127.0.0.3's directory is a symlink out of ROOT: refused, not a fallback to ROOT.
    std::filesystem::create_directory_symlink(server_->outside(), root / "127.0.0.3");
    write_file(server_->outside() / "f", bytes_of("outside f"));
    server_->start();
  }
  std::unique_ptr<ServerHarness> server_;
};

TEST_F(UniqueRoot, ClientWithADirectoryIsServedFromIt) {
  RawPeer peer;  // 127.0.0.1
  EXPECT_EQ(download(peer, server_->port(), "f").bytes, bytes_of("for 127.0.0.1"));
  EXPECT_EQ(download(peer, server_->port(), "/f").bytes, bytes_of("for 127.0.0.1"));
}

TEST_F(UniqueRoot, ClientWithoutOneFallsBackToRoot) {
  RawPeer peer("127.0.0.2");
  EXPECT_EQ(download(peer, server_->port(), "f").bytes, bytes_of("shared"));
}

// A client without a directory is served from ROOT, which holds the others' directories: a name that starts
// with an address is refused, for reading and for writing.
TEST_F(UniqueRoot, AClientWithoutADirectoryCannotReachAnothersDirectory) {
  std::filesystem::create_directories(server_->root() / "127.0.0.5");
  write_file(server_->root() / "127.0.0.5" / "boot.cfg", bytes_of("for 127.0.0.5 only"));
  RawPeer peer("127.0.0.9");
  for (const char* name : {"127.0.0.5/boot.cfg", "/127.0.0.5/boot.cfg", "127.0.0.5\\boot.cfg", "127.0.0.1/f"}) {
    const auto got = download(peer, server_->port(), name);
    ASSERT_TRUE(got.error) << name << ": " << got.failure;
    EXPECT_EQ(code(*got.error), 2) << name;
    EXPECT_TRUE(got.bytes.empty()) << name;
  }
  peer.send(server_->port(), Wrq{"127.0.0.5/pxe.cfg", Mode::octet, {}});
  const auto refused = peer.receive();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->bytes, encoded(Error{ErrorCode::access_violation, "another client's directory"}));
  EXPECT_EQ(list_dir(server_->root() / "127.0.0.5"), std::vector<std::string>{"boot.cfg"});
  EXPECT_EQ(download(peer, server_->port(), "f").bytes, bytes_of("shared"));  // ROOT's own files still
}

// ip-strict: a client without a directory gets ROOT/default/ when it exists, else nothing; never ROOT.
TEST(UniqueRootStrict, ClientsWithoutADirectoryGetTheDefaultTreeOrNothing) {
  auto config = test_config();
  config.unique_root = server::UniqueRoot::ip_strict;
  ServerHarness server(config);
  std::filesystem::create_directories(server.root() / "127.0.0.1");
  write_file(server.root() / "f", bytes_of("ROOT itself"));
  write_file(server.root() / "127.0.0.1" / "f", bytes_of("for 127.0.0.1"));
  server.start();
  RawPeer own;
  EXPECT_EQ(download(own, server.port(), "f").bytes, bytes_of("for 127.0.0.1"));
  RawPeer other("127.0.0.2");
  const auto refused = download(other, server.port(), "f");
  ASSERT_TRUE(refused.error) << refused.failure;
  EXPECT_EQ(code(*refused.error), 2);
  std::filesystem::create_directories(server.root() / "default");
  write_file(server.root() / "default" / "f", bytes_of("the default tree"));
  EXPECT_EQ(download(other, server.port(), "f").bytes, bytes_of("the default tree"));
}

TEST_F(UniqueRoot, DirectoryLeavingRootIsRefused) {
  RawPeer peer("127.0.0.3");
  const auto got = download(peer, server_->port(), "f");
  ASSERT_TRUE(got.error) << got.failure;
  EXPECT_EQ(code(*got.error), 2) << got.error->message;
  EXPECT_TRUE(got.bytes.empty());
}

TEST_F(UniqueRoot, TraversalOutOfTheClientDirectoryIsRefused) {
  RawPeer peer;
  for (const char* name : {"../f", "..\\f", "/../f", "x/../../f", "../127.0.0.3/secret"}) {
    const auto got = download(peer, server_->port(), name);
    ASSERT_TRUE(got.error) << name << ": " << got.failure;
    EXPECT_EQ(code(*got.error), 2) << name;
  }
}

TEST_F(UniqueRoot, UploadLandsInTheClientDirectory) {
  RawPeer peer;
  peer.send(server_->port(), Wrq{"up", Mode::octet, {}});
  auto ack0 = peer.receive();
  ASSERT_TRUE(ack0);
  ASSERT_EQ(std::get<Ack>(ack0->packet()).block, 0);
  peer.send(ack0->port, Data{1, bytes_of("uploaded")});
  auto ack1 = peer.receive();
  ASSERT_TRUE(ack1);
  EXPECT_EQ(std::get<Ack>(ack1->packet()).block, 1);
  ASSERT_TRUE(server_->wait_for_log({"transfer", "file=up", "result=ok"}));
  EXPECT_EQ(read_file(server_->root() / "127.0.0.1" / "up"), bytes_of("uploaded"));
  EXPECT_FALSE(std::filesystem::exists(server_->root() / "up"));
}

// ---- --single-port ---------------------------------------------------------------------------------

server::ServerConfig single_port_config() {
  auto config = test_config();
  config.single_port = true;
  config.timeout = 3s;  // 100 clients on few cores: no resend while a busy client is still reading
  config.max_sessions_per_client = 100;  // every client of these tests is 127.0.0.1, as behind a NAT
  return config;
}

TEST(SinglePort, HundredConcurrentDownloadsAreExactAndAllComeFromTheListeningPort) {
  ServerHarness server(single_port_config());
  constexpr int clients = 100;
  std::vector<Bytes> contents;
  std::vector<OptionList> options;
  for (int i = 0; i < clients; ++i) {
    const auto size = i % 10 == 0 ? static_cast<std::size_t>(i) * 51 : 20000 + static_cast<std::size_t>(i) * 37;
    contents.push_back(pattern(size, static_cast<unsigned>(i)));
    write_file(server.root() / ("f" + std::to_string(i)), contents.back());
    if (i % 3 == 1) {
      options.push_back({{"blksize", "1024"}, {"windowsize", "4"}});
    } else if (i % 3 == 2) {
      options.push_back({{"blksize", "1468"}, {"tsize", "0"}});
    } else {
      options.push_back({});
    }
  }
  server.start();
  std::vector<Download> results(clients);
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      RawPeer peer;
      const auto index = static_cast<std::size_t>(i);
      // 100 clients on two cores: a late ACK makes the server resend; repeats are counted, not failed.
      results[index] =
          download(peer, server.port(), "f" + std::to_string(i), options[index], Mode::octet, Repeats::counted);
    });
  }
  for (auto& thread : threads) thread.join();
  for (int i = 0; i < clients; ++i) {
    const auto& got = results[static_cast<std::size_t>(i)];
    // "packet from a second port" when any packet did not come from the listening port
    EXPECT_EQ(got.failure, "") << "client " << i << ", " << got.duplicates << " repeats";
    EXPECT_EQ(got.port, server.port()) << "client " << i;
    EXPECT_FALSE(got.error) << "client " << i;
    EXPECT_EQ(got.bytes, contents[static_cast<std::size_t>(i)]) << "client " << i;
  }
}

TEST(SinglePort, StrangerGetsError5FromTheListeningPortAndTheTransferGoesOn) {
  ServerHarness server(single_port_config());
  write_file(server.root() / "f", pattern(700));
  server.start();
  RawPeer client;
  RawPeer stranger;
  client.send(server.port(), Rrq{"f", Mode::octet, {}});
  auto data1 = client.receive();
  ASSERT_TRUE(data1);
  EXPECT_EQ(data1->port, server.port());
  stranger.send(server.port(), Ack{1});
  auto error = stranger.receive();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->port, server.port());
  EXPECT_EQ(error->bytes, encoded(Error{ErrorCode::unknown_transfer_id, "Unknown transfer ID"}));
  // An ERROR is never answered, and neither is a datagram that is no TFTP packet.
  stranger.send(server.port(), Error{ErrorCode::unknown_transfer_id, "bounce"});
  stranger.send(server.port(), bytes_of("x"));
  // A host with no transfer here is not answered: the listening port must not reflect spoofed packets.
  RawPeer elsewhere("127.0.0.2");
  elsewhere.send(server.port(), Ack{1});
  EXPECT_FALSE(elsewhere.receive(200ms)) << "a host without a transfer was answered";
  client.send(server.port(), Ack{1});
  auto data2 = client.receive();
  ASSERT_TRUE(data2);
  EXPECT_EQ(data2->port, server.port());
  EXPECT_EQ(std::get<Data>(data2->packet()).block, 2);
  EXPECT_EQ(data2->bytes.size(), 4U + 700 - 512);
  client.send(server.port(), Ack{2});
  EXPECT_TRUE(server.wait_for_log({"transfer", "file=f", "result=ok"}));
  EXPECT_FALSE(stranger.receive(200ms)) << "the stranger's ERROR or junk was answered";
}

TEST(SinglePort, RepeatedRequestDoesNotStartASecondTransfer) {
  ServerHarness server(single_port_config());
  write_file(server.root() / "f", pattern(700));
  server.start();
  RawPeer client;
  client.send(server.port(), Rrq{"f", Mode::octet, {}});
  auto data1 = client.receive();
  ASSERT_TRUE(data1);
  client.send(server.port(), Rrq{"f", Mode::octet, {}});  // as if the first DATA were late
  client.send(server.port(), Ack{1});
  auto data2 = client.receive();
  ASSERT_TRUE(data2);
  EXPECT_EQ(std::get<Data>(data2->packet()).block, 2);  // not a DATA 1 of a second transfer
  client.send(server.port(), Ack{2});
  ASSERT_TRUE(server.wait_for_log({"transfer", "file=f", "result=ok"}));
  EXPECT_FALSE(client.receive(200ms)) << "a second transfer answered the repeated request";
}

TEST(SinglePort, UploadIsExactAndAppearsOnlyWhenComplete) {
  auto config = single_port_config();
  config.allow_create = true;
  ServerHarness server(config);
  server.start();
  const auto content = pattern(1300, 4);
  RawPeer client;
  client.send(server.port(), Wrq{"up", Mode::octet, {}});
  for (std::uint16_t block = 0; block <= 3; ++block) {
    auto ack = client.receive();
    ASSERT_TRUE(ack) << "block " << block;
    EXPECT_EQ(ack->port, server.port());
    ASSERT_EQ(std::get<Ack>(ack->packet()).block, block);
    if (block == 3) break;
    EXPECT_FALSE(std::filesystem::exists(server.root() / "up")) << "visible before it is complete";
    const std::size_t offset = std::size_t{block} * 512;
    client.send(server.port(), Data{static_cast<std::uint16_t>(block + 1),
                                    std::span(content).subspan(offset, std::min<std::size_t>(512, 1300 - offset))});
  }
  ASSERT_TRUE(server.wait_for_log({"transfer", "file=up", "result=ok"}));
  EXPECT_EQ(read_file(server.root() / "up"), content);
  EXPECT_EQ(list_dir(server.root()), std::vector<std::string>{"up"});
}

// ---- --blksize-max mtu -----------------------------------------------------------------------------

// Loopback's MTU is 65536 here, so a 65464 request is granted whole; the 1500-byte case runs in a network
// namespace in integration_process_test.cpp.
void expect_mtu_grant(const std::string& listen_host) {
  auto config = test_config();
  config.listen = {server::ListenAddress{listen_host, 0}};
  config.block_size_from_mtu = true;
  config.policy.max_block_size = 512;  // not used with block_size_from_mtu
  ServerHarness server(config);
  const auto content = pattern(140000, 7);
  write_file(server.root() / "f", content);
  server.start();
  RawPeer peer;
  const auto got = download(peer, server.port(), "f", {{"blksize", "65464"}});
  ASSERT_EQ(got.failure, "");
  ASSERT_TRUE(got.oack);
  EXPECT_EQ(got.oack->options, (OptionList{{"blksize", "65464"}}));
  EXPECT_EQ(got.bytes, content);
}

TEST(BlockSizeMtu, LoopbackListenerGrantsWhatLoopbackCarries) { expect_mtu_grant("127.0.0.1"); }

// A wildcard listener asks the routing table which interface answers the client (else 1500 would give 1468).
TEST(BlockSizeMtu, WildcardListenerFindsTheInterfaceByRoute) { expect_mtu_grant("0.0.0.0"); }

}  // namespace
}  // namespace tftp::test
