// --map-file in the server: tftpd-hpa rules rewrite names before confinement (the rewritten name is checked
// like any other), `a` rules refuse, a bad file stops the start, and a reload keeps the old rules when the
// new file is bad. The rule engine itself is tested against tftpd-hpa in tests/remap/.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "server_harness.hpp"

namespace tftp::test {
namespace {

struct RemapServer {
  TempDir rules_dir;
  std::filesystem::path rules = rules_dir.path() / "tftpd.remap";
  std::unique_ptr<ServerHarness> server;

  explicit RemapServer(const std::string& rules_text) {
    write_file(rules, rules_text);
    auto config = test_config();
    config.map_file = rules.string();
    server = std::make_unique<ServerHarness>(config);
  }
};

TEST(MapFile, RewritesWindowsPathsAndCaseBeforeConfinement) {
  RemapServer s("rg \\\\ /\nr ^/+\nr .* \\L\\0\n");
  std::filesystem::create_directories(s.server->root() / "boot" / "x64");
  write_file(s.server->root() / "boot" / "x64" / "wdsnbp.com", bytes_of("nbp"));
  s.server->start();
  RawPeer peer;
  EXPECT_EQ(download(peer, s.server->port(), "\\Boot\\X64\\wdsnbp.com").bytes, bytes_of("nbp"));
  EXPECT_EQ(download(peer, s.server->port(), "/BOOT/x64/WDSNBP.COM").bytes, bytes_of("nbp"));
}

TEST(MapFile, ARewrittenNameIsStillConfined) {
  // A rule that produces a traversal gets the same refusal as a client asking for it.
  RemapServer s("r ^escape$ ../secret\nr ^abs$ /etc/passwd\n");
  write_file(s.server->outside() / "secret", bytes_of("outside"));
  write_file(s.server->root() / "etc" , bytes_of("x"));
  s.server->start();
  RawPeer peer;
  const auto escaped = download(peer, s.server->port(), "escape");
  ASSERT_TRUE(escaped.error) << escaped.failure;
  EXPECT_EQ(escaped.error->code, ErrorCode::access_violation);
  // "/etc/passwd" loses its leading slash: ROOT/etc/passwd, which does not exist (ROOT/etc is a file), so
  // ERROR 1 and not a byte of the host's /etc/passwd.
  const auto absolute = download(peer, s.server->port(), "abs");
  ASSERT_TRUE(absolute.error) << absolute.failure;
  EXPECT_EQ(absolute.error->code, ErrorCode::file_not_found);
  EXPECT_TRUE(absolute.bytes.empty());
  EXPECT_EQ(absolute.blocks, 0U);
}

TEST(MapFile, AbortRuleRefusesWithError2AndItsMessage) {
  RemapServer s("a ^private/ no\\ way\n");
  std::filesystem::create_directories(s.server->root() / "private");
  write_file(s.server->root() / "private" / "key", bytes_of("k"));
  s.server->start();
  RawPeer peer;
  const auto refused = download(peer, s.server->port(), "private/key");
  ASSERT_TRUE(refused.error) << refused.failure;
  EXPECT_EQ(refused.error->code, ErrorCode::access_violation);
  EXPECT_TRUE(refused.bytes.empty());
}

TEST(MapFile, EndlessRulesAreRefusedNotLooped) {
  RemapServer s("rg a a\n");
  write_file(s.server->root() / "a", bytes_of("a"));
  s.server->start();
  RawPeer peer;
  const auto refused = download(peer, s.server->port(), "a");
  ASSERT_TRUE(refused.error) << refused.failure;
  EXPECT_EQ(refused.error->code, ErrorCode::access_violation);
}

TEST(MapFile, BadFileStopsTheStartWithFileAndLine) {
  RemapServer s("r ok ok\nq bad rule\n");
  try {
    s.server->start();
    FAIL() << "the server started with a bad map file";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("tftpd.remap:2"), std::string::npos) << e.what();
  }
}

TEST(MapFile, ReloadTakesNewRulesAndKeepsOldOnesWhenBad) {
  TempDir dir;
  const auto rules = dir.path() / "rules";
  const auto root = dir.path() / "root";
  std::filesystem::create_directory(root);
  write_file(root / "first", bytes_of("1"));
  write_file(root / "second", bytes_of("2"));
  write_file(rules, "r ^one$ first\n");
  auto config = test_config();
  config.map_file = rules.string();
  config.root = root.string();
  asio::io_context io;
  server::ServerLog log(server::LogFormat::text, server::Verbosity::quiet, [](std::string_view) {});
  server::Server server(io, config, log);
  server.start();
  const auto port = server.local_endpoints().at(0).port();
  std::thread thread([&] { io.run(); });
  RawPeer peer;
  EXPECT_EQ(download(peer, port, "one").bytes, bytes_of("1"));

  const auto reload = [&] {
    std::promise<std::string> result;
    asio::post(io, [&] { result.set_value(server.reload_map_file()); });
    return result.get_future().get();
  };
  write_file(rules, "r ^one$ second\n");
  EXPECT_EQ(reload(), "");
  EXPECT_EQ(download(peer, port, "one").bytes, bytes_of("2"));
  write_file(rules, "r ^one$ first\nzz\n");
  EXPECT_NE(reload().find("rules:2"), std::string::npos);
  EXPECT_EQ(download(peer, port, "one").bytes, bytes_of("2"));  // the previous rules stay

  asio::post(io, [&] { server.shutdown(std::chrono::milliseconds(0)); });
  thread.join();
}

}  // namespace
}  // namespace tftp::test
