// The name steps between a request and a file (server_names.hpp), the MTU block size, and the
// command-line forms of --blksize-max and --unique-root.
#include <gtest/gtest.h>

#include <string>

#include "tftp/server/config.hpp"
#include "tftp/server/names.hpp"
#include "tftp/server_endpoint.hpp"

namespace tftp::server {
namespace {

std::string stripped(std::string name) {
  strip_pxe_garbage(name);
  return name;
}

std::string folded(std::string name) {
  fold_to_lower_case(name);
  return name;
}

std::string without_leading_separators(std::string name) {
  strip_leading_separators(name);
  return name;
}

TEST(PxeGarbage, OnlyTrailing0xFFBytesGo) {
  EXPECT_EQ(stripped("bootx64.efi\xFF\xFF"), "bootx64.efi");
  EXPECT_EQ(stripped("bootx64.efi\xFF"), "bootx64.efi");
  EXPECT_EQ(stripped("a\xFF" "b"), "a\xFF" "b");        // inside the name: kept
  EXPECT_EQ(stripped("\xFF" "ab"), "\xFF" "ab");        // leading: kept
  EXPECT_EQ(stripped("ab\xFE"), "ab\xFE");              // other high bytes are a map file's job
  EXPECT_EQ(stripped("ab\xFF\xFE\xFF"), "ab\xFF\xFE");  // only the run at the very end
  EXPECT_EQ(stripped("ab\n"), "ab\n");
  EXPECT_EQ(stripped("\xFF\xFF"), "");
  EXPECT_EQ(stripped(""), "");
}

TEST(LowerCase, FoldsAsciiOnly) {
  EXPECT_EQ(folded("BOOT/PXELINUX.0"), "boot/pxelinux.0");
  EXPECT_EQ(folded("Boot\\X64\\WdsNbp.Com"), "boot\\x64\\wdsnbp.com");
  EXPECT_EQ(folded("AZaz09@[`{"), "azaz09@[`{");  // the bytes beside A-Z stay
  EXPECT_EQ(folded("\xC3\x84" "B"), "\xC3\x84" "b");  // UTF-8 Ä is not folded
  EXPECT_EQ(folded("\xC0\xDE"), "\xC0\xDE");            // nor Latin-1 upper case
}

TEST(LeadingSeparators, SlashesAndBackslashesAtTheStartGo) {
  EXPECT_EQ(without_leading_separators("/boot/x"), "boot/x");
  EXPECT_EQ(without_leading_separators("\\boot\\x"), "boot\\x");
  EXPECT_EQ(without_leading_separators("//\\/x"), "x");
  EXPECT_EQ(without_leading_separators("x/"), "x/");
  EXPECT_EQ(without_leading_separators("a/../b"), "a/../b");  // no normalisation: confinement judges ".."
  EXPECT_EQ(without_leading_separators("/../x"), "../x");
  EXPECT_EQ(without_leading_separators("///"), "");
  EXPECT_EQ(without_leading_separators(""), "");
}

TEST(ClientDirectory, IsTheAddressAsDnsmasqWritesIt) {
  EXPECT_EQ(client_directory_name(asio::ip::make_address("192.0.2.7")), "192.0.2.7");
  EXPECT_EQ(client_directory_name(asio::ip::make_address("::ffff:192.0.2.7")), "192.0.2.7");
  EXPECT_EQ(client_directory_name(asio::ip::make_address("2001:DB8:0:0:0:0:0:7")), "2001:db8::7");
  EXPECT_EQ(client_directory_name(asio::ip::make_address("::1")), "::1");
  // A scoped link-local address names its interface; loopback is interface 1 on Linux ("lo").
  auto link_local = asio::ip::make_address_v6("fe80::7");
  link_local.scope_id(1);
  EXPECT_EQ(client_directory_name(link_local), "fe80::7%lo");
}

TEST(BlockSizeForMtu, FitsOneDatagramWithinTheRfcRange) {
  EXPECT_EQ(block_size_for_mtu(1500, false), 1468);
  EXPECT_EQ(block_size_for_mtu(1500, true), 1448);
  EXPECT_EQ(block_size_for_mtu(9000, false), 8968);
  EXPECT_EQ(block_size_for_mtu(65536, false), 65464);  // loopback: capped at RFC 2348's maximum
  EXPECT_EQ(block_size_for_mtu(65536, true), 65464);
  EXPECT_EQ(block_size_for_mtu(4294967295U, false), 65464);
  EXPECT_EQ(block_size_for_mtu(68, false), 36);  // IPv4's minimum MTU
  EXPECT_EQ(block_size_for_mtu(40, false), 8);   // below the headers: the smallest block
  EXPECT_EQ(block_size_for_mtu(0, true), 8);
}

TEST(BlockSizeMaxForm, IsANumberInRangeOrMtu) {
  EXPECT_EQ(parse_block_size_max("8"), (BlockSizeMax{false, 8}));
  EXPECT_EQ(parse_block_size_max("1468"), (BlockSizeMax{false, 1468}));
  EXPECT_EQ(parse_block_size_max("65464"), (BlockSizeMax{false, 65464}));
  EXPECT_EQ(parse_block_size_max("mtu"), (BlockSizeMax{true, 65464}));
  EXPECT_EQ(parse_block_size_max("MTU"), (BlockSizeMax{true, 65464}));
  for (const char* bad : {"", "7", "0", "65465", "99999", "-8", "+8", "8k", "1e3", "mtux", "mt", " 512",
                          "512 ", "0000512"}) {
    EXPECT_FALSE(parse_block_size_max(bad)) << bad;
  }
}

TEST(ClientDirectory, NamesThatStartWithAnAddress) {
  EXPECT_TRUE(names_client_directory("127.0.0.5/boot.cfg"));
  EXPECT_TRUE(names_client_directory("192.0.2.7\\pxe.cfg"));
  EXPECT_TRUE(names_client_directory("2001:db8::7/x"));
  EXPECT_TRUE(names_client_directory("fe80::7%lo/x"));
  EXPECT_TRUE(names_client_directory("127.0.0.5"));
  EXPECT_FALSE(names_client_directory("boot/127.0.0.5"));
  EXPECT_FALSE(names_client_directory("pxelinux.0"));
  EXPECT_FALSE(names_client_directory("127.0.0/x"));
  EXPECT_FALSE(names_client_directory(""));
}

TEST(UniqueRootForm, IsIpOrIpStrict) {
  EXPECT_EQ(parse_unique_root("ip"), UniqueRoot::ip);
  EXPECT_EQ(parse_unique_root("IP"), UniqueRoot::ip);
  EXPECT_EQ(parse_unique_root("ip-strict"), UniqueRoot::ip_strict);
  for (const char* bad : {"", "mac", "ipv4", "i", " ip", "none"}) EXPECT_FALSE(parse_unique_root(bad)) << bad;
}

}  // namespace
}  // namespace tftp::server
