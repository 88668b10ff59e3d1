// Whole transfers between a client machine and a server machine over the simulated link: every size
// that matters (empty, one byte, block boundaries, 16-bit block-number rollover), both directions, option
// sets, windows, and deterministic packet loss. Content is compared byte for byte.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <tuple>

#include "sim_link.hpp"
#include "tftp/options.hpp"

namespace tftp {
namespace {

using sim::Side;

struct Scenario {
  ClientOptions options;
  ServerPolicy policy;
  TransferConfig config;
  sim::DropRule drop = sim::no_loss();
};

struct Result {
  bool settled = false;  // the link ran out of events (no livelock)
  Outcome client;
  Outcome server;
  std::vector<std::byte> received;
  Negotiated negotiated;
  std::size_t data_sent = 0;
  std::size_t lost = 0;
};

Result download(const std::vector<std::byte>& file, const Scenario& setup) {
  MemorySource source(file);
  MemorySink sink;
  ClientOptions options = setup.options;
  if (options.tsize) options.tsize = 0;  // an RRQ asks for the size with "0"
  auto client = Receiver::client_read(Rrq{"file.bin", Mode::octet, make_request_options(options)}, sink,
                                      setup.config, TimePoint{});
  sim::Link<Receiver, Sender> link(
      client,
      [&](std::span<const std::byte> request, TimePoint now) {
        const auto rrq = std::get<Rrq>(*parse(request));
        const auto answer = negotiate(setup.policy, rrq.options, Direction::read, file.size());
        return Sender::serve_read(answer, source, setup.config, now);
      },
      setup.drop);
  Result result;
  result.settled = link.run();
  result.client = client.outcome();
  if (link.server()) result.server = link.server()->outcome();
  result.received = sink.bytes();
  result.negotiated = client.negotiated();
  result.data_sent = link.count(Side::server, Opcode::data);
  result.lost = link.lost();
  return result;
}

Result upload(const std::vector<std::byte>& file, const Scenario& setup) {
  MemorySource source(file);
  MemorySink sink;
  ClientOptions options = setup.options;
  if (options.tsize) options.tsize = file.size();
  auto client = Sender::client_write(Wrq{"file.bin", Mode::octet, make_request_options(options)}, source,
                                     setup.config, TimePoint{});
  sim::Link<Sender, Receiver> link(
      client,
      [&](std::span<const std::byte> request, TimePoint now) {
        const auto wrq = std::get<Wrq>(*parse(request));
        const auto answer = negotiate(setup.policy, wrq.options, Direction::write, std::nullopt);
        return Receiver::serve_write(answer, sink, setup.config, now);
      },
      setup.drop);
  Result result;
  result.settled = link.run();
  result.client = client.outcome();
  if (link.server()) result.server = link.server()->outcome();
  result.received = sink.bytes();
  result.negotiated = client.negotiated();
  result.data_sent = link.count(Side::client, Opcode::data);
  result.lost = link.lost();
  return result;
}

void expect_complete(const Result& result, const std::vector<std::byte>& file) {
  EXPECT_TRUE(result.settled);
  EXPECT_TRUE(result.client.completed()) << make_error_code(result.client.error).message();
  EXPECT_TRUE(result.server.completed()) << make_error_code(result.server.error).message();
  EXPECT_EQ(result.received.size(), file.size());
  EXPECT_TRUE(result.received == file);
}

// ---- Sizes ----------------------------------------------------------------------------------------

class SizeTest : public ::testing::TestWithParam<std::tuple<std::size_t, bool>> {};

TEST_P(SizeTest, LockStepDefaultsMoveEveryByte) {
  const auto [size, use_options] = GetParam();
  const auto file = sim::pattern(size);
  Scenario setup;
  if (use_options) setup.options = ClientOptions{.block_size = 1428, .tsize = 0};
  const std::size_t block = use_options ? 1428 : 512;
  const std::size_t blocks = size / block + 1;  // a file that is a multiple of the block size ends with an empty block

  const auto down = download(file, setup);
  expect_complete(down, file);
  EXPECT_EQ(down.data_sent, blocks);
  EXPECT_EQ(down.negotiated.block_size, block);

  const auto up = upload(file, setup);
  expect_complete(up, file);
  EXPECT_EQ(up.data_sent, blocks);
}

INSTANTIATE_TEST_SUITE_P(Sizes, SizeTest,
                         ::testing::Combine(::testing::Values(0, 1, 511, 512, 513, 1427, 1428, 1429, 65536, 1 << 20),
                                            ::testing::Bool()));

// 65536 blocks of 512 bytes and more: the block number wraps from 65535 to 0 and the transfer goes on.
TEST(Rollover, BlockNumberWrapsToZeroBothDirections) {
  const auto file = sim::pattern(512 * 65536 + 700);
  Scenario setup;
  const auto down = download(file, setup);
  expect_complete(down, file);
  EXPECT_EQ(down.data_sent, 65538U);
  const auto up = upload(file, setup);
  expect_complete(up, file);
  EXPECT_EQ(up.data_sent, 65538U);
}

TEST(Rollover, SurvivesLossAcrossTheWrap) {
  const auto file = sim::pattern(512 * 65540);
  Scenario setup{.options = {.window_size = 8}, .drop = sim::random_loss(0.05, 7)};
  setup.config.max_retries = 20;
  expect_complete(download(file, setup), file);
  expect_complete(upload(file, setup), file);
}

// ---- Options --------------------------------------------------------------------------------------

TEST(Options, ServerLowersBlockSizeToItsMaximum) {
  const auto file = sim::pattern(100'000);
  Scenario setup{.options = {.block_size = 65464}, .policy = {.max_block_size = 8192}};
  const auto down = download(file, setup);
  expect_complete(down, file);
  EXPECT_EQ(down.negotiated.block_size, 8192);
  EXPECT_EQ(down.data_sent, 100'000U / 8192 + 1);
}

TEST(Options, LargestBlockSize) {
  const auto file = sim::pattern(65464 * 3 + 1);
  Scenario setup{.options = {.block_size = 65464}};
  const auto down = download(file, setup);
  expect_complete(down, file);
  EXPECT_EQ(down.data_sent, 4U);
  const auto up = upload(file, setup);
  expect_complete(up, file);
  EXPECT_EQ(up.data_sent, 4U);
}

TEST(Options, TsizeIsAnnouncedBothWays) {
  const auto file = sim::pattern(12345);
  Scenario setup{.options = {.tsize = 0}};
  const auto down = download(file, setup);
  expect_complete(down, file);
  EXPECT_EQ(down.negotiated.tsize, 12345U);
  const auto up = upload(file, setup);
  expect_complete(up, file);
  EXPECT_EQ(up.negotiated.tsize, 12345U);
}

TEST(Options, UploadAboveTheLimitIsRefusedBeforeData) {
  const auto file = sim::pattern(5000);
  Scenario setup{.options = {.tsize = 0}, .policy = {.max_upload = 4999}};
  const auto up = upload(file, setup);
  EXPECT_TRUE(up.settled);
  ASSERT_TRUE(up.client.failed());
  EXPECT_EQ(up.client.error, errc::peer_error);
  ASSERT_TRUE(up.client.received);
  EXPECT_EQ(up.client.received->code, ErrorCode::disk_full);
  EXPECT_EQ(up.data_sent, 0U);
  EXPECT_TRUE(up.received.empty());
}

// ---- Windows and loss -----------------------------------------------------------------------------

class LossTest : public ::testing::TestWithParam<std::tuple<double, std::uint16_t, std::uint32_t>> {};

TEST_P(LossTest, EveryTransferCompletesExactly) {
  const auto [rate, window, seed] = GetParam();
  const auto file = sim::pattern(300'000);
  Scenario setup{.options = {.block_size = 1428, .window_size = window, .tsize = 0}, .drop = sim::random_loss(rate, seed)};
  // At 30% loss the default budget is not always enough, for any TFTP: five lost copies of one packet in a
  // row happen, and so do lost final ACKs that outlast the dally.
  if (rate > 0.2) {
    setup.config.max_retries = 30;
    setup.config.dally = std::chrono::seconds(60);
  }
  const auto down = download(file, setup);
  expect_complete(down, file);
  EXPECT_GT(down.lost, 0U);
  const auto up = upload(file, setup);
  expect_complete(up, file);
  EXPECT_GT(up.lost, 0U);
}

INSTANTIATE_TEST_SUITE_P(Loss, LossTest,
                         ::testing::Combine(::testing::Values(0.1, 0.3), ::testing::Values(1, 4, 16),
                                            ::testing::Values(1U, 2U, 3U, 4U, 5U)));

TEST(Window, NoLossSendsEachBlockOnce) {
  const auto file = sim::pattern(64 * 1024 * 10);
  for (const std::uint16_t window : {std::uint16_t{2}, std::uint16_t{4}, std::uint16_t{16}, std::uint16_t{64}}) {
    Scenario setup{.options = {.block_size = 1024, .window_size = window}};
    const auto down = download(file, setup);
    expect_complete(down, file);
    EXPECT_EQ(down.negotiated.window_size, window);
    EXPECT_EQ(down.data_sent, file.size() / 1024 + 1) << "window " << window;
    const auto up = upload(file, setup);
    expect_complete(up, file);
    EXPECT_EQ(up.data_sent, file.size() / 1024 + 1) << "window " << window;
  }
}

// Losing one DATA in the middle of a window: the receiver reports the gap at once, so recovery costs the
// rest of that window, not a timeout (the time stays far below one retransmission timeout).
TEST(Window, GapIsRepairedWithoutWaitingForATimeout) {
  const auto file = sim::pattern(512 * 40);
  MemorySource source(file);
  MemorySink sink;
  const TransferConfig config;
  auto client = Receiver::client_read(Rrq{"f", Mode::octet, make_request_options({.window_size = 8})}, sink, config,
                                      TimePoint{});
  bool dropped = false;
  sim::Link<Receiver, Sender> link(
      client,
      [&](std::span<const std::byte> request, TimePoint now) {
        const auto rrq = std::get<Rrq>(*parse(request));
        return Sender::serve_read(negotiate({}, rrq.options, Direction::read, file.size()), source, config, now);
      },
      [&](std::uint64_t, const sim::Datagram& d) {
        if (dropped || d.from != Side::server || sim::opcode_of(d) != 3 || sim::block_of(d) != 11) return false;
        dropped = true;
        return true;
      });
  ASSERT_TRUE(link.run());
  EXPECT_TRUE(client.outcome().completed());
  EXPECT_TRUE(sink.bytes() == file);
  EXPECT_EQ(client.counters().timeouts, 0U);
  EXPECT_EQ(link.server()->counters().timeouts, 0U);
  const auto last_data = std::find_if(link.log().rbegin(), link.log().rend(), [](const sim::Datagram& d) {
    return d.from == Side::server && sim::opcode_of(d) == 3;
  });
  EXPECT_LT(last_data->sent - TimePoint{}, config.initial_timeout);
  // Block 11 was the 3rd of the 2nd window (9-16): 12-16 went out before the gap ACK came back, then 11-16 again.
  EXPECT_EQ(link.count(Side::server, Opcode::data), 41U + 6U);
}

// ---- Timeouts -------------------------------------------------------------------------------------

TEST(Timeout, SilentServerGivesUpAfterTheRetries) {
  MemorySink sink;
  TransferConfig config{.initial_timeout = std::chrono::seconds(1), .max_retries = 3, .adaptive = false};
  auto client = Receiver::client_read(Rrq{"f", Mode::octet, {}}, sink, config, TimePoint{});
  sim::Link<Receiver, Sender> link(
      client, [&](std::span<const std::byte>, TimePoint) -> Sender { throw std::logic_error("no server"); },
      [](std::uint64_t, const sim::Datagram&) { return true; });
  ASSERT_TRUE(link.run());
  EXPECT_EQ(client.outcome().error, errc::timed_out);
  EXPECT_EQ(link.count(Side::client, Opcode::rrq), 4U);
  // 1 + 2 + 4 + 8 seconds of exponential backoff.
  EXPECT_EQ(link.now() - TimePoint{}, std::chrono::seconds(15));
}

TEST(Timeout, NegotiatedTimeoutIsUsedWithoutBackoff) {
  MemorySink sink;
  TransferConfig config{.max_retries = 2};
  auto client = Receiver::client_read(Rrq{"f", Mode::octet, make_request_options({.timeout_s = 3})}, sink, config,
                                      TimePoint{});
  const auto file = sim::pattern(2000);
  MemorySource source(file);
  // The server answers (OACK with timeout 3), then every later packet is lost.
  sim::Link<Receiver, Sender> link(
      client,
      [&](std::span<const std::byte> request, TimePoint now) {
        const auto rrq = std::get<Rrq>(*parse(request));
        return Sender::serve_read(negotiate({}, rrq.options, Direction::read, file.size()), source, config, now);
      },
      [](std::uint64_t n, const sim::Datagram&) { return n >= 2; });
  ASSERT_TRUE(link.run());
  EXPECT_EQ(client.negotiated().timeout_s, 3);
  EXPECT_EQ(client.outcome().error, errc::timed_out);
  EXPECT_EQ(link.server()->outcome().error, errc::timed_out);
  EXPECT_EQ(client.current_timeout(), std::chrono::seconds(3));
  EXPECT_EQ(link.server()->current_timeout(), std::chrono::seconds(3));
}

}  // namespace
}  // namespace tftp
