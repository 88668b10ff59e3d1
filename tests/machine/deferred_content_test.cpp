// Content that is not there yet, on the virtual clock: a provider that answers an open later (an HTTP
// origin's response headers) and a source whose blocks arrive over time (the origin's body). The client must
// see a normal transfer, never a retransmission storm, and every failure as a TFTP ERROR.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "endpoint_sim.hpp"

namespace tftp::sim {
namespace {

using namespace std::chrono_literals;

EndpointConfig config_with(std::size_t max_sessions = 1000) {
  EndpointConfig config;
  config.transfer.unanswered_resends = 2;
  config.max_sessions = max_sessions;
  return config;
}

// DATA blocks the server sent to `to`, by block number, counted.
std::map<std::uint16_t, int> data_sent(const Network& net, SocketAddress to) {
  std::map<std::uint16_t, int> blocks;
  for (const auto* d : net.sent_to(to)) {
    const auto parsed = parse(d->bytes);
    if (parsed) {
      if (const auto* data = std::get_if<Data>(&*parsed)) ++blocks[data->block];
    }
  }
  return blocks;
}

TEST(DeferredContent, AReadOpenedLaterWaitsAsASessionThenAnswersWithTheSizeItLearnt) {
  Network net(config_with());
  net.content.later.insert("kernel");
  const auto file = pattern(100'000);
  auto& client = net.get(at(0x0a200001, 1000), "kernel", {.block_size = 1428, .tsize = 0});
  net.run_for(2500ms);  // the client resent its RRQ meanwhile: a repeat, not a second open
  EXPECT_TRUE(net.sent_to(client.address).empty());
  ASSERT_EQ(net.content.asked_later.size(), 1U);
  EXPECT_EQ(net.endpoint().session_count(), 1U);
  EXPECT_GE(net.endpoint().counters().rrq.repeated, 1U);
  EXPECT_EQ(net.endpoint().counters().rrq.served, 0U);

  net.read_opened(net.content.asked_later[0].first,
                  ReadContent{std::make_unique<MemorySource>(file), file.size(), "kernel"});
  ASSERT_TRUE(net.run());
  ASSERT_TRUE(client.outcome().completed());
  EXPECT_EQ(client.sink->bytes(), file);
  EXPECT_EQ(client.receiver->negotiated().tsize, file.size());  // tsize from the late answer
  EXPECT_EQ(client.receiver->negotiated().block_size, 1428);
  EXPECT_EQ(net.endpoint().counters().rrq.served, 1U);
  EXPECT_EQ(net.endpoint().counters().sessions, 1U);
  EXPECT_EQ(net.content.asked_later.size(), 1U);
  EXPECT_TRUE(net.endpoint().idle());
}

TEST(DeferredContent, ALateRefusalIsTheClientsErrorFromTheListeningPort) {
  Network net(config_with());
  net.content.later.insert("missing");
  auto& client = net.get(at(0x0a200002, 1000), "missing");
  net.run_for(300ms);
  net.read_opened(net.content.asked_later.at(0).first,
                  Refusal{Error{ErrorCode::file_not_found, "file not found"}, "missing"});
  ASSERT_TRUE(net.run());
  EXPECT_EQ(client.outcome().received, (Error{ErrorCode::file_not_found, "file not found"}));
  const auto sent = net.sent_to(client.address);
  ASSERT_EQ(sent.size(), 1U);
  EXPECT_EQ(sent[0]->from.port, server_port);
  EXPECT_EQ(net.endpoint().counters().rrq.refused, 1U);
  EXPECT_EQ(net.endpoint().counters().refused_by_code[1], 1U);
  ASSERT_EQ(net.events_of<RequestRefused>().size(), 1U);
  EXPECT_EQ(net.events_of<RequestRefused>()[0].file, "missing");
  EXPECT_TRUE(net.events_of<TransferEnded>().empty());
  EXPECT_TRUE(net.endpoint().idle());
}

TEST(DeferredContent, AnOpenNeverAnsweredIsRefusedAtTheGiveUpTimeAndALateAnswerIsDropped) {
  Network net(config_with());
  net.content.later.insert("stuck");
  TransferConfig patient;
  patient.max_retries = 20;  // the client waits longer than the server: it sees the ERROR
  auto& client = net.get(at(0x0a200003, 1000), "stuck", {}, patient);
  const auto asked = net.now();
  ASSERT_TRUE(net.run(asked + 60s));
  ASSERT_TRUE(client.outcome().failed());
  EXPECT_EQ(client.outcome().received, (Error{ErrorCode::not_defined, "content unavailable"}));
  const auto sent = net.sent_to(client.address);
  ASSERT_EQ(sent.size(), 1U);
  EXPECT_EQ(sent[0]->sent - asked, give_up_time(TransferConfig{}) + 1ms);  // + the request's one-way delay
  EXPECT_TRUE(net.endpoint().idle());
  net.read_opened(net.content.asked_later.at(0).first,
                  ReadContent{std::make_unique<MemorySource>(std::span<const std::byte>{}), 0, "stuck"});
  net.run();
  EXPECT_EQ(net.sent_to(client.address).size(), 1U);
  EXPECT_EQ(net.endpoint().counters().sessions, 0U);
}

TEST(DeferredContent, AnOpeningSessionHoldsASlotAndIsEvictedLikeAnyUnansweredOne) {
  Network net(config_with(1));
  net.content.later.insert("slow");
  net.content.files["fast"] = pattern(3000);
  auto& waiting = net.get(at(0x0a200004, 1000), "slow");
  net.run_for(10ms);
  EXPECT_EQ(net.endpoint().session_count(), 1U);
  auto& other = net.get(at(0x0a200005, 1000), "fast");
  net.run_for(1s);
  ASSERT_TRUE(other.outcome().completed());
  EXPECT_EQ(other.sink->bytes(), pattern(3000));
  ASSERT_EQ(net.events_of<SessionEvicted>().size(), 1U);
  EXPECT_EQ(net.events_of<SessionEvicted>()[0].client, waiting.address);
  net.read_opened(net.content.asked_later.at(0).first,
                  ReadContent{std::make_unique<MemorySource>(std::span<const std::byte>{}), 0, "slow"});
  net.run_for(1s);
  EXPECT_TRUE(net.sent_to(waiting.address).empty());  // the late answer found no session
}

TEST(DeferredContent, ShutdownRefusesSessionsStillOpening) {
  Network net(config_with());
  net.content.later.insert("slow");
  auto& client = net.get(at(0x0a200006, 1000), "slow");
  net.run_for(10ms);
  net.shutdown(500ms);
  ASSERT_TRUE(net.run());
  EXPECT_EQ(client.outcome().received, (Error{ErrorCode::not_defined, "server shutting down"}));
  EXPECT_TRUE(net.endpoint().idle());
}

// 100 kB arriving 10 kB every 5 s, read by a lock-step client whose timeout is 1 s: the server sends each
// block once, has no timeout while it waits, and the client's re-ACKs are duplicates, not retransmission
// triggers.
TEST(DeferredContent, ADownloadFollowsContentArrivingSlowerThanTheClientsTimeout) {
  Network net(config_with());
  net.content.later.insert("initrd");
  GatedFile gated{pattern(100'000)};
  auto& client = net.get(at(0x0a200007, 1000), "initrd");
  net.run_for(10ms);
  const SessionId id = net.content.asked_later.at(0).first;
  net.read_opened(id, ReadContent{std::make_unique<GatedSource>(gated), gated.bytes.size(), "initrd"});
  for (int step = 1; step <= 10; ++step) {
    net.run_for(5s);
    EXPECT_FALSE(client.outcome().failed()) << step;
    gated.available = std::min<std::uint64_t>(gated.bytes.size(), 10'000U * static_cast<unsigned>(step));
    gated.complete = step == 10;
    net.content_ready(id);
  }
  ASSERT_TRUE(net.run());
  ASSERT_TRUE(client.outcome().completed());
  EXPECT_EQ(client.sink->bytes(), gated.bytes);
  const auto blocks = data_sent(net, client.address);
  EXPECT_EQ(blocks.size(), 100'000U / 512 + 1);
  for (const auto& [block, times] : blocks) EXPECT_EQ(times, 1) << block;
  const auto ended = net.events_of<TransferEnded>();  // a copy: the record below refers into it
  ASSERT_EQ(ended.size(), 1U);
  const auto& record = ended[0].record;
  EXPECT_EQ(record.counters.retransmissions, 0U);
  EXPECT_EQ(record.counters.timeouts, 0U);
  EXPECT_GT(record.counters.duplicates, 10U);  // the client's re-ACKs while it waited
}

TEST(DeferredContent, WhileWaitingWithNothingInFlightTheSessionHasNoDeadline) {
  Network net(config_with());
  net.content.later.insert("f");
  GatedFile gated{pattern(5000)};
  gated.available = 1024;
  TransferConfig patient;
  patient.max_retries = 40;  // 1+2+4+8*37 s: outlasts the wait below
  auto& client = net.get(at(0x0a200008, 1000), "f", {}, patient);
  net.run_for(10ms);
  const SessionId id = net.content.asked_later.at(0).first;
  net.read_opened(id, ReadContent{std::make_unique<GatedSource>(gated), std::nullopt, "f"});
  net.run_for(1s);
  EXPECT_EQ(data_sent(net, client.address).size(), 2U);  // the two blocks there, acknowledged
  net.run_for(100s);  // far beyond the server's give-up time: it is not the client that is silent
  EXPECT_TRUE(client.outcome().running());
  gated.complete = true;
  net.content_ready(id);
  ASSERT_TRUE(net.run());
  ASSERT_TRUE(client.outcome().completed());
  EXPECT_EQ(client.sink->bytes(), gated.bytes);
  const auto ended = net.events_of<TransferEnded>();
  const auto& record = ended.at(0).record;
  EXPECT_EQ(record.counters.timeouts, 0U);
  EXPECT_EQ(record.counters.retransmissions, 0U);
}

TEST(DeferredContent, AWindowKeepsResendingWhatIsInFlightWhileTheNextBlockIsMissing) {
  Network net(config_with());
  net.content.later.insert("f");
  GatedFile gated{pattern(20'000)};
  gated.available = 2048;  // 4 of a window of 8
  auto& client = net.get(at(0x0a200009, 1000), "f", {.window_size = 8});
  net.run_for(10ms);
  const SessionId id = net.content.asked_later.at(0).first;
  // The first window's DATA is lost once: block 1 must come again although block 5 is not there.
  int data_seen = 0;
  net.drop = [&](std::uint64_t, const WireDatagram& d) {
    const auto parsed = parse(d.bytes);
    return parsed && std::holds_alternative<Data>(*parsed) && ++data_seen <= 4;
  };
  net.read_opened(id, ReadContent{std::make_unique<GatedSource>(gated), std::nullopt, "f"});
  net.run_for(5s);
  EXPECT_EQ(data_sent(net, client.address).size(), 4U);
  EXPECT_GE(data_sent(net, client.address).at(1), 2);
  const auto timeouts = net.endpoint().running(Direction::read).counters.timeouts;
  EXPECT_GE(timeouts, 1U);
  net.run_for(20s);  // all four acknowledged now: no more timeouts while the fifth is missing
  EXPECT_EQ(net.endpoint().running(Direction::read).counters.timeouts, timeouts);
  gated.complete = true;
  net.content_ready(id);
  ASSERT_TRUE(net.run());
  EXPECT_TRUE(client.outcome().completed()) << static_cast<int>(client.outcome().error) << " "
                                            << client.sink->bytes().size();
  EXPECT_EQ(client.sink->bytes(), gated.bytes);
}

TEST(DeferredContent, ContentThatFailsMidTransferEndsItWithTheSourcesError) {
  Network net(config_with());
  net.content.later.insert("f");
  GatedFile gated{pattern(50'000)};
  gated.available = 10'000;
  auto& client = net.get(at(0x0a20000a, 1000), "f");
  net.run_for(10ms);
  const SessionId id = net.content.asked_later.at(0).first;
  net.read_opened(id, ReadContent{std::make_unique<GatedSource>(gated), gated.bytes.size(), "f"});
  net.run_for(2s);
  gated.failure = Error{ErrorCode::not_defined, "origin unavailable"};
  net.content_ready(id);
  ASSERT_TRUE(net.run());
  ASSERT_TRUE(client.outcome().failed());
  EXPECT_EQ(client.outcome().received, (Error{ErrorCode::not_defined, "origin unavailable"}));
  EXPECT_EQ(client.sink->bytes().size(), 10'000U / 512 * 512);
  ASSERT_EQ(net.events_of<TransferEnded>().size(), 1U);
  EXPECT_EQ(net.events_of<TransferEnded>()[0].record.outcome.error, errc::local_io_error);
  EXPECT_TRUE(net.endpoint().idle());
}

}  // namespace
}  // namespace tftp::sim
