// Endpoints sharded over workers (EndpointShard, SharedAdmission), on the virtual clock: two endpoints that
// share one admission table keep the limits exact over both, take the place of another shard's unanswered
// session, see a request that reached the wrong shard as a repeat, and number their sessions apart.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <vector>

#include "endpoint_sim.hpp"
#include "tftp/shared_admission.hpp"

namespace tftp::sim {
namespace {

using namespace std::chrono_literals;

EndpointConfig config_with(std::size_t max_sessions, std::size_t per_client = 8) {
  EndpointConfig config;
  config.transfer.unanswered_resends = 2;
  config.max_sessions = max_sessions;
  config.max_sessions_per_client = per_client;
  return config;
}

std::optional<Error> error_in(const WireDatagram& d) {
  const auto parsed = parse(d.bytes);
  if (!parsed) return std::nullopt;
  if (const auto* error = std::get_if<Error>(&*parsed)) return *error;
  return std::nullopt;
}

struct Eviction {
  SharedAdmission::Shard shard;
  SessionId session;
  SocketAddress for_client;
};

// Two shards of one server: what a server's workers are, without threads.
struct TwoShards {
  explicit TwoShards(std::size_t max_sessions, std::size_t per_client = 8)
      : admission(max_sessions, per_client,
                  [this](SharedAdmission::Shard shard, SessionId session, const SocketAddress& for_client) {
                    evictions.push_back({shard, session, for_client});
                  }),
        a(config_with(max_sessions, per_client), 1ms, EndpointShard{&admission, 0, 2}),
        b(config_with(max_sessions, per_client), 1ms, EndpointShard{&admission, 1, 2}) {
    for (auto* net : {&a, &b}) net->content.files["boot"] = pattern(20'000);
  }
  SharedAdmission admission;
  std::vector<Eviction> evictions;
  Network a;
  Network b;
};

const auto forged_rrq = Rrq{"boot", Mode::octet, {}};

TEST(Shards, TheSessionLimitHoldsOverBothShards) {
  TwoShards shards(3);
  // Established transfers: each client answers, so none can be evicted. Two on a, one on b.
  auto& one = shards.a.get(at(0x0a000101, 1000), "boot");
  auto& two = shards.a.get(at(0x0a000102, 1000), "boot");
  auto& three = shards.b.get(at(0x0a000103, 1000), "boot");
  shards.a.run_for(5ms);
  shards.b.run_for(5ms);
  EXPECT_EQ(shards.admission.total(), 3U);
  // b has one session of its own, but the server has three: a fourth request is refused, busy.
  auto& four = shards.b.get(at(0x0a000104, 1000), "boot");
  ASSERT_TRUE(shards.b.run());
  ASSERT_TRUE(shards.a.run());
  EXPECT_EQ(four.outcome().error, errc::peer_error);
  const auto refused = shards.b.sent_to(at(0x0a000104, 1000));
  ASSERT_EQ(refused.size(), 1U);
  ASSERT_TRUE(error_in(*refused[0]));
  EXPECT_EQ(error_in(*refused[0])->message, "server busy");
  EXPECT_EQ(shards.b.endpoint().counters().busy, 1U);
  for (auto* client : {&one, &two, &three}) {
    EXPECT_TRUE(client->outcome().completed());
    EXPECT_EQ(client->sink->bytes(), pattern(20'000));
  }
  EXPECT_EQ(shards.admission.total(), 0U);
  EXPECT_TRUE(shards.evictions.empty());
}

TEST(Shards, ARequestTakesThePlaceOfAnotherShardsUnansweredSession) {
  TwoShards shards(2);
  const auto forged = at(0x0a000201, 2000);
  shards.a.inject(forged, server_port, forged_rrq);  // never answered
  shards.a.run_for(5ms);
  auto& held = shards.b.get(at(0x0a000202, 1000), "boot");
  shards.b.run_for(5ms);
  ASSERT_EQ(shards.admission.total(), 2U);
  // At the limit, on b: the oldest unanswered session is a's. It is out of the counts at once, and a is
  // asked to end it.
  auto& late = shards.b.get(at(0x0a000203, 1000), "boot");
  shards.b.run_for(1ms);
  ASSERT_EQ(shards.evictions.size(), 1U);
  EXPECT_EQ(shards.evictions[0].shard, 0U);
  EXPECT_EQ(shards.evictions[0].for_client, at(0x0a000203, 1000));
  EXPECT_EQ(shards.admission.total(), 2U);
  EXPECT_EQ(shards.a.endpoint().session_count(), 1U);
  shards.a.evict_for(shards.evictions[0].session, shards.evictions[0].for_client);
  EXPECT_EQ(shards.a.endpoint().session_count(), 0U);
  const auto evicted = shards.a.events_of<SessionEvicted>();
  ASSERT_EQ(evicted.size(), 1U);
  EXPECT_EQ(evicted[0].client, forged);
  EXPECT_EQ(evicted[0].for_client, at(0x0a000203, 1000));
  EXPECT_EQ(shards.a.endpoint().counters().evictions, 1U);
  ASSERT_TRUE(shards.b.run());
  ASSERT_TRUE(shards.a.run());
  EXPECT_TRUE(held.outcome().completed());
  EXPECT_TRUE(late.outcome().completed());
  EXPECT_EQ(late.sink->bytes(), pattern(20'000));
  // The evicted session sent nothing more after its eviction, and no transfer record.
  EXPECT_TRUE(shards.a.events_of<TransferEnded>().empty());
  EXPECT_EQ(shards.admission.total(), 0U);
}

TEST(Shards, ARequestForATransferRunningOnTheOtherShardIsARepeat) {
  TwoShards shards(10);
  const auto client = at(0x0a000301, 3000);
  shards.a.inject(client, server_port, forged_rrq);
  shards.a.run_for(1ms);
  shards.b.inject(client, server_port, forged_rrq);  // the same request, read by the other worker
  shards.b.run_for(1ms);
  EXPECT_EQ(shards.b.endpoint().counters().repeated_requests, 1U);
  EXPECT_EQ(shards.b.endpoint().counters().rrq.repeated, 1U);
  EXPECT_EQ(shards.b.endpoint().session_count(), 0U);
  EXPECT_TRUE(shards.b.sent_to(client).empty());
  EXPECT_EQ(shards.admission.total(), 1U);
}

TEST(Shards, SessionNumbersDoNotCollide) {
  TwoShards shards(100);
  for (std::uint16_t i = 0; i < 3; ++i) {
    shards.a.get(at(0x0a000401, static_cast<std::uint16_t>(1000 + i)), "boot");
    shards.b.get(at(0x0a000402, static_cast<std::uint16_t>(1000 + i)), "boot");
  }
  ASSERT_TRUE(shards.a.run());
  ASSERT_TRUE(shards.b.run());
  std::vector<SessionId> a_ids, b_ids;
  for (const auto& e : shards.a.events_of<TransferEnded>()) a_ids.push_back(e.record.session);
  for (const auto& e : shards.b.events_of<TransferEnded>()) b_ids.push_back(e.record.session);
  std::sort(a_ids.begin(), a_ids.end());
  std::sort(b_ids.begin(), b_ids.end());
  EXPECT_EQ(a_ids, (std::vector<SessionId>{1, 3, 5}));
  EXPECT_EQ(b_ids, (std::vector<SessionId>{2, 4, 6}));
}

TEST(SharedAdmission, ThePerClientLimitCountsEveryShard) {
  std::vector<Eviction> evictions;
  SharedAdmission admission(100, 2, [&](SharedAdmission::Shard shard, SessionId session, const SocketAddress& for_client) {
    evictions.push_back({shard, session, for_client});
  });
  const auto host = [](std::uint16_t port) { return at(0x0a000501, port); };
  ASSERT_EQ(admission.claim(0, 1, host(1)).verdict, SharedAdmission::Verdict::admit);
  ASSERT_EQ(admission.claim(1, 2, host(2)).verdict, SharedAdmission::Verdict::admit);
  admission.answered(host(1), 1);
  admission.answered(host(2), 2);
  EXPECT_EQ(admission.would_admit(host(3)), SharedAdmission::Verdict::busy);
  EXPECT_EQ(admission.claim(0, 3, host(3)).verdict, SharedAdmission::Verdict::busy);
  EXPECT_EQ(admission.claim(0, 5, host(1)).verdict, SharedAdmission::Verdict::elsewhere);
  // A finished transfer no longer counts against its client, though it stays open (dallying).
  admission.finished(host(2), 2);
  EXPECT_EQ(admission.claim(0, 7, host(3)).verdict, SharedAdmission::Verdict::admit);
  EXPECT_EQ(admission.total(), 3U);
  // A stale report for a session number that no longer holds the address changes nothing.
  admission.closed(host(3), 99);
  EXPECT_EQ(admission.total(), 3U);
  admission.closed(host(2), 2);
  EXPECT_EQ(admission.total(), 2U);
  EXPECT_TRUE(evictions.empty());
}

TEST(SharedAdmission, ALoopbackClientCountsOnlyOverall) {
  SharedAdmission admission(3, 1);
  for (std::uint16_t port = 1; port <= 3; ++port) {
    EXPECT_EQ(admission.claim(port % 2, port, SocketAddress{IpAddress::v4(0x7f000001), port}).verdict,
              SharedAdmission::Verdict::admit);
    admission.answered(SocketAddress{IpAddress::v4(0x7f000001), port}, port);
  }
  EXPECT_EQ(admission.claim(0, 4, SocketAddress{IpAddress::v4(0x7f000001), 4}).verdict, SharedAdmission::Verdict::busy);
}

}  // namespace
}  // namespace tftp::sim
