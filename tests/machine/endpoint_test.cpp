// The server endpoint on the virtual clock: floods, strangers, repeated requests, single-port, eviction,
// 10,000 sessions, loss and reordering, shutdown. Every scenario asserts on the datagrams the server sent,
// the bytes the clients received and the endpoint's events and counters.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "endpoint_sim.hpp"

namespace tftp::sim {
namespace {

using namespace std::chrono_literals;

EndpointConfig config_with(std::size_t max_sessions = 1000, std::size_t per_client = 8) {
  EndpointConfig config;
  config.transfer.unanswered_resends = 2;
  config.writes_allowed = true;
  config.max_sessions = max_sessions;
  config.max_sessions_per_client = per_client;
  return config;
}

std::uint16_t opcode(const WireDatagram& d) { return opcode_of(Datagram{Side::server, d.bytes, {}}); }

std::optional<Error> error_in(const WireDatagram& d) {
  const auto parsed = parse(d.bytes);
  if (!parsed) return std::nullopt;
  if (const auto* error = std::get_if<Error>(&*parsed)) return *error;
  return std::nullopt;
}

using test::encoded;

TEST(Endpoint, ManyClientsDownloadExactBytes) {
  Network net(config_with());
  const std::vector<std::size_t> sizes{0, 1, 511, 512, 513, 65536, 100'000};
  for (std::size_t i = 0; i < sizes.size(); ++i) net.content.files["f" + std::to_string(i)] = pattern(sizes[i]);
  for (std::uint32_t i = 0; i < 100; ++i) {
    const std::size_t file = i % sizes.size();
    ClientOptions options;
    if (i % 2 == 1) options = {.block_size = 1428, .window_size = static_cast<std::uint16_t>(1 + i % 8), .tsize = 0};
    net.get(at(0x0a010000 + i, static_cast<std::uint16_t>(1000 + i)), "f" + std::to_string(file), options);
  }
  ASSERT_TRUE(net.run());
  std::size_t i = 0;
  for (auto& client : net.clients()) {
    EXPECT_TRUE(client->outcome().completed()) << i;
    EXPECT_EQ(client->sink->bytes(), pattern(sizes[i % sizes.size()])) << i;
    ++i;
  }
  EXPECT_EQ(net.events_of<TransferEnded>().size(), 100U);
  EXPECT_EQ(net.endpoint().counters().completed, 100U);
  EXPECT_TRUE(net.endpoint().idle());
  EXPECT_EQ(net.open_ports(), 0U);
}

TEST(Endpoint, TenThousandSessionsAtOnceAllComplete) {
  Network net(config_with(10'000));
  net.content.files["kernel"] = pattern(3000);
  for (std::uint32_t i = 0; i < 10'000; ++i) net.get(at(0x0b000000 + i, 4000), "kernel", {.block_size = 1024});
  ASSERT_TRUE(net.run());
  std::size_t completed = 0;
  for (auto& client : net.clients()) {
    completed += client->outcome().completed() && client->sink->bytes() == pattern(3000) ? 1U : 0U;
  }
  EXPECT_EQ(completed, 10'000U);
  EXPECT_EQ(net.peak_sessions(), 10'000U);  // every request got its session at once: none refused
  EXPECT_EQ(net.endpoint().counters().refused, 0U);
  EXPECT_TRUE(net.endpoint().idle());
}

TEST(Endpoint, AtTheSessionLimitNewRequestsAreRefusedBusyOnlyWhenAllAreEstablished) {
  Network net(config_with(2));
  net.content.files["big"] = pattern(4 << 20);  // 8192 blocks in lock-step: 16 s of virtual time
  auto& first = net.get(at(0x0a000101, 1000), "big");
  auto& second = net.get(at(0x0a000102, 1000), "big");
  net.run_for(100ms);  // both answered: established
  auto& third = net.get(at(0x0a000103, 1000), "big");
  net.run_for(100ms);
  ASSERT_TRUE(third.outcome().failed());
  ASSERT_TRUE(third.outcome().received);
  EXPECT_EQ(*third.outcome().received, (Error{ErrorCode::not_defined, "server busy"}));
  EXPECT_EQ(net.endpoint().counters().busy, 1U);
  EXPECT_EQ(net.endpoint().counters().evictions, 0U);
  ASSERT_TRUE(net.run());
  EXPECT_EQ(first.sink->bytes().size(), std::size_t{4} << 20);
  EXPECT_EQ(second.sink->bytes().size(), std::size_t{4} << 20);
}

// 500 forged RRQs from one address that never answer, then a real client there: served at once, since each
// request at the per-client limit takes the place of the oldest unanswered session of that address.
TEST(Endpoint, ANeverAnsweredFloodFromOneAddressDoesNotLockItsRealClientOut) {
  Network net(config_with(1000, 8));
  net.content.files["boot"] = pattern(10'000);
  const std::uint32_t host = 0x0a030001;
  for (std::uint16_t port = 2000; port < 2500; ++port) net.inject(at(host, port), server_port, Rrq{"boot", Mode::octet, {}});
  net.run_for(10ms);
  const auto asked = net.now();
  auto& real = net.get(at(host, 3000), "boot");
  net.run_for(1s);
  ASSERT_TRUE(real.outcome().completed());
  EXPECT_EQ(real.sink->bytes(), pattern(10'000));
  EXPECT_LT(net.now() - asked, 2s);
  EXPECT_EQ(net.endpoint().counters().evictions, 500U - 8U + 1U);  // each beyond 8, and one for the real client
  EXPECT_EQ(net.endpoint().counters().busy, 0U);
  EXPECT_EQ(net.events_of<SessionEvicted>().back().for_client, at(host, 3000));
}

TEST(Endpoint, ANeverAnsweredFloodFromManyAddressesDoesNotLockOthersOut) {
  Network net(config_with(100, 8));
  net.content.files["boot"] = pattern(10'000);
  for (std::uint32_t i = 0; i < 500; ++i) {
    net.inject(at(0x0a040000 + i / 2, static_cast<std::uint16_t>(2000 + i)), server_port, Rrq{"boot", Mode::octet, {}});
  }
  net.run_for(10ms);
  auto& real = net.get(at(0x0a050001, 3000), "boot");
  net.run_for(1s);
  ASSERT_TRUE(real.outcome().completed());
  EXPECT_EQ(real.sink->bytes(), pattern(10'000));
  EXPECT_EQ(net.endpoint().counters().evictions, 500U - 100U + 1U);
  EXPECT_LE(net.peak_sessions(), 100U);
}

TEST(Endpoint, AnEvictedUploadLeavesNothing) {
  Network net(config_with(1000, 1));
  net.content.files["boot"] = pattern(100);
  const std::uint32_t host = 0x0a060001;
  net.inject(at(host, 2000), server_port, Wrq{"forged.bin", Mode::octet, {}});  // never sends DATA
  net.run_for(10ms);
  EXPECT_EQ(net.content.uploads_open, 1U);
  auto& real = net.get(at(host, 3000), "boot");
  ASSERT_TRUE(net.run());
  EXPECT_TRUE(real.outcome().completed());
  EXPECT_EQ(net.content.aborted, 1U);
  EXPECT_EQ(net.content.uploads_open, 0U);
  EXPECT_TRUE(net.content.committed.empty());
  EXPECT_TRUE(net.events_of<TransferEnded>().size() == 1U);  // the eviction has no transfer record
}

TEST(Endpoint, AForgedRequestDrawsAtMostTheReflectionBound) {
  Network net(config_with());
  net.content.files["big"] = pattern(1 << 20);
  const auto victim = at(0x0a070001, 1234);
  net.inject(victim, server_port, Rrq{"big", Mode::octet, make_request_options({.block_size = 65464, .window_size = 64})});
  ASSERT_TRUE(net.run());
  const auto sent = net.sent_to(victim);
  ASSERT_EQ(sent.size(), 3U);  // the OACK, resent twice, then silence
  for (const auto* d : sent) EXPECT_EQ(opcode(*d), static_cast<std::uint16_t>(Opcode::oack));
  ASSERT_EQ(net.events_of<TransferEnded>().size(), 1U);
  EXPECT_EQ(net.events_of<TransferEnded>()[0].record.outcome.error, errc::unanswered);
  EXPECT_TRUE(net.endpoint().idle());
}

TEST(Endpoint, AStrangerOnASessionPortGetsError5AndTheTransferGoesOn) {
  Network net(config_with());
  net.content.files["big"] = pattern(200'000);
  auto& client = net.get(at(0x0a080001, 1000), "big");
  net.run_for(20ms);
  const auto session_port = Network::port_of(1);
  const auto stranger = at(0x0a080002, 7777);
  net.inject(stranger, session_port, Ack{1});
  net.inject(stranger, session_port, std::vector<std::byte>{std::byte{9}, std::byte{9}, std::byte{9}});  // junk
  net.inject(stranger, session_port, Error{ErrorCode::not_defined, "x"});  // never answered with an ERROR
  ASSERT_TRUE(net.run());
  EXPECT_EQ(client.sink->bytes(), pattern(200'000));
  const auto replies = net.sent_to(stranger);
  ASSERT_EQ(replies.size(), 1U);
  EXPECT_EQ(replies[0]->from.port, session_port);
  EXPECT_EQ(error_in(*replies[0]), (Error{ErrorCode::unknown_transfer_id, "Unknown transfer ID"}));
  const auto answered = net.events_of<StrangerAnswered>();
  ASSERT_EQ(answered.size(), 1U);
  EXPECT_EQ(answered[0].client, client.address);
  EXPECT_EQ(answered[0].file, "big");
  EXPECT_EQ(net.endpoint().counters().strangers, 3U);
}

TEST(Endpoint, StrangerRepliesAreRateLimited) {
  Network net(config_with());
  net.content.files["big"] = pattern(4 << 20);  // 16 s in lock-step: the session port stays open
  net.get(at(0x0a090001, 1000), "big");
  net.run_for(20ms);
  for (std::uint16_t i = 0; i < 200; ++i) net.inject(at(0x0a090002, static_cast<std::uint16_t>(5000 + i)), Network::port_of(1), Ack{1});
  net.run_for(5ms);
  EXPECT_EQ(net.sent_to(at(0x0a090002, 0)).size(), 50U);  // the burst; then 50 per second
  net.run_for(1s);
  for (std::uint16_t i = 0; i < 200; ++i) net.inject(at(0x0a090002, static_cast<std::uint16_t>(6000 + i)), Network::port_of(1), Ack{1});
  net.run();
  EXPECT_LE(net.sent_to(at(0x0a090002, 0)).size(), 50U + 52U);
  EXPECT_GE(net.sent_to(at(0x0a090002, 0)).size(), 50U + 45U);
}

TEST(Endpoint, ARepeatedRequestIsIgnoredWhileItsTransferRuns) {
  Network net(config_with());
  net.content.files["f"] = pattern(50'000);
  // Every request arrives twice, the copy 5 ms later.
  net.mangle = [](std::uint64_t, const WireDatagram& d) {
    const auto op = opcode_of(Datagram{Side::client, d.bytes, {}});
    return op == static_cast<std::uint16_t>(Opcode::rrq) ? Mangling{1, 5ms} : Mangling{};
  };
  auto& client = net.get(at(0x0a0a0001, 1000), "f");
  ASSERT_TRUE(net.run());
  EXPECT_EQ(client.sink->bytes(), pattern(50'000));
  EXPECT_EQ(net.endpoint().counters().sessions, 1U);
  EXPECT_EQ(net.endpoint().counters().repeated_requests, 1U);
  EXPECT_EQ(client.strangers, 0U);
}

TEST(Endpoint, ANewRequestAfterACompletedUploadStartsAnewWhileTheUploadDallies) {
  Network net(config_with());
  net.content.files["f"] = pattern(600);
  const auto address = at(0x0a0b0001, 1000);
  auto& upload = net.put(address, "up.bin", pattern(1000));
  net.run_for(200ms);
  ASSERT_TRUE(upload.outcome().completed());
  ASSERT_EQ(net.endpoint().session_count(), 1U);  // the upload's session dallies for a lost final ACK
  auto& download = net.get(address, "f");
  ASSERT_TRUE(net.run());
  EXPECT_EQ(download.sink->bytes(), pattern(600));
  EXPECT_EQ(net.content.committed.at("up.bin"), pattern(1000));
}

TEST(Endpoint, SinglePortAnswersFromTheListeningPortAndTellsOnlyHostsWithATransfer) {
  auto config = config_with();
  config.single_port = true;
  Network net(config);
  net.content.files["f"] = pattern(100'000);
  auto& a = net.get(at(0x0a0c0001, 1000), "f", {.block_size = 1428, .window_size = 4});
  auto& b = net.get(at(0x0a0c0002, 1000), "f");
  net.run_for(10ms);
  net.inject(at(0x0a0c0001, 1001), server_port, Ack{1});  // another port of a host with a transfer
  net.inject(at(0x0a0c0099, 1000), server_port, Ack{1});  // a host without one
  ASSERT_TRUE(net.run());
  EXPECT_EQ(a.sink->bytes(), pattern(100'000));
  EXPECT_EQ(b.sink->bytes(), pattern(100'000));
  for (const auto& d : net.wire()) {
    if (d.from.ip == IpAddress::v4(server_host)) {
      EXPECT_EQ(d.from.port, server_port);
    }
  }
  ASSERT_EQ(net.sent_to(at(0x0a0c0001, 1001)).size(), 1U);
  EXPECT_EQ(error_in(*net.sent_to(at(0x0a0c0001, 1001))[0])->code, ErrorCode::unknown_transfer_id);
  EXPECT_TRUE(net.sent_to(at(0x0a0c0099, 0)).empty());
  EXPECT_EQ(net.open_ports(), 0U);
}

TEST(Endpoint, LossDuplicationAndReorderingStillDeliverExactBytes) {
  Network net(config_with());
  net.content.files["f"] = pattern(300'000);
  auto engine = std::make_shared<std::mt19937>(7);
  net.drop = [engine](std::uint64_t, const WireDatagram&) {
    return std::uniform_real_distribution<double>(0, 1)(*engine) < 0.1;
  };
  net.mangle = [engine](std::uint64_t, const WireDatagram&) {
    std::uniform_real_distribution<double> unit(0, 1);
    return Mangling{unit(*engine) < 0.05 ? 1U : 0U, std::chrono::duration_cast<Duration>(3ms * unit(*engine))};
  };
  for (std::uint32_t i = 0; i < 20; ++i) {
    ClientOptions options;
    if (i % 2 == 0) options = {.block_size = 1428, .window_size = 4};
    net.get(at(0x0a0d0000 + i, 1000), "f", options, TransferConfig{.max_retries = 10});
  }
  ASSERT_TRUE(net.run());
  for (auto& client : net.clients()) {
    ASSERT_TRUE(client->outcome().completed());
    EXPECT_EQ(client->sink->bytes(), pattern(300'000));
  }
  std::size_t lost = 0;
  for (const auto& d : net.wire()) lost += d.lost ? 1U : 0U;
  EXPECT_GT(lost, 100U);
}

TEST(Endpoint, ShutdownGivesRunningTransfersTheGraceThenError0) {
  Network net(config_with());
  net.content.files["big"] = pattern(4 << 20);
  auto& client = net.get(at(0x0a0e0001, 1000), "big");
  net.run_for(1s);
  net.shutdown(2s);
  auto& late = net.get(at(0x0a0e0002, 1000), "big");
  net.run_for(1500ms);
  EXPECT_TRUE(client.outcome().running());
  EXPECT_TRUE(net.sent_to(late.address).empty());  // requests are ignored once stopping
  ASSERT_TRUE(net.run());
  ASSERT_TRUE(client.outcome().failed());
  EXPECT_EQ(client.outcome().received, (Error{ErrorCode::not_defined, "server shutting down"}));
  EXPECT_TRUE(net.endpoint().idle());
}

TEST(Endpoint, NoSocketForASessionIsBusy) {
  Network net(config_with());
  net.content.files["f"] = pattern(10);
  net.session_ports_left = 0;
  auto& client = net.get(at(0x0a0f0001, 1000), "f");
  ASSERT_TRUE(net.run());
  EXPECT_EQ(client.outcome().received, (Error{ErrorCode::not_defined, "server busy"}));
  EXPECT_EQ(net.endpoint().session_count(), 0U);
}

TEST(Endpoint, BlockSizeFollowsTheMtuOfTheLinkAsked) {
  auto config = config_with();
  config.block_size_from_mtu = true;
  Network net(config);
  net.mtu = 1500;
  net.content.files["f"] = pattern(5000);
  auto& client = net.get(at(0x0a100001, 1000), "f", {.block_size = 65464});
  ASSERT_TRUE(net.run());
  EXPECT_EQ(client.receiver->negotiated().block_size, 1468);
  EXPECT_EQ(client.sink->bytes(), pattern(5000));
}

TEST(Endpoint, RefusalsComeFromTheListeningSocketWithTheirErrors) {
  auto config = config_with();
  config.writes_allowed = false;
  Network net(config);
  auto& missing = net.get(at(0x0a110001, 1000), "missing");
  auto& upload = net.put(at(0x0a110002, 1000), "x", pattern(10));
  auto truncated = encoded(Rrq{"f", Mode::octet, {}});
  truncated.resize(4);  // no mode
  net.inject(at(0x0a110003, 1000), server_port, truncated);
  ASSERT_TRUE(net.run());
  EXPECT_EQ(missing.outcome().received, (Error{ErrorCode::file_not_found, "file not found"}));
  EXPECT_EQ(upload.outcome().received, (Error{ErrorCode::access_violation, "uploads are disabled"}));
  const auto malformed = net.sent_to(at(0x0a110003, 1000));
  ASSERT_EQ(malformed.size(), 1U);
  EXPECT_EQ(error_in(*malformed[0])->code, ErrorCode::illegal_operation);
  for (const auto& d : net.wire()) {
    if (d.from.ip == IpAddress::v4(server_host)) {
      EXPECT_EQ(d.from.port, server_port);
    }
  }
  EXPECT_EQ(net.endpoint().counters().sessions, 0U);
  EXPECT_EQ(net.events_of<RequestRefused>().size(), 3U);
}

}  // namespace
}  // namespace tftp::sim
