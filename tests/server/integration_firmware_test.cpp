// Firmware quirks as normal outcomes (issue 17): the UEFI size probe and --refuse. In-process server on
// loopback, a raw peer playing the firmware, exact bytes on the wire.
#include <gtest/gtest.h>

#include <string>

#include "server_harness.hpp"

namespace tftp::test {
namespace {

Bytes raw(std::string_view text) { return bytes_of(text); }

// EDK II: RRQ with tsize (and blksize), reads the OACK, answers ERROR 8, then asks again without tsize.
TEST(Firmware, UefiSizeProbeIsLoggedAtInfoAsDeclinedOptionsAndTheRealRequestIsServed) {
  auto config = test_config();
  config.verbosity = server::Verbosity::normal;
  ServerHarness server(config);
  const auto content = pattern(3000, 17);
  write_file(server.root() / "bootx64.efi", content);
  server.start();
  RawPeer firmware;
  firmware.send(server.port(), Rrq{"bootx64.efi", Mode::octet, {{"tsize", "0"}, {"blksize", "1468"}}});
  const auto oack = firmware.receive();
  ASSERT_TRUE(oack);
  EXPECT_EQ(oack->bytes, raw(std::string_view("\0\6tsize\0" "3000\0blksize\0" "1468\0", 26)));
  firmware.send(oack->port, Error{ErrorCode::option_refused, "User aborted the transfer"});
  ASSERT_TRUE(server.wait_for_log({" info transfer", "file=bootx64.efi", "result=\"client declined options\""}));
  EXPECT_FALSE(firmware.receive(std::chrono::milliseconds(200)));  // nothing answers the ERROR
  const auto got = download(firmware, server.port(), "bootx64.efi", {{"blksize", "1468"}});
  EXPECT_EQ(got.failure, "");
  EXPECT_EQ(got.bytes, content);
  ASSERT_TRUE(server.wait_for_log({" info transfer", "file=bootx64.efi", "result=ok"}));
  for (const auto& line : server.lines()) EXPECT_EQ(line.find("warning"), std::string::npos) << line;
}

TEST(Firmware, RefusedOptionsAreLeftOutOfTheOack) {
  auto config = test_config();
  refuse_option(config.policy.refused, "tsize");
  refuse_option(config.policy.refused, "windowsize");
  ServerHarness server(config);
  const auto content = pattern(3000, 18);
  write_file(server.root() / "f", content);
  server.start();
  RawPeer peer;
  peer.send(server.port(), Rrq{"f", Mode::octet, {{"blksize", "1024"}, {"tsize", "0"}, {"windowsize", "4"}}});
  const auto oack = peer.receive();
  ASSERT_TRUE(oack);
  EXPECT_EQ(oack->bytes, raw(std::string_view("\0\6blksize\0" "1024\0", 15)));
  peer.send(oack->port, Error{ErrorCode::not_defined, "done"});
}

// Every option refused: the request is answered as RFC 1350 would, DATA 1 at once at 512 bytes.
TEST(Firmware, AllOptionsRefusedStartsWithData1) {
  auto config = test_config();
  for (const char* name : {"blksize", "tsize", "timeout", "windowsize"}) refuse_option(config.policy.refused, name);
  ServerHarness server(config);
  const auto content = pattern(700, 19);
  write_file(server.root() / "f", content);
  server.start();
  RawPeer peer;
  const auto got = download(peer, server.port(), "f", {{"blksize", "1428"}, {"tsize", "0"}, {"timeout", "2"}});
  EXPECT_EQ(got.failure, "");
  EXPECT_FALSE(got.oack);
  EXPECT_EQ(got.blocks, 2U);
  EXPECT_EQ(got.bytes, content);
}

}  // namespace
}  // namespace tftp::test
