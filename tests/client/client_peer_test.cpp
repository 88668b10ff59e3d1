// The client against tftpd-hpa (PEERS.md) on a loopback port: exact bytes both ways, every size class,
// block sizes 8 to 65464, netascii, and the tftp-client program itself for stdin/stdout and exit codes.
// Skipped with a message where tftpd-hpa is not unpacked or the test does not run as root.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>

#include "client_test_support.hpp"
#include "support/child_process.hpp"
#include "support/raw_peer.hpp"
#include "support/requirements.hpp"
#include "tftp/client/client.hpp"

namespace tftp::test {
namespace {

using namespace std::chrono_literals;
using client::Exit;

constexpr const char* tftpd_path = "/opt/tftp-peers/tftpd-hpa/usr/sbin/in.tftpd";

// A peer server in the foreground serving root on a free loopback port, answering once a probe file can
// be fetched. make_argv gets the port and returns the command line.
class PeerServer {
 public:
  using MakeArgv = std::function<std::vector<std::string>(std::uint16_t port)>;

  PeerServer(const std::filesystem::path& root, Family family, const MakeArgv& make_argv)
      : family_(family), port_(free_udp_port(family)), child_(spawn(root, make_argv(port_))) {}

  std::uint16_t port() const { return port_; }

  // Fetches the one-byte probe with RRQ/ACK, waiting at most 50 ms per try and 100 tries in all.
  bool ready() const {
    RawPeer socket(family_);
    for (int attempt = 0; attempt < 100; ++attempt) {
      socket.send(port_, Rrq{"probe", Mode::octet, {}});
      const auto reply = socket.receive(50ms);
      if (!reply) continue;
      socket.send_to(Ack{1}, reply->from);
      return true;
    }
    return false;
  }

 private:
  static Spawn spawn(const std::filesystem::path& root, std::vector<std::string> argv) {
    write_file(root / "probe", "p");
    return Spawn{.argv = std::move(argv), .own_group = true};
  }

  Family family_;
  std::uint16_t port_;
  ChildProcess child_;
};

class ClientPeer : public testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(tftpd_path)) {
      TFTP_SKIP_MISSING(std::string("tftpd-hpa is not unpacked at ") + tftpd_path + " (see PEERS.md)");
    }
    if (::geteuid() != 0) TFTP_SKIP_MISSING("tftpd-hpa -u root needs root");
    start(Family::v4);
  }

  void start(Family family) {
    server_.reset();
    const std::string root = root_.path().string();
    server_.emplace(root_.path(), family, [family, root](std::uint16_t port) {
      const std::string address = (family == Family::v6 ? "[::1]:" : "127.0.0.1:") + std::to_string(port);
      return std::vector<std::string>{tftpd_path, "-L", "-a", address, "-u", "root", "-c", "-s", root};
    });
    ASSERT_TRUE(server_->ready()) << "tftpd-hpa did not answer on port " << server_->port();
  }

  client::Target target(std::string remote, std::string local) const {
    return target_at(server_->port(), std::move(remote), std::move(local));
  }

  static client::Settings settings(std::optional<std::uint16_t> block_size = client::default_request_block_size) {
    client::Settings s;
    s.block_size = block_size;
    return s;
  }

  void expect_get(std::size_t size, std::optional<std::uint16_t> block_size) {
    SCOPED_TRACE(testing::Message() << "size " << size << " blksize " << block_size.value_or(0));
    const std::string name = "get-" + std::to_string(size);
    const std::string content = pattern_text(size);
    write_file(root_ / name, content);
    const auto outcome = client::get(target(name, local_ / name), settings(block_size));
    ASSERT_EQ(outcome.exit, Exit::success) << outcome.message;
    EXPECT_FALSE(outcome.warning.has_value()) << *outcome.warning;
    EXPECT_EQ(outcome.bytes, size);
    EXPECT_EQ(outcome.negotiated.tsize, std::optional<std::uint64_t>(size));
    EXPECT_EQ(outcome.negotiated.block_size, block_size.value_or(512));
    EXPECT_TRUE(read_text(local_ / name) == content) << "content differs";
  }

  void expect_put(std::size_t size, std::optional<std::uint16_t> block_size) {
    SCOPED_TRACE(testing::Message() << "size " << size << " blksize " << block_size.value_or(0));
    const std::string name = "put-" + std::to_string(size) + "-" + std::to_string(block_size.value_or(0));
    const std::string content = pattern_text(size);
    write_file(local_ / name, content);
    const auto outcome = client::put(target(name, local_ / name), settings(block_size));
    ASSERT_EQ(outcome.exit, Exit::success) << outcome.message;
    EXPECT_EQ(outcome.bytes, size);
    EXPECT_TRUE(read_text(root_ / name) == content) << "content differs";
  }

  TempDir root_;
  TempDir local_;
  std::optional<PeerServer> server_;
};

TEST_F(ClientPeer, GetEverySizeClass) {
  for (const std::size_t size : {0U, 1U, 511U, 512U, 513U, 1427U, 1428U, 1429U, 1U << 20U}) {
    expect_get(size, client::default_request_block_size);
  }
}

TEST_F(ClientPeer, GetWithBlockSizes) {
  expect_get(1U << 20U, 512);
  expect_get(1U << 20U, 65464);
  expect_get(65464U * 3U, 65464);
  expect_get(1000, std::nullopt);
}

TEST_F(ClientPeer, GetMoreThan65535Blocks) { expect_get(65537U * 8U + 3U, 8); }

TEST_F(ClientPeer, PutEverySizeClass) {
  for (const std::size_t size : {0U, 1U, 511U, 512U, 513U, 1U << 20U}) expect_put(size, client::default_request_block_size);
  expect_put(1U << 20U, 65464);
  expect_put(5000, 512);
}

TEST_F(ClientPeer, PutMoreThan65535Blocks) { expect_put(65536U * 8U, 8); }

TEST_F(ClientPeer, NetasciiRoundTripsLineEnds) {
  const std::string text("one\ntwo\r\nthree\n\0four\r", 20);
  write_file(root_ / "text", text);
  auto s = settings();
  s.mode = Mode::netascii;
  const auto got = client::get(target("text", local_ / "text"), s);
  ASSERT_EQ(got.exit, Exit::success) << got.message;
  EXPECT_EQ(read_text(local_ / "text"), text);
  const auto put = client::put(target("text-back", local_ / "text"), s);
  ASSERT_EQ(put.exit, Exit::success) << put.message;
  EXPECT_EQ(read_text(root_ / "text-back"), text);
}

TEST_F(ClientPeer, MissingRemoteFileIsAServerErrorAndNoFile) {
  write_file(local_ / "keep", "old");
  const auto outcome = client::get(target("no-such-file", local_ / "keep"), settings());
  EXPECT_EQ(outcome.exit, Exit::server_error);
  EXPECT_EQ(outcome.message, "server error 1: File not found");
  EXPECT_EQ(read_text(local_ / "keep"), "old");
  EXPECT_EQ(list_dir(local_.path()), std::vector<std::string>{"keep"});
}

TEST_F(ClientPeer, GetOverIpv6) {
  if (!have_ipv6_loopback()) GTEST_SKIP() << "::1 is not available here";
  start(Family::v6);
  write_file(root_ / "six", pattern_text(3000));
  const auto outcome = client::get(
      client::Target{{"::1", server_->port()}, "six", local_ / "six", std::nullopt}, settings());
  ASSERT_EQ(outcome.exit, Exit::success) << outcome.message;
  EXPECT_EQ(read_text(local_ / "six"), pattern_text(3000));
}

// ---- atftpd: the one Debian server that speaks windowsize (RFC 7440) --------------------------------

constexpr const char* atftpd_path = "/usr/sbin/atftpd";

class ClientAtftpd : public testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(atftpd_path)) TFTP_SKIP_MISSING("atftpd is not installed (apt-get install atftpd)");
    if (::geteuid() != 0) TFTP_SKIP_MISSING("atftpd --user root needs root");
    const std::string root = root_.path().string();
    server_.emplace(root_.path(), Family::v4, [root](std::uint16_t port) {
      return std::vector<std::string>{atftpd_path,  "--daemon", "--no-fork", "--port",  std::to_string(port),
                                      "--bind-address", "127.0.0.1", "--user", "root", "--group", "root", root};
    });
    ASSERT_TRUE(server_->ready()) << "atftpd did not answer on port " << server_->port();
  }

  client::Settings windowed(std::uint16_t block_size, std::uint16_t window_size) const {
    client::Settings s;
    s.block_size = block_size;
    s.window_size = window_size;
    return s;
  }

  TempDir root_;
  TempDir local_;
  std::optional<PeerServer> server_;
};

TEST_F(ClientAtftpd, GetAndPutWithWindows) {
  const std::string content = pattern_text((1U << 20U) + 7U);
  write_file(root_ / "f", content);
  for (const auto& [block_size, window_size] : {std::pair<std::uint16_t, std::uint16_t>{1428, 8}, {512, 64}, {8192, 4}}) {
    SCOPED_TRACE(testing::Message() << "blksize " << block_size << " windowsize " << window_size);
    const auto got = client::get(target_at(server_->port(), "f", local_ / "f"), windowed(block_size, window_size));
    ASSERT_EQ(got.exit, Exit::success) << got.message;
    EXPECT_EQ(got.negotiated.window_size, window_size);
    EXPECT_TRUE(read_text(local_ / "f") == content) << "downloaded bytes differ";
    const std::string back = "back-" + std::to_string(window_size);
    const auto put = client::put(target_at(server_->port(), back, local_ / "f"), windowed(block_size, window_size));
    ASSERT_EQ(put.exit, Exit::success) << put.message;
    EXPECT_TRUE(read_text(root_ / back) == content) << "uploaded bytes differ";
  }
}

// ---- This project's tftp-server --------------------------------------------------------------------

#ifdef TFTP_SERVER_BINARY
class ClientOwnServer : public testing::Test {
 protected:
  void start(Family family, std::vector<std::string> flags) {
    const std::string root = root_.path().string();
    server_.emplace(root_.path(), family, [family, root, flags](std::uint16_t port) {
      std::vector<std::string> argv{TFTP_SERVER_BINARY, "-q", "-l",
                                    (family == Family::v6 ? "[::1]:" : "127.0.0.1:") + std::to_string(port)};
      // As root (CI) the server would drop to nobody, who cannot write the test's private directory.
      if (::geteuid() == 0) argv.insert(argv.end(), {"--user", "root"});
      argv.insert(argv.end(), flags.begin(), flags.end());
      argv.push_back(root);
      return argv;
    });
    ASSERT_TRUE(server_->ready()) << "tftp-server did not answer on port " << server_->port();
  }

  client::Report get(const std::string& name, client::Settings settings = {}, const std::string& host = "127.0.0.1") {
    return client::get(client::Target{{host, server_->port()}, name, local_ / name, std::nullopt}, settings);
  }

  TempDir root_;
  TempDir local_;
  std::optional<PeerServer> server_;
};

TEST_F(ClientOwnServer, GetAndPutEverySizeClass) {
  start(Family::v4, {"--create"});
  for (const std::size_t size : {0U, 1U, 511U, 512U, 513U, 1U << 20U}) {
    SCOPED_TRACE(testing::Message() << "size " << size);
    const std::string name = "f" + std::to_string(size);
    write_file(root_ / name, pattern_text(size));
    const auto got = get(name);
    ASSERT_EQ(got.exit, Exit::success) << got.message;
    EXPECT_TRUE(read_text(local_ / name) == pattern_text(size)) << "downloaded bytes differ";
    const auto put = client::put(target_at(server_->port(), "up-" + name, local_ / name), {});
    ASSERT_EQ(put.exit, Exit::success) << put.message;
    EXPECT_TRUE(read_text(root_ / ("up-" + name)) == pattern_text(size)) << "uploaded bytes differ";
  }
}

TEST_F(ClientOwnServer, MoreThan65535BlocksWindowsAndNetascii) {
  start(Family::v4, {"--create"});
  write_file(root_ / "big", pattern_text(65536U * 8U + 1U));
  client::Settings tiny;
  tiny.block_size = 8;
  tiny.window_size = 16;
  const auto got = get("big", tiny);
  ASSERT_EQ(got.exit, Exit::success) << got.message;
  EXPECT_TRUE(read_text(local_ / "big") == pattern_text(65536U * 8U + 1U)) << "downloaded bytes differ";

  const std::string text("a\nb\r\n\0c\r", 9);
  write_file(root_ / "text", text);
  client::Settings ascii;
  ascii.mode = Mode::netascii;
  const auto lines = get("text", ascii);
  ASSERT_EQ(lines.exit, Exit::success) << lines.message;
  EXPECT_EQ(read_text(local_ / "text"), text);
}

TEST_F(ClientOwnServer, RefusalsAreServerErrors) {
  start(Family::v4, {});
  write_file(local_ / "keep", "old");
  const auto missing = get("keep");
  EXPECT_EQ(missing.exit, Exit::server_error) << missing.message;
  EXPECT_EQ(read_text(local_ / "keep"), "old");
  const auto refused = client::put(target_at(server_->port(), "new", local_ / "keep"), {});
  EXPECT_EQ(refused.exit, Exit::server_error) << refused.message;  // read-only without --create
  EXPECT_FALSE(std::filesystem::exists(root_ / "new"));
  EXPECT_EQ(list_dir(local_.path()), std::vector<std::string>{"keep"});
}

TEST_F(ClientOwnServer, GetOverIpv6) {
  if (!have_ipv6_loopback()) GTEST_SKIP() << "::1 is not available here";
  start(Family::v6, {});
  write_file(root_ / "six", pattern_text(5000));
  const auto got = get("six", {}, "::1");
  ASSERT_EQ(got.exit, Exit::success) << got.message;
  EXPECT_EQ(read_text(local_ / "six"), pattern_text(5000));
}
#endif

// ---- The program -----------------------------------------------------------------------------------

#ifdef TFTP_CLIENT_BINARY
struct Run {
  int exit = -1;
  std::string out;
  std::string err;
};

// Runs tftp-client in scratch (a LOCAL named by default lands there) to its end; stdin_file (a few KiB: it
// is written to the pipe before the output is read) is its standard input.
Run run_client(const TempDir& scratch, std::vector<std::string> arguments, const std::filesystem::path& stdin_file = {}) {
  arguments.insert(arguments.begin(), TFTP_CLIENT_BINARY);
  ChildProcess client(Spawn{.argv = std::move(arguments),
                            .in = stdin_file.empty() ? Stdio::null : Stdio::pipe,
                            .out = Stdio::pipe,
                            .err = Stdio::pipe,
                            .directory = scratch.path()});
  if (!stdin_file.empty()) client.write(read_text(stdin_file));
  client.close_stdin();
  Run run;
  run.exit = client.wait(60s).value_or(-1);
  run.out = client.output();
  run.err = client.errors();
  return run;
}

TEST_F(ClientPeer, ProgramGetsToStdoutAndPutsFromStdin) {
  TempDir scratch;
  write_file(root_ / "f", pattern_text(70000));
  const std::string server = "127.0.0.1:" + std::to_string(server_->port());
  const auto got = run_client(scratch, {"get", "-q", server, "f", "-"});
  EXPECT_EQ(got.exit, 0) << got.err;
  EXPECT_TRUE(got.out == pattern_text(70000)) << "stdout differs";

  write_file(local_ / "in", pattern_text(5000));
  const auto put = run_client(scratch, {"put", "-q", "-", "tftp://" + server + "/from%20stdin"}, local_ / "in");
  EXPECT_EQ(put.exit, 0) << put.err;
  EXPECT_TRUE(read_text(root_ / "from stdin") == pattern_text(5000)) << "uploaded bytes differ";
}

TEST_F(ClientPeer, ProgramGetsIntoItsDefaultLocalName) {
  TempDir scratch;
  write_file(root_ / "named.bin", pattern_text(999));
  const auto got = run_client(scratch, {"get", "-q", "tftp://127.0.0.1:" + std::to_string(server_->port()) + "/named.bin"});
  EXPECT_EQ(got.exit, 0) << got.err;
  EXPECT_EQ(read_text(scratch / "named.bin"), pattern_text(999));
}

TEST_F(ClientPeer, ProgramExitCodes) {
  TempDir scratch;
  const std::string server = "127.0.0.1:" + std::to_string(server_->port());
  const auto missing = run_client(scratch, {"get", server, "no-such", local_ / "x"});
  EXPECT_EQ(missing.exit, 1) << missing.err;
  EXPECT_EQ(missing.err, "tftp-client: server error 1: File not found\n");
  EXPECT_EQ(run_client(scratch, {"get"}).exit, 2);
  EXPECT_EQ(run_client(scratch, {"get", "--blksize", "7", server, "f"}).exit, 2);
  EXPECT_EQ(run_client(scratch, {"fetch", server, "f"}).exit, 2);
  const auto local = run_client(scratch, {"put", server, local_ / "no-such-local"});
  EXPECT_EQ(local.exit, 4) << local.err;
  RawPeer silent;
  const auto timed_out =
      run_client(scratch, {"get", "-t", "0.05", "-r", "1", "127.0.0.1:" + std::to_string(silent.port()), "f", local_ / "y"});
  EXPECT_EQ(timed_out.exit, 3) << timed_out.err;
  EXPECT_EQ(list_dir(local_.path()), std::vector<std::string>{});
}

TEST(ClientProgram, HelpStatesTheGiveUpTime) {
  TempDir scratch;
  const auto help = run_client(scratch, {"get", "-t", "2", "-r", "3", "--help"});
  EXPECT_EQ(help.exit, 0);
  EXPECT_NE(help.out.find("exit 3 after 22.0 s of silence for -t 2 -r 3"), std::string::npos) << help.out;  // 2 + 4 + 8 + 8
  EXPECT_NE(help.out.find("5 protocol violation"), std::string::npos) << help.out;
}
#endif

}  // namespace
}  // namespace tftp::test
