// --workers on real sockets and threads: two workers bound to one port with SO_REUSEPORT serve many
// clients at once byte-exact, keep --max-sessions exact over both (a flood of never-answered requests
// evicts exactly as many sessions as one worker would), and /metrics adds their counters up.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "metrics_scrape.hpp"
#include "server_harness.hpp"

namespace tftp::test {
namespace {

using namespace std::chrono_literals;

server::ServerConfig two_workers() {
  auto config = test_config();
  config.workers = 2;
  return config;
}

std::size_t count_lines(ServerHarness& server, const std::string& part) {
  std::size_t n = 0;
  for (const auto& line : server.lines()) n += line.find(part) != std::string::npos ? 1U : 0U;
  return n;
}

TEST(Workers, BothBindTheSamePortAndServeManyClientsExact) {
  auto config = two_workers();
  config.verbosity = server::Verbosity::normal;
  config.metrics = HostPort{"127.0.0.1", 0};
  ServerHarness server(config);
  const auto content = pattern(300'000, 7);
  write_file(server.root() / "f", content);
  server.start();
  EXPECT_EQ(count_lines(server, "listening"), 2U);  // one listening socket per worker, one port
  EXPECT_TRUE(server.wait_for_log({"limits", "workers=2"}));
  constexpr int threads = 8;
  constexpr int each = 10;
  std::atomic<int> exact{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < threads; ++t) {
    clients.emplace_back([&] {
      for (int i = 0; i < each; ++i) {
        RawPeer peer;  // a new port each time: the kernel spreads them over the workers
        const auto got = download(peer, server.port(), "f", make_request_options({.block_size = 1468}),
                                  Mode::octet, Repeats::counted);
        if (got.failure.empty() && !got.error && got.bytes == content) ++exact;
      }
    });
  }
  for (auto& client : clients) client.join();
  EXPECT_EQ(exact.load(), threads * each);
  ASSERT_TRUE(server.wait_for_lines("result=ok", threads * each));
  const auto text = scrape(server.metrics_port());
  EXPECT_EQ(value_of(text, "tftp_transfers_total{direction=\"read\",result=\"completed\"}"), std::to_string(threads * each));
  EXPECT_EQ(value_of(text, "tftp_sessions_opened_total"), std::to_string(threads * each));
  EXPECT_EQ(value_of(text, "tftp_transfer_bytes_total{direction=\"read\"}"),
            std::to_string(threads * each * content.size()));
}

// 500 never-answered RRQs from 500 ports against --max-sessions 200 shared by two workers: never more than
// 200 sessions, exactly 300 evictions (wherever the oldest unanswered session was), and a real client after
// the flood is served at once.
TEST(Workers, TheSessionLimitIsExactOverBothAndAFloodEvictsAcrossThem) {
  auto config = two_workers();
  config.max_sessions = 200;
  ServerHarness server(config);
  const auto content = pattern(20'000, 3);
  write_file(server.root() / "f", content);
  server.start();
  std::vector<std::unique_ptr<RawPeer>> silent;
  for (std::size_t i = 0; i < 500; ++i) {
    silent.push_back(std::make_unique<RawPeer>());
    silent.back()->send(server.port(), Rrq{"f", Mode::octet, {}});
    if ((i + 1) % 50 == 0) {
      ASSERT_TRUE(server.wait_for_lines("packet=\"RRQ f\"", i + 1)) << "the server read fewer requests";
      EXPECT_LE(server.session_count(), 200U);
    }
  }
  ASSERT_TRUE(server.wait_for_lines("evicted", 300));
  EXPECT_EQ(server.session_count(), 200U);
  RawPeer client;
  const auto got = download(client, server.port(), "f", {}, Mode::octet, Repeats::counted);
  EXPECT_EQ(got.failure, "");
  EXPECT_FALSE(got.error);
  EXPECT_EQ(got.bytes, content);
  // The session it took the place of may be the other worker's, which ends it (and logs it) on its own
  // thread: wait, bounded, for that line, then count exactly.
  EXPECT_TRUE(server.wait_for_lines("evicted", 301));
  EXPECT_EQ(count_lines(server, "evicted"), 301U);
  EXPECT_EQ(count_lines(server, "server busy"), 0U);
}

}  // namespace
}  // namespace tftp::test
