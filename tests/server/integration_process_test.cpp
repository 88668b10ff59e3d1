// The tftp-server program as a child process: its exit statuses, SIGTERM with a running transfer, a socket
// passed the systemd way (LISTEN_FDS), and the Debian tftp-hpa client getting and putting files.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>

#include "netns.hpp"
#include "server_harness.hpp"
#include "support/child_process.hpp"
#include "support/requirements.hpp"

namespace tftp::test {
namespace {

using namespace std::chrono_literals;

// Whether the server's own user is what the test says: run as root (CI), it would drop to nobody and lose
// the test's private directories, so tests keep root unless they test the drop itself.
enum class User { as_given, keep_root };

// A running tftp-server whose stderr (the log) is read line by line with bounded waits.
class ServerProcess {
 public:
  // inherited_socket >= 0 is passed as fd 3 with LISTEN_FDS=1 and LISTEN_PID set to the child.
  explicit ServerProcess(std::vector<std::string> args, int inherited_socket = -1, User user = User::keep_root)
      : child_(spawn(std::move(args), inherited_socket, user)) {}

  // The next complete stderr line, or nullopt at EOF or after `timeout`.
  std::optional<std::string> line(std::chrono::milliseconds timeout = 10s) { return child_.error_line(timeout); }

  // Reads the log until the "listening" line and returns its port.
  std::uint16_t port() {
    static const std::regex listening(R"(listening address=127\.0\.0\.1:(\d+))");
    while (auto text = line()) {
      std::smatch match;
      if (std::regex_search(*text, match, listening)) return static_cast<std::uint16_t>(std::stoi(match[1]));
    }
    throw std::runtime_error("tftp-server did not report its address");
  }

  void signal(int number) const { child_.signal(number); }
  pid_t pid() const noexcept { return child_.pid(); }

  // Reads the log until a line contains `part`; false at EOF or when no line came within the bound.
  bool wait_for_line(const std::string& part) {
    while (auto text = line()) {
      if (text->find(part) != std::string::npos) return true;
    }
    return false;
  }

  // The exit status once the program ended; -1 if it did not exit in time.
  int wait(std::chrono::milliseconds timeout = 10s) { return child_.wait(timeout).value_or(-1); }

 private:
  static Spawn spawn(std::vector<std::string> args, int inherited_socket, User user) {
    const bool user_given = std::find(args.begin(), args.end(), "--user") != args.end();
    if (user == User::keep_root && ::geteuid() == 0 && !user_given) args.insert(args.begin(), {"--user", "root"});
    args.insert(args.begin(), TFTP_SERVER_EXE);
    return Spawn{.argv = std::move(args), .err = Stdio::pipe, .listen_fd = inherited_socket};
  }

  ChildProcess child_;
};

TEST(Program, UsageErrorsExit2AndHelpExits0) {
  EXPECT_EQ(ServerProcess({"--listen", "nonsense"}).wait(), 2);
  EXPECT_EQ(ServerProcess({"--umask", "999"}).wait(), 2);
  EXPECT_EQ(ServerProcess({"--help"}).wait(), 0);
}

TEST(Program, NetbootOptionsAreCheckedAtStart) {
  EXPECT_EQ(ServerProcess({"--single-port", "--port-range", "40000:40100"}).wait(), 2);
  EXPECT_EQ(ServerProcess({"--blksize-max", "7"}).wait(), 2);
  EXPECT_EQ(ServerProcess({"--blksize-max", "65465"}).wait(), 2);
  EXPECT_EQ(ServerProcess({"--blksize-max", "mtux"}).wait(), 2);
  EXPECT_EQ(ServerProcess({"--unique-root", "mac"}).wait(), 2);
  EXPECT_EQ(ServerProcess({"--lowercase", "--single-port", "--unique-root", "ip", "--blksize-max", "mtu", "--help"})
                .wait(),
            0);
}

TEST(Program, MissingRootExits1WithAMessage) {
  ServerProcess server({"--listen", "127.0.0.1:0", "/nonexistent/tftp-root"});
  const auto text = server.line();
  ASSERT_TRUE(text);
  EXPECT_NE(text->find("/nonexistent/tftp-root"), std::string::npos) << *text;
  EXPECT_EQ(server.wait(), 1);
}

TEST(Program, SigtermLetsARunningTransferFinishAndExits0) {
  TempDir dir;
  const auto content = pattern(1500);
  write_file(dir.path() / "f", content);
  ServerProcess server({"--listen", "127.0.0.1:0", "--timeout", "5", dir.path().string()});
  const auto port = server.port();
  RawPeer client;
  client.send(port, Rrq{"f", Mode::octet, {}});
  auto data = client.receive();
  ASSERT_TRUE(data);
  server.signal(SIGTERM);
  ASSERT_TRUE(server.wait_for_line("shutdown"));
  Bytes got(data->bytes.begin() + 4, data->bytes.end());
  for (std::uint16_t block = 1; data && data->bytes.size() == 516; ++block) {
    client.send(data->port, Ack{block});
    data = client.receive();
    ASSERT_TRUE(data);
    got.insert(got.end(), data->bytes.begin() + 4, data->bytes.end());
  }
  client.send(data->port, Ack{3});
  EXPECT_EQ(got, content);
  EXPECT_EQ(server.wait(), 0);
}

// In single-port mode the running transfers come in through the listening socket: it must go on receiving
// during the grace, and the program must exit once the last transfer ends on a datagram.
TEST(Program, SinglePortSigtermLetsARunningTransferFinishAndExits0) {
  TempDir dir;
  const auto content = pattern(1500);
  write_file(dir.path() / "f", content);
  ServerProcess server({"--listen", "127.0.0.1:0", "--single-port", "--timeout", "5", dir.path().string()});
  const auto port = server.port();
  RawPeer client;
  client.send(port, Rrq{"f", Mode::octet, {}});
  auto data = client.receive();
  ASSERT_TRUE(data);
  server.signal(SIGTERM);
  ASSERT_TRUE(server.wait_for_line("shutdown"));
  Bytes got(data->bytes.begin() + 4, data->bytes.end());
  for (std::uint16_t block = 1; data && data->bytes.size() == 516; ++block) {
    EXPECT_EQ(data->port, port);
    client.send(port, Ack{block});
    data = client.receive();
    ASSERT_TRUE(data);
    got.insert(got.end(), data->bytes.begin() + 4, data->bytes.end());
  }
  EXPECT_EQ(data->port, port);
  client.send(port, Ack{3});
  EXPECT_EQ(got, content);
  EXPECT_EQ(server.wait(), 0);
}

TEST(Program, ServesOnASocketPassedBySystemd) {
  TempDir dir;
  write_file(dir.path() / "f", bytes_of("from systemd"));
  RawPeer passed;  // bound to 127.0.0.1:port, as a .socket unit would
  const auto port = passed.port();
  ServerProcess server({dir.path().string()}, passed.fd());
  ASSERT_TRUE(server.wait_for_line("listening address=127.0.0.1:" + std::to_string(port)));
  RawPeer client;
  const auto got = download(client, port, "f");
  EXPECT_EQ(got.failure, "");
  EXPECT_EQ(got.bytes, bytes_of("from systemd"));
  server.signal(SIGINT);
  EXPECT_EQ(server.wait(), 0);
}

TEST(Program, UserDropsPrivilegesAfterBinding) {
  if (::geteuid() != 0) TFTP_SKIP_MISSING("--user needs root to switch users");
  TempDir dir;
  std::filesystem::permissions(dir.path(), std::filesystem::perms(0755));
  write_file(dir.path() / "public", bytes_of("anyone"));
  write_file(dir.path() / "private", bytes_of("root only"));
  std::filesystem::permissions(dir.path() / "public", std::filesystem::perms(0644));
  std::filesystem::permissions(dir.path() / "private", std::filesystem::perms(0600));
  ServerProcess server({"--listen", "127.0.0.1:0", "--user", "nobody", dir.path().string()});
  const auto port = server.port();
  RawPeer client;
  EXPECT_EQ(download(client, port, "public").bytes, bytes_of("anyone"));
  const auto refused = download(client, port, "private");
  ASSERT_TRUE(refused.error);
  EXPECT_EQ(refused.error->code, ErrorCode::access_violation);
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait(), 0);
}

// In single-port mode (a well-known port: ACKs are easy to forge) the defaults draw less per ACK: window 8
// and --blksize-max mtu unless given (issue 18); given, they hold.
TEST(Program, SinglePortDefaultsAreConservative) {
  TempDir dir;
  write_file(dir.path() / "f", pattern(100000, 42));
  ServerProcess conservative({"--listen", "127.0.0.1:0", "--single-port", dir.path().string()});
  RawPeer peer;
  const auto got = download(peer, conservative.port(), "f", {{"windowsize", "64"}, {"blksize", "65464"}});
  ASSERT_TRUE(got.oack);
  // lo's MTU is 65536 here: mtu allows 65464 still; the window is what shrinks.
  EXPECT_EQ(got.oack->options, (OptionList{{"windowsize", "8"}, {"blksize", "65464"}}));
  EXPECT_EQ(got.bytes, pattern(100000, 42));
  ServerProcess told({"--listen", "127.0.0.1:0", "--single-port", "--windowsize-max", "32", dir.path().string()});
  const auto wide = download(peer, told.port(), "f", {{"windowsize", "64"}});
  ASSERT_TRUE(wide.oack);
  EXPECT_EQ(wide.oack->options, (OptionList{{"windowsize", "32"}}));
}

// An upload's file has no name until it is complete (O_TMPFILE): SIGKILL in the middle leaves nothing; and
// temporaries a killed server left where it had to name them are removed at the next start.
TEST(Program, AKilledUploadLeavesNothingAndStaleTemporariesAreRemovedAtStart) {
  TempDir dir;
  write_file(dir.path() / "keep", bytes_of("previous"));
  {
    ServerProcess server({"--listen", "127.0.0.1:0", "--create", "--overwrite", dir.path().string()});
    RawPeer peer;
    peer.send(server.port(), Wrq{"keep", Mode::octet, {}});
    const auto ack0 = peer.receive();
    ASSERT_TRUE(ack0);
    peer.send(ack0->port, Data{1, pattern(512, 7)});
    ASSERT_TRUE(peer.receive());  // ACK 1: the first block is written
    server.signal(SIGKILL);
    server.wait();
  }
  EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"keep"});
  EXPECT_EQ(read_file(dir.path() / "keep"), bytes_of("previous"));
  write_file(dir.path() / ".up.tftp-AbCdEf123456", bytes_of("half an upload"));
  std::filesystem::create_directories(dir.path() / "sub");
  write_file(dir.path() / "sub" / ".x.tftp-0123456789ab", bytes_of("half another"));
  write_file(dir.path() / ".profile", bytes_of("not ours"));
  ServerProcess server({"--listen", "127.0.0.1:0", "--create", dir.path().string()});
  EXPECT_TRUE(server.wait_for_line("removed=2"));
  EXPECT_EQ(list_dir(dir.path()), (std::vector<std::string>{".profile", "keep", "sub"}));
  EXPECT_TRUE(list_dir(dir.path() / "sub").empty());
}

// Started as root without --user the server drops to nobody once ROOT is open and its socket bound (as
// tftpd-hpa does): it still serves world-readable files beneath a directory only root can enter.
TEST(Program, StartedAsRootItDropsToNobodyUnlessToldToKeepRoot) {
  if (::geteuid() != 0) TFTP_SKIP_MISSING("starting as root needs root");
  TempDir dir;  // 0700, root's: nobody could not even look up ROOT by its path
  std::filesystem::create_directory(dir.path() / "root");
  write_file(dir.path() / "root" / "f", bytes_of("readable"));
  const auto uid_of = [](pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("Uid:", 0) == 0) return std::stoul(line.substr(4));
    }
    return ~0UL;
  };
  ServerProcess dropped({"--listen", "127.0.0.1:0", (dir.path() / "root").string()}, -1, User::as_given);
  const auto port = dropped.port();
  EXPECT_EQ(uid_of(dropped.pid()), 65534UL);  // nobody
  RawPeer peer;
  EXPECT_EQ(download(peer, port, "f").bytes, bytes_of("readable"));
  ServerProcess kept({"--listen", "127.0.0.1:0", "--user", "root", (dir.path() / "root").string()}, -1,
                     User::as_given);
  EXPECT_TRUE(kept.wait_for_line("warning privileges user=root"));
  EXPECT_EQ(uid_of(kept.pid()), 0UL);
}

// The server raises its open-files limit for --max-sessions and says what it can hold.
TEST(Program, RaisesItsOpenFilesLimitForMaxSessions) {
  TempDir dir;
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  if (saved.rlim_max != RLIM_INFINITY && saved.rlim_max < 3100) GTEST_SKIP() << "hard limit below 3100";
  rlimit low = saved;
  low.rlim_cur = 256;  // inherited by the child
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  ServerProcess server({"--listen", "127.0.0.1:0", "--max-sessions", "1000", "--workers", "3", dir.path().string()});
  ::setrlimit(RLIMIT_NOFILE, &saved);
  // 3 per session (a download needs 1), 64 for the rest, 8 for each further worker.
  EXPECT_TRUE(server.wait_for_line(
      "info limits max_sessions=1000 open_files=3080 sessions_it_holds=1000 downloads_it_holds=3000 workers=3"));
}

// ---- --blksize-max mtu on a 1500-byte link ------------------------------------------------------

TEST(Program, BlksizeMaxMtuGrantsWhatA1500ByteLinkCarries) {
  if (const auto why = netns_unavailable(); !why.empty()) TFTP_SKIP_MISSING(why);
  TestNamespace netns("mtu");
  if (!netns.created() || !netns.run("ip link set lo mtu 1500")) {
    TFTP_SKIP_MISSING("cannot create a network namespace here (ip netns add failed)");
  }
  TempDir dir;
  const auto content = pattern(5000, 3);
  write_file(dir.path() / "f", content);
  std::optional<ServerProcess> server;
  std::optional<RawPeer> peer;
  {
    InNamespace inside(netns.path());
    ASSERT_TRUE(inside.entered()) << "setns into " << netns.path();
    server.emplace(std::vector<std::string>{"--listen", "127.0.0.1:0", "--blksize-max", "mtu", dir.path().string()});
    peer.emplace();
  }
  const auto got = download(*peer, server->port(), "f", {{"blksize", "65464"}});
  ASSERT_EQ(got.failure, "");
  ASSERT_TRUE(got.oack);
  EXPECT_EQ(got.oack->options, (OptionList{{"blksize", "1468"}}));  // 1500 - 20 (IPv4) - 8 (UDP) - 4 (TFTP)
  EXPECT_EQ(got.bytes, content);
  EXPECT_EQ(got.blocks, 4U);
  server->signal(SIGTERM);
  EXPECT_EQ(server->wait(), 0);
}

// ---- tftp-hpa ------------------------------------------------------------------------------------

bool have_tftp_hpa() { return ::access("/usr/bin/tftp", X_OK) == 0; }

TEST(TftpHpa, GetAndPutExactBytes) {
  if (!have_tftp_hpa()) TFTP_SKIP_MISSING("/usr/bin/tftp (Debian package tftp-hpa) is not installed");
  auto config = test_config();
  config.allow_create = true;
  config.verbosity = server::Verbosity::normal;
  ServerHarness server(config);
  const auto content = pattern(70000);
  write_file(server.root() / "get-me", content);
  const auto local = server.outside() / "local";
  write_file(server.outside() / "put-me", pattern(3333, 9));
  server.start();
  // tftp-hpa, run where its local names are: in the directory holding ROOT.
  const auto tftp = [&](const char* command, const char* remote_or_local, const char* local_or_remote) {
    ChildProcess client(Spawn{.argv = {"/usr/bin/tftp", "127.0.0.1", std::to_string(server.port()), "-m", "binary",
                                       "-c", command, remote_or_local, local_or_remote},
                              .directory = server.outside()});
    return client.wait(60s);
  };
  ASSERT_EQ(tftp("get", "get-me", "local"), 0);
  EXPECT_EQ(read_file(local), content);
  ASSERT_EQ(tftp("put", "put-me", "uploaded"), 0);
  ASSERT_TRUE(server.wait_for_log({"transfer", "file=uploaded", "result=ok"}));
  EXPECT_EQ(read_file(server.root() / "uploaded"), pattern(3333, 9));
}

}  // namespace
}  // namespace tftp::test
