// Differential tests: the same rule file and the same request names through the real tftpd-hpa (in.tftpd -m)
// and through RemapRules must give the same file or the same refusal.
//
// For each name a raw RRQ (or WRQ) goes to in.tftpd over loopback UDP. Every file in ROOT has distinct contents,
// so the DATA that comes back says which file tftpd-hpa chose. The engine's name for the same request must be a
// file with those contents; tftpd-hpa's ERROR 1 must be a name that is no file; its ERROR 2 must be a refusal
// with the same message. in.tftpd runs chrooted to ROOT (-s), so "/a" and "a" both name ROOT/a.

#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/child_process.hpp"
#include "support/files.hpp"
#include "support/raw_peer.hpp"
#include "support/requirements.hpp"
#include "support/temp_dir.hpp"
#include "tftp/server/remap.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using tftp::test::byte_view;
using tftp::test::ChildProcess;
using tftp::test::Family;
using tftp::test::free_udp_port;
using tftp::test::have_ipv6_loopback;
using tftp::test::RawPeer;
using tftp::test::read_text;
using tftp::test::Spawn;
using tftp::test::Stdio;
using tftp::test::TempDir;
using tftp::test::text_of;
using tftp::server::RemapContext;
using tftp::server::RemapRules;
using tftp::server::RemapRefusal;

constexpr const char* in_tftpd = "/opt/tftp-peers/tftpd-hpa/usr/sbin/in.tftpd";
constexpr std::chrono::milliseconds reply_timeout{3000};

// What a TFTP server did with one request.
struct Outcome {
  enum class Kind { data, error, no_reply } kind = Kind::no_reply;
  std::string data;  // DATA block 1 (every test file fits in one block); or "stored" after a WRQ
  std::uint16_t error_code = 0;
  std::string error_message;

  std::string describe() const {
    switch (kind) {
      case Kind::data: return "DATA \"" + data + "\"";
      case Kind::error: return "ERROR " + std::to_string(error_code) + " \"" + error_message + "\"";
      case Kind::no_reply: return "no reply";
    }
    return {};
  }
};

void write_file(const fs::path& path, std::string_view contents, fs::perms perms = fs::perms(0644)) {
  tftp::test::write_file(path, contents);
  fs::permissions(path, perms);
}

std::optional<std::string> read_regular_file(const fs::path& path) {
  std::error_code error;
  if (!fs::is_regular_file(path, error)) return std::nullopt;
  return read_text(path);
}

std::string request(std::uint16_t opcode, std::string_view name) {
  std::string packet{static_cast<char>(opcode >> 8U), static_cast<char>(opcode & 0xFFU)};
  packet.append(name);
  packet.push_back('\0');
  packet.append("octet");
  packet.push_back('\0');
  return packet;
}

std::uint16_t opcode_of(std::string_view packet) {
  if (packet.size() < 4) return 0;
  return static_cast<std::uint16_t>((static_cast<unsigned char>(packet[0]) << 8U) | static_cast<unsigned char>(packet[1]));
}

std::uint16_t second_word(std::string_view packet) {
  return static_cast<std::uint16_t>((static_cast<unsigned char>(packet[2]) << 8U) | static_cast<unsigned char>(packet[3]));
}

Outcome error_outcome(std::string_view packet) {
  Outcome outcome{Outcome::Kind::error, {}, second_word(packet), std::string(packet.substr(4))};
  outcome.error_message = outcome.error_message.substr(0, outcome.error_message.find('\0'));
  return outcome;
}

std::string block_packet(std::uint16_t opcode, std::uint16_t block, std::string_view payload = {}) {
  std::string packet{static_cast<char>(opcode >> 8U), static_cast<char>(opcode & 0xFFU),
                     static_cast<char>(block >> 8U), static_cast<char>(block & 0xFFU)};
  packet.append(payload);
  return packet;
}

// in.tftpd -L in its own process group; the group (server and its per-request workers) is killed on destruction.
class TftpdHpa {
 public:
  TftpdHpa(const fs::path& rules, const fs::path& root, bool v6)
      : family_(v6 ? Family::v6 : Family::v4),
        port_(free_udp_port(family_)),
        child_(Spawn{.argv = {in_tftpd, "-L", "-a", (v6 ? "[::1]:" : "127.0.0.1:") + std::to_string(port_), "-u", "root",
                              "-m", rules.string(), "-s", root.string()},
                     .out = Stdio::null,
                     .err = Stdio::null,
                     .own_group = true}) {}

  // True once the server answers a request; bounded by the number of probes, each a bounded receive.
  bool wait_ready() const {
    for (int attempt = 0; attempt < 50; ++attempt) {
      RawPeer socket(family_);
      socket.send(port_, byte_view(request(1, "__probe__")));
      if (const auto reply = socket.receive(200ms)) {
        if (opcode_of(text_of(reply->bytes)) == 3) socket.send_to(byte_view(block_packet(4, 1)), reply->from);
        return true;
      }
    }
    return false;
  }

  // Exit status within `limit` (a bad rule file ends in.tftpd at start-up), nullopt while it runs.
  std::optional<int> exit_status(std::chrono::milliseconds limit) { return child_.wait(limit); }

  Outcome get(std::string_view name) const {
    RawPeer socket(family_);
    socket.send(port_, byte_view(request(1, name)));
    const auto datagram = socket.receive(reply_timeout);
    if (!datagram) return {};
    const std::string reply = text_of(datagram->bytes);
    if (opcode_of(reply) == 5) return error_outcome(reply);
    if (opcode_of(reply) != 3 || second_word(reply) != 1) return {};
    socket.send_to(byte_view(block_packet(4, 1)), datagram->from);  // the last block: lets the worker finish
    return Outcome{Outcome::Kind::data, reply.substr(4)};
  }

  // A one-block upload; "stored" once the worker acknowledged the data.
  Outcome put(std::string_view name, std::string_view contents) const {
    RawPeer socket(family_);
    socket.send(port_, byte_view(request(2, name)));
    auto datagram = socket.receive(reply_timeout);
    if (!datagram) return {};
    std::string reply = text_of(datagram->bytes);
    if (opcode_of(reply) == 5) return error_outcome(reply);
    if (opcode_of(reply) != 4 || second_word(reply) != 0) return {};
    socket.send_to(byte_view(block_packet(3, 1, contents)), datagram->from);
    datagram = socket.receive(reply_timeout);
    if (!datagram) return {};
    reply = text_of(datagram->bytes);
    if (opcode_of(reply) != 4 || second_word(reply) != 1) return {};
    return Outcome{Outcome::Kind::data, "stored"};
  }

 private:
  Family family_;
  std::uint16_t port_;
  ChildProcess child_;
};

// The file a mapped name opens under chrooted tftpd-hpa.
fs::path beneath(const fs::path& root, const std::string& name) {
  return root / std::string_view(name).substr(std::min(name.find_first_not_of('/'), name.size()));
}

// Runs one rule file through both and compares request by request.
class Differential : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(in_tftpd, X_OK) != 0) {
      TFTP_SKIP_MISSING(std::string("tftpd-hpa is not installed at ") + in_tftpd + " (see PEERS.md)");
    }
    if (::geteuid() != 0) TFTP_SKIP_MISSING("in.tftpd -s -u root needs root (chroot)");
    root_ = dir_.path() / "root";
    rules_path_ = dir_.path() / "tftpd.remap";
    write_file(root_ / "boot/x64/wdsnbp.com", "wdsnbp for x64");
    write_file(root_ / "boot/bcd", "lower bcd");
    write_file(root_ / "Boot/BCD", "upper BCD");
    write_file(root_ / "pxelinux.0", "pxelinux");
    write_file(root_ / "pxelinux.cfg/default", "shared default");
    write_file(root_ / "127.0.0.1/pxelinux.cfg/default", "default for 127.0.0.1");
    write_file(root_ / "7F000001/pxelinux.cfg/default", "default for 7F000001");
    write_file(root_ / "secret/key", "secret key");
    write_file(root_ / "public/key", "public key");
    for (const char* name : {"x", "y", "z", "a", "b", "c", "d"}) write_file(root_ / name, std::string("file ") + name);
  }

  bool start(std::string_view rules, bool v6 = false) {
    write_file(rules_path_, rules);
    auto parsed = RemapRules::parse(rules, rules_path_.string());
    if (!parsed) {
      ADD_FAILURE() << "engine rejects the rule file: " << parsed.error().to_string();
      return false;
    }
    engine_.emplace(std::move(parsed).value());
    server_.emplace(rules_path_, root_, v6);
    v6_ = v6;
    if (!server_->wait_ready()) {
      ADD_FAILURE() << "in.tftpd did not answer on loopback";
      return false;
    }
    return true;
  }

  RemapContext context(bool is_put) const {
    return RemapContext{is_put, asio::ip::make_address(v6_ ? "::1" : "127.0.0.1")};
  }

  // Both agree on this RRQ; returns what tftpd-hpa did, for tests that also pin the answer down.
  Outcome same_get(std::string_view name) {
    const Outcome peer = server_->get(name);
    expect_engine_agrees(name, peer, false);
    return peer;
  }

  void expect_engine_agrees(std::string_view name, const Outcome& peer, bool is_put) {
    const auto mapped = engine_->apply(name, context(is_put));
    const std::string label = std::string(is_put ? "WRQ " : "RRQ ") + "\"" + std::string(name) + "\": tftpd-hpa gave " +
                              peer.describe();
    if (!mapped) {
      const auto refused = mapped.error();
      EXPECT_EQ(peer.kind, Outcome::Kind::error) << label << ", engine refused: " << refused.message;
      EXPECT_EQ(peer.error_code, 2) << label;
      EXPECT_EQ(peer.error_message, refused.message) << label;
      return;
    }
    const std::string& name_out = mapped.value();
    const auto contents = read_regular_file(beneath(root_, name_out));
    switch (peer.kind) {
      case Outcome::Kind::data:
        if (is_put) return;  // the caller compares the stored file
        EXPECT_EQ(contents, std::optional<std::string>(peer.data)) << label << ", engine mapped to \"" << name_out << "\"";
        break;
      case Outcome::Kind::error:
        // ERROR 1, or ERROR 0 "Is a directory": either way no regular file under the engine's name.
        EXPECT_NE(peer.error_code, 2) << label << ", engine mapped to \"" << name_out << "\"";
        EXPECT_FALSE(contents.has_value()) << label << ", engine mapped to existing \"" << name_out << "\"";
        break;
      case Outcome::Kind::no_reply:
        ADD_FAILURE() << label << ", engine mapped to \"" << name_out << "\"";
        break;
    }
  }

  TempDir dir_;
  fs::path root_;
  fs::path rules_path_;
  bool v6_ = false;
  std::optional<RemapRules> engine_;
  std::optional<TftpdHpa> server_;
};

constexpr std::string_view pxe_rules =
    "# PXE ROMs and Windows Deployment Services send backslashes, upper case and a leading slash\n"
    "rg \\\\ /\n"
    "r ^/+\n"
    "r .* \\L\\0\n";

TEST_F(Differential, PxeWindowsPathsLeadingSlashAndMixedCase) {
  ASSERT_TRUE(start(pxe_rules));
  EXPECT_EQ(same_get("\\Boot\\X64\\wdsnbp.com").data, "wdsnbp for x64");
  EXPECT_EQ(same_get("/boot/bcd").data, "lower bcd");
  EXPECT_EQ(same_get("\\BOOT\\BCD").data, "lower bcd");
  EXPECT_EQ(same_get("//PXELINUX.0").data, "pxelinux");
  EXPECT_EQ(same_get("\\boot/missing.efi").error_code, 1);
}

TEST_F(Differential, WithoutRulesTheCaseAndTheBackslashesStay) {
  ASSERT_TRUE(start("# no rules\n"));
  EXPECT_EQ(same_get("Boot/BCD").data, "upper BCD");
  EXPECT_EQ(same_get("/boot/bcd").data, "lower bcd");
  EXPECT_EQ(same_get("\\boot\\bcd").error_code, 1);
}

TEST_F(Differential, CaseInsensitiveRulesAndGroups) {
  ASSERT_TRUE(start("ri ^(/?)boot/bcd$ \\1Boot/BCD\n"
                    "ri ^/?PXELINUX\\.(.*)$ pxelinux.\\1\n"
                    "r ^(b)(o)(o)(t)/(x64)/ \\U\\1\\E\\2\\3\\4/\\5/\n"));
  EXPECT_EQ(same_get("BOOT/bcd").data, "upper BCD");
  EXPECT_EQ(same_get("/boot/BCD").data, "upper BCD");
  EXPECT_EQ(same_get("/PxeLinux.0").data, "pxelinux");
  EXPECT_EQ(same_get("boot/x64/wdsnbp.com").error_code, 1);  // rewritten to Boot/x64/..., which is not there
}

TEST_F(Differential, PerClientDirectoriesByAddressAndHex) {
  ASSERT_TRUE(start("r ^/?pxelinux\\.cfg/ \\i/pxelinux.cfg/\n"
                    "r ^hex/ \\x/\n"
                    "r ^lowhex/ \\L\\x/\n"));
  EXPECT_EQ(same_get("pxelinux.cfg/default").data, "default for 127.0.0.1");
  EXPECT_EQ(same_get("/pxelinux.cfg/default").data, "default for 127.0.0.1");
  EXPECT_EQ(same_get("hex/pxelinux.cfg/default").data, "default for 7F000001");
  EXPECT_EQ(same_get("lowhex/pxelinux.cfg/default").error_code, 1);  // 7f000001/ does not exist
}

TEST_F(Differential, AbortRulesRefuseWithTheSameMessage) {
  ASSERT_TRUE(start("a ^/?secret/\n"
                    "a \\.\\. No\\ dot-dot\\ here\n"
                    "~a ^/?(boot|public|pxelinux)\n"));
  EXPECT_EQ(same_get("secret/key").error_message, "Access denied");
  EXPECT_EQ(same_get("/secret/key").error_code, 2);
  EXPECT_EQ(same_get("public/../secret/key").error_message, "public/No dot-dot here/secret/key");
  EXPECT_EQ(same_get("x").error_code, 2);  // not under an allowed prefix
  EXPECT_EQ(same_get("public/key").data, "public key");
  EXPECT_EQ(same_get("/pxelinux.0").data, "pxelinux");
}

TEST_F(Differential, GetAndPutRules) {
  write_file(root_ / "get/f", "get f");
  write_file(root_ / "put/f", "old", fs::perms(0666));
  write_file(root_ / "f", "plain f", fs::perms(0666));
  ASSERT_TRUE(start("rG ^ get/\n"
                    "rP ^ put/\n"
                    "aP ^put/get/.* No\\ uploads\\ here\n"));
  EXPECT_EQ(same_get("f").data, "get f");

  const Outcome stored = server_->put("f", "uploaded by tftpd-hpa");
  ASSERT_EQ(stored.kind, Outcome::Kind::data) << stored.describe();
  expect_engine_agrees("f", stored, true);
  const auto mapped = engine_->apply("f", context(true));
  ASSERT_TRUE(mapped.has_value());
  EXPECT_EQ(read_regular_file(beneath(root_, mapped.value())),
            std::optional<std::string>("uploaded by tftpd-hpa"));
  EXPECT_EQ(read_regular_file(root_ / "f"), std::optional<std::string>("plain f"));

  const Outcome refused = server_->put("get/f", "must not land");
  EXPECT_EQ(refused.error_message, "No uploads here");
  expect_engine_agrees("get/f", refused, true);
}

TEST_F(Differential, EndStopsProcessing) {
  ASSERT_TRUE(start("re ^a$ b\n"
                    "r ^b$ c\n"
                    "~e ^x\n"
                    "r ^x$ y\n"));
  EXPECT_EQ(same_get("a").data, "file b");  // e: the b -> c rule is not reached
  EXPECT_EQ(same_get("b").data, "file c");  // ~e: "c" does not start with x, processing ends
  EXPECT_EQ(same_get("x").data, "file y");
}

TEST_F(Differential, RestartResumesAtTheSecondRule) {
  ASSERT_TRUE(start("r ^x$ y\n"
                    "rs ^a$ x\n"
                    "r ^x$ z\n"));
  EXPECT_EQ(same_get("a").data, "file z");  // a restart at rule 1 would have given y
  EXPECT_EQ(same_get("x").data, "file y");
}

TEST_F(Differential, EndlessRestartIsRefused) {
  ASSERT_TRUE(start("r ^c$ d\n"
                    "s ^a\n"
                    "s ^a\n"));
  EXPECT_EQ(same_get("a").error_message, "Remap table failure");
  EXPECT_EQ(same_get("c").data, "file d");
}

TEST_F(Differential, FamilyRulesOnIpv4) {
  ASSERT_TRUE(start("r6 ^ v6/\n"
                    "r4 ^(.*)$ \\1\n"
                    "r4 ^y$ z\n"));
  EXPECT_EQ(same_get("y").data, "file z");
  EXPECT_EQ(same_get("x").data, "file x");
}

TEST_F(Differential, FamilyRulesAndAddressesOnIpv6) {
  if (!have_ipv6_loopback()) GTEST_SKIP() << "no IPv6 loopback (::1) on this machine";
  write_file(root_ / "::1/pxelinux.cfg/default", "default for ::1");
  write_file(root_ / "00000000000000000000000000000001/f", "hex for ::1");
  ASSERT_TRUE(start("r4 ^ v4/\n"
                    "r6 ^/?pxelinux\\.cfg/ \\i/pxelinux.cfg/\n"
                    "r6 ^hex/ \\x/\n",
                    true));
  EXPECT_EQ(same_get("pxelinux.cfg/default").data, "default for ::1");
  EXPECT_EQ(same_get("hex/f").data, "hex for ::1");
  EXPECT_EQ(same_get("x").data, "file x");
}

TEST_F(Differential, GarbageAfterTheNameIsStrippedByARule) {
  ASSERT_TRUE(start("rg [^[:print:]]\n"));
  EXPECT_EQ(same_get("pxelinux.0\xff\xff").data, "pxelinux");
  EXPECT_EQ(same_get("pxelinux.0").data, "pxelinux");
}

// tftpd-hpa's own examples/sample.rules, unchanged (tabs and comments included).
constexpr std::string_view sample_rules =
    "#\n"
    "# Sample rule file for the -m (remapping option)\n"
    "#\n"
    "ri\t^[a-z]:\t\t\t\t# Remove \"drive letters\"\n"
    "rg\t\\\\\t\t/\t\t# Convert backslashes to slashes\n"
    "rg\t\\#\t\t@\t\t# Convert hash marks to @ signs\n"
    "rg\t/../\t\t/..no../\t# Convert /../ to /..no../\n"
    "e\t^ok/\t\t\t\t# These are always ok\n"
    "r\t^[^/]\t\t/tftpboot/\\0\t# Convert non-absolute files\n"
    "a\t\\.pvt$\t\t\t\t# Reject requests for private files\n";

TEST_F(Differential, TftpdHpaSampleRuleFileUnchanged) {
  write_file(root_ / "tftpboot/boot/file", "tftpboot boot file");
  write_file(root_ / "boot/file", "boot file");
  write_file(root_ / "tftpboot/a@b", "hash became at");
  write_file(root_ / "tftpboot/foo/..no../bar", "no dot-dot");
  write_file(root_ / "tftpboot/x.pvt", "private");
  write_file(root_ / "ok/x", "ok x");
  ASSERT_TRUE(start(sample_rules));
  EXPECT_EQ(same_get("C:\\boot\\file").data, "boot file");  // no drive letter; the backslash made it absolute
  EXPECT_EQ(same_get("c:boot/file").data, "tftpboot boot file");
  EXPECT_EQ(same_get("boot\\file").data, "tftpboot boot file");
  EXPECT_EQ(same_get("a#b").data, "hash became at");
  EXPECT_EQ(same_get("foo/../bar").data, "no dot-dot");
  EXPECT_EQ(same_get("ok/x").data, "ok x");
  EXPECT_EQ(same_get("x.pvt").error_message, "Access denied");
  EXPECT_EQ(same_get("/pxelinux.0").data, "pxelinux");  // absolute: left alone
  EXPECT_EQ(same_get("pxelinux.0").error_code, 1);      // relative: looked up in /tftpboot/
}

// Many names through one realistic map file; each must agree, whatever tftpd-hpa does with it.
TEST_F(Differential, NameCorpusThroughACombinedRuleFile) {
  ASSERT_TRUE(start("rg \\\\ /\n"
                    "rg //+ /\n"
                    "r ^/\n"
                    "a ^secret/ Go\\ away\n"
                    "ri ^boot/bcd$ Boot/BCD\n"
                    "re ^(pxelinux\\.cfg/.*)$ \\i/\\1\n"
                    "ri ^pxelinux\\.0$ pxelinux.0\n"
                    "rs ^(.)\\.tmp$ \\1\n"
                    "r ^([a-c])$ \\U\\1\n"
                    "r ^([A-C])$ \\L\\1\\1\n"));
  for (const char* name :
       {"\\Boot\\BCD", "boot\\bcd", "/BOOT/bcd", "//boot//bcd", "pxelinux.cfg/default", "\\pxelinux.cfg\\default",
        "PXELINUX.0", "secret/key", "\\secret\\key", "x.tmp", "a.tmp", "a", "b", "d", "/", "\\", "pxelinux.cfg/",
        "Secret/key", "#", "a b", "\xff", "boot/x64/wdsnbp.com"}) {
    same_get(name);
  }
}

// tftpd-hpa 5.2 accepts these combinations: "a" wins over "r", and "e" over "s".
TEST_F(Differential, FlagCombinationsTftpdHpaAccepts) {
  write_file(root_ / "---", "dashes");
  ASSERT_TRUE(start("ra ^secret/ denied:\\\\\\ \n"
                    "res ^x$ y\n"
                    "r ^y$ z\n"
                    "rgi q -\n"));
  EXPECT_EQ(same_get("secret/key").error_message, "denied:\\ key");
  EXPECT_EQ(same_get("x").data, "file y");
  EXPECT_EQ(same_get("QqQ").data, "dashes");
}

TEST_F(Differential, BothRejectABadRuleFile) {
  write_file(rules_path_, "r a b\nr (unclosed x\n");
  EXPECT_FALSE(RemapRules::parse("r a b\nr (unclosed x\n", "f").has_value());
  TftpdHpa server(rules_path_, root_, false);
  EXPECT_EQ(server.exit_status(5s), std::optional<int>(78));  // EX_CONFIG
}

}  // namespace
