// What an operator watches, on real sockets: /metrics scraped with curl during and after transfers (a
// completed one, a refused one, an evicted one, one with a retransmission, one whose client never
// answered), and --on-transfer hooks run as real processes: their environment, a file name chosen to break a
// shell, and a hook that hangs.
#include <signal.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "metrics_scrape.hpp"
#include "server_harness.hpp"
#include "support/child_process.hpp"
#include "support/files.hpp"
#include "support/requirements.hpp"
#include "support/temp_dir.hpp"

namespace tftp::test {
namespace {

using namespace std::chrono_literals;

// Waits, bounded, until `dir` holds `count` files starting with `prefix`.
std::vector<std::filesystem::path> wait_for_files(const std::filesystem::path& dir, const std::string& prefix,
                                                   std::size_t count, std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    std::vector<std::filesystem::path> found;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.path().filename().string().rfind(prefix, 0) == 0 && entry.file_size() > 0) found.push_back(entry.path());
    }
    if (found.size() >= count || std::chrono::steady_clock::now() > deadline) return found;
    std::this_thread::sleep_for(10ms);  // polling a directory a process writes into, with a deadline
  }
}

TEST(Metrics, ScrapedWithCurlTheyCountTheTransfersMade) {
  if (!std::filesystem::exists("/usr/bin/curl")) TFTP_SKIP_MISSING("curl is not installed");
  auto config = test_config();
  config.metrics = HostPort{"127.0.0.1", 0};
  config.max_sessions = 2;
  config.timeout = 200ms;
  config.initial_resends = 1;
  ServerHarness server(config);
  write_file(server.root() / "f", pattern(5000));
  write_file(server.root() / "slow", pattern(20'000));
  server.start();
  ASSERT_NE(server.metrics_port(), 0);

  RawPeer complete;
  ASSERT_EQ(download(complete, server.port(), "f").bytes, pattern(5000));
  RawPeer refused;
  ASSERT_EQ(download(refused, server.port(), "missing").error->code, ErrorCode::file_not_found);

  // A transfer in progress: DATA 1 is not acknowledged until the server sent it again.
  RawPeer slow;
  slow.send(server.port(), Rrq{"slow", Mode::octet, {}});
  const auto first = slow.receive();
  ASSERT_TRUE(first);
  const auto during = scrape(server.metrics_port());
  EXPECT_EQ(value_of(during, R"(tftp_sessions{direction="read"})"), "1");
  EXPECT_EQ(value_of(during, R"(tftp_transfers_total{direction="read",result="completed"})"), "1");
  const auto again = slow.receive();
  ASSERT_TRUE(again);
  ASSERT_EQ(std::get<Data>(again->packet()).block, 1);
  Bytes received;
  for (auto datagram = again; datagram;) {
    const auto data = std::get<Data>(datagram->packet());
    if (data.block == received.size() / 512 + 1) received.insert(received.end(), data.payload.begin(), data.payload.end());
    slow.send(first->port, Ack{data.block});
    if (data.payload.size() < 512) break;
    datagram = slow.receive();
  }
  ASSERT_EQ(received, pattern(20'000));

  // Two requests whose clients never answer fill --max-sessions 2; a real one takes the oldest one's place.
  RawPeer forged_a;
  RawPeer forged_b;
  forged_a.send(server.port(), Rrq{"f", Mode::octet, {{"blksize", "1024"}}});
  ASSERT_TRUE(forged_a.receive());  // its OACK: the session is open
  forged_b.send(server.port(), Rrq{"f", Mode::octet, {{"blksize", "1024"}}});
  ASSERT_TRUE(forged_b.receive());
  RawPeer real;
  ASSERT_EQ(download(real, server.port(), "f").bytes, pattern(5000));
  ASSERT_TRUE(server.wait_for_log({"evicted", "client=127.0.0.1:" + std::to_string(forged_a.port())}));
  ASSERT_TRUE(server.wait_for_log({"transfer", "client=127.0.0.1:" + std::to_string(forged_b.port())}));

  const auto after = scrape(server.metrics_port());
  EXPECT_EQ(value_of(after, R"(tftp_requests_total{opcode="rrq",result="served"})"), "5");
  EXPECT_EQ(value_of(after, R"(tftp_requests_total{opcode="rrq",result="refused"})"), "1");
  EXPECT_EQ(value_of(after, R"(tftp_requests_total{opcode="rrq",result="repeated"})"), "0");
  EXPECT_EQ(value_of(after, R"(tftp_requests_total{opcode="wrq",result="served"})"), "0");
  EXPECT_EQ(value_of(after, R"(tftp_refusals_total{code="1"})"), "1");
  EXPECT_EQ(value_of(after, "tftp_evictions_total"), "1");
  EXPECT_EQ(value_of(after, "tftp_sessions_opened_total"), "5");
  EXPECT_EQ(value_of(after, R"(tftp_transfers_total{direction="read",result="completed"})"), "3");
  EXPECT_EQ(value_of(after, R"(tftp_transfers_total{direction="read",result="unanswered"})"), "1");
  EXPECT_EQ(value_of(after, R"(tftp_transfer_bytes_total{direction="read"})"), "30000");
  EXPECT_EQ(value_of(after, R"(tftp_sessions{direction="read"})"), "0");
  EXPECT_EQ(value_of(after, "tftp_transfer_duration_seconds_count"), "4");
  // The slow transfer's DATA 1 once, the unanswered session's OACK once (--unanswered-resends 1).
  EXPECT_EQ(value_of(after, R"(tftp_retransmissions_total{direction="read"})"), "2");
  EXPECT_EQ(value_of(after, "tftp_max_sessions"), "2");
  // A label never holds what a client sent.
  EXPECT_EQ(after.find("slow"), std::string::npos);
  EXPECT_EQ(after.find("missing"), std::string::npos);
}

// The hook writes the name it was given and its whole environment into the directory named by its argument.
void write_hook(const std::filesystem::path& path, const std::string& body) {
  write_file(path, "#!/bin/sh\nout=\"$1\"\n" + body);
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
}

TEST(Hooks, RunAfterTransfersAndRefusalsWithTheirEnvironmentAndNothingElse) {
  TempDir work;
  const auto out = work.path() / "out";
  std::filesystem::create_directory(out);
  write_hook(work.path() / "hook",
             "printf '%s' \"$TFTP_FILE\" > \"$out/name.$$\"\n"
             "env | grep -v '^TFTP_FILE=' | grep -v '^PWD=' | sort > \"$out/env.$$\"\n");
  auto config = test_config();
  config.on_transfer = {(work.path() / "hook").string(), out.string()};
  ServerHarness server(config);
  write_file(server.root() / "f", pattern(5000));
  server.start();

  RawPeer peer;
  ASSERT_EQ(download(peer, server.port(), "f").bytes, pattern(5000));
  const auto first = wait_for_files(out, "env.", 1);
  ASSERT_EQ(first.size(), 1U);
  const auto env = read_text(first[0]);
  const std::regex expected(
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
      "TFTP_BLKSIZE=512\nTFTP_BYTES=5000\nTFTP_CLIENT=127\\.0\\.0\\.1:" + std::to_string(peer.port()) + "\n"
      "TFTP_DIRECTION=read\nTFTP_RESULT=ok\nTFTP_RETRANSMISSIONS=0\nTFTP_SECONDS=[0-9]+\\.[0-9]{3}\n"
      "TFTP_WINDOWSIZE=1\n");
  EXPECT_TRUE(std::regex_match(env, expected)) << env;
  EXPECT_EQ(read_text(out / ("name." + first[0].extension().string().substr(1))), "f");

  // A name made to break a shell, and with a newline: refused (control characters), and the hook gets it
  // byte for byte, as data.
  const std::string nasty = "a b;$(touch pwned)`touch pwned2`|x\n$HOME'\"";
  RawPeer other;
  ASSERT_EQ(download(other, server.port(), nasty).error->code, ErrorCode::access_violation);
  const auto both = wait_for_files(out, "env.", 2);  // written last, after the name
  ASSERT_EQ(both.size(), 2U);
  bool seen = false;
  for (const auto& env_file : both) {
    const auto name = read_text(out / ("name." + env_file.extension().string().substr(1)));
    if (name == "f") continue;
    EXPECT_EQ(name, nasty);
    const auto refusal_env = read_text(env_file);
    EXPECT_NE(refusal_env.find("TFTP_RESULT=refused: ERROR 2 control characters in file name\n"), std::string::npos)
        << refusal_env;
    EXPECT_NE(refusal_env.find("TFTP_BYTES=0\n"), std::string::npos) << refusal_env;
    seen = true;
  }
  EXPECT_TRUE(seen);
  for (const auto& dir : {std::filesystem::current_path(), out, work.path(), server.root()}) {
    EXPECT_FALSE(std::filesystem::exists(dir / "pwned")) << dir;
    EXPECT_FALSE(std::filesystem::exists(dir / "pwned2")) << dir;
  }
}

// The state of a process from /proc: 0 when it is gone (or a zombie nobody has reaped yet).
char process_state(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return 0;
  const auto close = text.rfind(')');
  const char state = close != std::string::npos && close + 2 < text.size() ? text[close + 2] : 0;
  return state == 'Z' ? 0 : state;
}

TEST(Hooks, AHookThatHangsIsKilledWithItsChildrenAndTransfersGoOn) {
  TempDir work;
  const auto out = work.path() / "out";
  std::filesystem::create_directory(out);
  write_hook(work.path() / "hook", "sleep 1000 &\necho $! > \"$out/child.$$\"\nwait\n");
  auto config = test_config();
  config.on_transfer = {(work.path() / "hook").string(), out.string()};
  config.hook_max_running = 1;
  config.hook_timeout = 300ms;
  ServerHarness server(config);
  write_file(server.root() / "f", pattern(5000));
  server.start();

  for (int i = 0; i < 3; ++i) {
    RawPeer peer;
    const auto got = download(peer, server.port(), "f");
    ASSERT_EQ(got.bytes, pattern(5000)) << i << ": " << got.failure;
  }
  ASSERT_TRUE(server.wait_for_lines("hook-killed", 3, 15s));
  const auto children = wait_for_files(out, "child.", 3);
  ASSERT_EQ(children.size(), 3U);
  for (const auto& file : children) {
    const auto pid = static_cast<pid_t>(std::stol(read_text(file)));
    // SIGKILL to the group was sent before the hook was reaped; a killed child may still be on its way out.
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (process_state(pid) != 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(process_state(pid), 0) << "the hook's child " << pid << " outlived it";
  }
}

}  // namespace
}  // namespace tftp::test
