// The server's metrics and hook inputs without sockets: the endpoint runs on the simulated network, its
// events feed ServerMetrics as the server's loop does, and the exposition text is checked line by line.
#include <gtest/gtest.h>

#include <regex>
#include <sstream>
#include <string>

#include "../machine/endpoint_sim.hpp"
#include "tftp/server/hooks.hpp"
#include "tftp/server/metrics.hpp"
#include "tftp/server/origin_content.hpp"

namespace tftp::server {
namespace {

using namespace std::chrono_literals;
using sim::at;

// The value of one series ("name{labels}") in an exposition, or "" when it is not there.
std::string value_of(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(series + " ", 0) == 0) return line.substr(series.size() + 1);
  }
  return "";
}

void feed(ServerMetrics& metrics, const sim::Network& net) {
  for (const auto& ended : net.events_of<TransferEnded>()) metrics.on_transfer(ended.record);
}

EndpointConfig config() {
  EndpointConfig c;
  c.transfer.unanswered_resends = 1;
  c.max_sessions_per_client = 1;
  return c;
}

TEST(Metrics, CountRequestsRefusalsEvictionsStrangersAndTransfers) {
  sim::Network net(config());
  net.content.files["f"] = sim::pattern(5000);
  auto& first = net.get(at(0x0a000105, 1000), "f");
  net.get(at(0x0a000106, 1000), "missing");
  net.inject(at(0x0a000107, 2000), sim::server_port, Rrq{"f", Mode::octet, {}});  // forged: never answers
  net.run_for(5ms);
  net.inject(at(0x0a000108, 7777), sim::Network::port_of(1), Ack{1});  // a stranger on the first session's port
  auto& second = net.get(at(0x0a000107, 3000), "f");                     // takes the forged one's place
  ASSERT_TRUE(net.run());
  ASSERT_TRUE(first.outcome().completed());
  ASSERT_TRUE(second.outcome().completed());

  ServerMetrics metrics;
  feed(metrics, net);
  const auto text = metrics.render(snapshot(net.endpoint()));
  EXPECT_EQ(value_of(text, R"(tftp_requests_total{opcode="rrq",result="served"})"), "3");
  EXPECT_EQ(value_of(text, R"(tftp_requests_total{opcode="rrq",result="refused"})"), "1");
  EXPECT_EQ(value_of(text, R"(tftp_requests_total{opcode="rrq",result="repeated"})"), "0");
  EXPECT_EQ(value_of(text, R"(tftp_requests_total{opcode="wrq",result="refused"})"), "0");
  EXPECT_EQ(value_of(text, R"(tftp_refusals_total{code="1"})"), "1");
  EXPECT_EQ(value_of(text, R"(tftp_refusals_total{code="0"})"), "0");
  EXPECT_EQ(value_of(text, "tftp_evictions_total"), "1");
  EXPECT_EQ(value_of(text, "tftp_strangers_answered_total"), "1");
  EXPECT_EQ(value_of(text, "tftp_sessions_opened_total"), "3");
  EXPECT_EQ(value_of(text, R"(tftp_transfers_total{direction="read",result="completed"})"), "2");
  EXPECT_EQ(value_of(text, R"(tftp_transfers_total{direction="read",result="timed_out"})"), "0");
  EXPECT_EQ(value_of(text, R"(tftp_transfer_bytes_total{direction="read"})"), "10000");
  // 5000 bytes at 512: 10 DATA each, the last one short.
  EXPECT_EQ(value_of(text, "tftp_data_packets_sent_total"), "20");
  EXPECT_EQ(value_of(text, R"(tftp_sessions{direction="read"})"), "0");
  EXPECT_EQ(value_of(text, "tftp_transfer_duration_seconds_count"), "2");
  EXPECT_EQ(value_of(text, "tftp_round_trip_seconds_count"), "2");
  EXPECT_EQ(value_of(text, "tftp_max_sessions_per_client"), "1");
}

TEST(Metrics, RunningTransfersShowInTheGaugeAndThePacketCounts) {
  sim::Network net(config());
  net.content.files["big"] = sim::pattern(1 << 20);
  net.get(at(0x0a000201, 1000), "big");
  net.run_for(100ms);  // about 50 blocks of 2048 in lock-step
  ServerMetrics metrics;
  feed(metrics, net);
  const auto text = metrics.render(snapshot(net.endpoint()));
  EXPECT_EQ(value_of(text, R"(tftp_sessions{direction="read"})"), "1");
  EXPECT_EQ(value_of(text, R"(tftp_transfers_total{direction="read",result="completed"})"), "0");
  const auto sent = std::stoul(value_of(text, "tftp_data_packets_sent_total"));
  EXPECT_GT(sent, 10U);
  EXPECT_EQ(value_of(text, R"(tftp_transfer_bytes_total{direction="read"})"), std::to_string(sent * 512));
}

TEST(Metrics, RetransmissionsUnderLossAreCounted) {
  sim::Network net(config());
  net.content.files["f"] = sim::pattern(20'000);
  // The server's first DATA 5 is lost.
  auto dropped = std::make_shared<bool>(false);
  net.drop = [dropped](std::uint64_t, const sim::WireDatagram& d) {
    if (*dropped || d.from.ip != IpAddress::v4(sim::server_host) || d.bytes.size() < 4) return false;
    if (d.bytes[1] != std::byte{3} || d.bytes[2] != std::byte{0} || d.bytes[3] != std::byte{5}) return false;
    return *dropped = true;
  };
  auto& client = net.get(at(0x0a000301, 1000), "f");
  ASSERT_TRUE(net.run());
  ASSERT_TRUE(client.outcome().completed());
  ServerMetrics metrics;
  feed(metrics, net);
  const auto text = metrics.render(snapshot(net.endpoint()));
  EXPECT_NE(value_of(text, R"(tftp_retransmissions_total{direction="read"})"), "0");
  EXPECT_NE(value_of(text, R"(tftp_timeouts_total{direction="read"})"), "0");
}

// Every sample line is name{labels} value in the exposition syntax, whatever the client sent.
TEST(Metrics, NoLabelHoldsWhatAClientChose) {
  sim::Network net(config());
  const std::string name = "x\"}\n# evil{le=\"1\"} 9";
  net.content.files[name] = sim::pattern(100);
  net.get(at(0x0a000401, 1000), name);
  ASSERT_TRUE(net.run());
  ServerMetrics metrics;
  feed(metrics, net);
  const auto text = metrics.render(snapshot(net.endpoint()));
  EXPECT_EQ(text.find("evil"), std::string::npos);
  const std::regex sample(R"(^[a-z_]+(\{[a-z]+="[a-z_0-9.+A-Z]*"(,[a-z]+="[a-z_0-9.+A-Z]*")*\})? [0-9.e+-]+$)");
  const std::regex comment(R"(^# (HELP|TYPE) [a-z_]+ .+$)");
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_TRUE(std::regex_match(line, sample) || std::regex_match(line, comment)) << line;
  }
}

TEST(Metrics, TransferResultsAreAFixedSet) {
  const auto with = [](errc e) {
    Outcome outcome;
    outcome.status = TransferStatus::failed;
    outcome.error = e;
    return transfer_result(outcome);
  };
  EXPECT_EQ(transfer_result(Outcome{TransferStatus::completed}), "completed");
  EXPECT_EQ(with(errc::timed_out), "timed_out");
  EXPECT_EQ(with(errc::unanswered), "unanswered");
  EXPECT_EQ(with(errc::options_declined), "declined");
  EXPECT_EQ(with(errc::peer_error), "client_error");
  EXPECT_EQ(with(errc::local_io_error), "io_error");
  EXPECT_EQ(with(errc::aborted), "aborted");
  EXPECT_EQ(with(errc::malformed_packet), "protocol_error");
  EXPECT_EQ(with(errc::protocol_violation), "protocol_error");
}

TEST(Metrics, TheOriginCacheIsRenderedFromItsCounters) {
  OriginCounters c;
  c.fetches = 7;
  c.revalidations = 2;
  c.fetch_failures = 1;
  c.bytes_fetched = 123456;
  c.hits = 40;
  c.joined = 999;
  c.evictions = 3;
  c.cached_bytes = 5000;
  c.cached_files = 2;
  std::string text;
  render_origin_metrics(text, c, 1 << 20);
  EXPECT_EQ(value_of(text, "tftp_origin_requests_total{kind=\"fetch\"}"), "5");
  EXPECT_EQ(value_of(text, "tftp_origin_requests_total{kind=\"revalidation\"}"), "2");
  EXPECT_EQ(value_of(text, "tftp_origin_failures_total"), "1");
  EXPECT_EQ(value_of(text, "tftp_origin_bytes_total"), "123456");
  EXPECT_EQ(value_of(text, "tftp_cache_hits_total"), "40");
  EXPECT_EQ(value_of(text, "tftp_cache_joined_total"), "999");
  EXPECT_EQ(value_of(text, "tftp_cache_evictions_total"), "3");
  EXPECT_EQ(value_of(text, "tftp_cache_bytes"), "5000");
  EXPECT_EQ(value_of(text, "tftp_cache_files"), "2");
  EXPECT_EQ(value_of(text, "tftp_cache_max_bytes"), "1048576");
  EXPECT_NE(text.find("# TYPE tftp_cache_bytes gauge"), std::string::npos);
}

TEST(Histogram, BucketsAreCumulative) {
  Histogram h({0.1, 1});
  for (const double v : {0.05, 0.1, 0.5, 2.0}) h.observe(v);
  std::string out;
  h.render(out, "t");
  EXPECT_EQ(out,
            "t_bucket{le=\"0.1\"} 2\n"
            "t_bucket{le=\"1\"} 3\n"
            "t_bucket{le=\"+Inf\"} 4\n"
            "t_sum 2.65\n"
            "t_count 4\n");
}

TEST(Hooks, TheCommandIsSplitOnceOnBlanksAndNeverByAShell) {
  EXPECT_EQ(split_command("/usr/bin/logger -t tftp"), (std::vector<std::string>{"/usr/bin/logger", "-t", "tftp"}));
  EXPECT_EQ(split_command("  a\t b  "), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(split_command("a;b $(c) `d`"), (std::vector<std::string>{"a;b", "$(c)", "`d`"}));
  EXPECT_TRUE(split_command("").empty());
}

TEST(Hooks, TheEnvironmentCarriesTheTransferAsIs) {
  TransferRecord record;
  record.client = at(0x7f000001, 5000);
  record.file = "a b\n$(reboot);`id`\xff";
  record.direction = Direction::write;
  record.counters.bytes = 1234;
  record.counters.retransmissions = 3;
  record.negotiated.block_size = 1428;
  record.negotiated.window_size = 8;
  record.elapsed = 1500ms;
  EXPECT_EQ(hook_environment(record, "ok"),
            (std::vector<std::string>{
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TFTP_CLIENT=127.0.0.1:5000",
                "TFTP_FILE=a b\n$(reboot);`id`\xff", "TFTP_DIRECTION=write", "TFTP_BYTES=1234", "TFTP_RESULT=ok",
                "TFTP_SECONDS=1.500", "TFTP_BLKSIZE=1428", "TFTP_WINDOWSIZE=8", "TFTP_RETRANSMISSIONS=3"}));
}

}  // namespace
}  // namespace tftp::server
