// The transfer machines packet by packet: the exact bytes each input produces, on a virtual clock.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim_link.hpp"
#include "tftp/options.hpp"
#include "wire.hpp"

namespace tftp {
namespace {

using namespace std::chrono_literals;

const TimePoint t0{};

using sim::ack;
using sim::data;
using sim::drain;
using sim::error;
using sim::feed;
using test::bytes_of;
using test::text_of;

// ---- Sender as a server (RRQ) -------------------------------------------------------------------

struct SenderFixture : ::testing::Test {
  std::vector<std::byte> file = sim::pattern(1000);
  MemorySource source{file};
  TransferConfig config{.initial_timeout = 1s, .adaptive = false};

  Sender plain() { return Sender::serve_read(negotiate({}, {}, Direction::read, file.size()), source, config, t0); }
  std::string block(std::uint16_t n, std::size_t size = 512) {
    return data(n, text_of(std::span(file).subspan((n - 1U) * 512U, size)));
  }
};

TEST_F(SenderFixture, LockStepSendsEachBlockAfterItsAck) {
  auto sender = plain();
  EXPECT_EQ(drain(sender), std::vector<std::string>{block(1)});
  feed(sender, ack(1), t0 + 10ms);
  EXPECT_EQ(drain(sender), std::vector<std::string>{block(2, 488)});
  EXPECT_FALSE(sender.is_finished());
  feed(sender, ack(2), t0 + 20ms);
  EXPECT_TRUE(drain(sender).empty());
  EXPECT_TRUE(sender.outcome().completed());
  EXPECT_TRUE(sender.is_finished());
  EXPECT_EQ(sender.next_deadline(), std::nullopt);
}

// The Sorcerer's Apprentice bug (RFC 1123 4.2.3.1): a duplicate ACK must not send the next block again.
TEST_F(SenderFixture, DuplicateAckSendsNothing) {
  auto sender = plain();
  drain(sender);
  feed(sender, ack(1), t0 + 10ms);
  EXPECT_EQ(drain(sender).size(), 1U);
  feed(sender, ack(1), t0 + 11ms);
  EXPECT_TRUE(drain(sender).empty());
  EXPECT_EQ(sender.counters().duplicates, 1U);
  EXPECT_EQ(sender.counters().data_sent, 2U);
}

TEST_F(SenderFixture, TimeoutResendsTheSameBytesWithBackoff) {
  auto sender = plain();
  drain(sender);
  EXPECT_EQ(sender.next_deadline(), t0 + 1s);
  sender.on_timeout(t0 + 999ms);  // early: nothing
  EXPECT_TRUE(drain(sender).empty());
  sender.on_timeout(t0 + 1s);
  EXPECT_EQ(drain(sender), std::vector<std::string>{block(1)});
  EXPECT_EQ(sender.next_deadline(), t0 + 1s + 2s);
  EXPECT_EQ(sender.counters().retransmissions, 1U);
}

TEST_F(SenderFixture, GivesUpSilentlyAfterTheRetries) {
  config.max_retries = 2;
  auto sender = plain();
  drain(sender);
  sender.on_timeout(t0 + 1s);
  EXPECT_EQ(drain(sender).size(), 1U);
  sender.on_timeout(t0 + 3s);
  EXPECT_EQ(drain(sender).size(), 1U);
  sender.on_timeout(t0 + 7s);
  EXPECT_TRUE(drain(sender).empty());
  EXPECT_EQ(sender.outcome().error, errc::timed_out);
  EXPECT_TRUE(sender.is_finished());
}

TEST_F(SenderFixture, OackThenDataAfterAckZero) {
  const OptionList requested{{"blksize", "100"}, {"tsize", "0"}, {"foo", "bar"}};
  auto sender = Sender::serve_read(negotiate({}, requested, Direction::read, file.size()), source, config, t0);
  EXPECT_EQ(drain(sender), std::vector<std::string>{std::string("\0\6blksize\0" "100\0tsize\0" "1000\0", 25)});
  feed(sender, ack(1), t0 + 1ms);  // not an acceptance of the OACK
  EXPECT_TRUE(drain(sender).empty());
  feed(sender, ack(0), t0 + 2ms);
  EXPECT_EQ(drain(sender), std::vector<std::string>{data(1, text_of(std::span(file).first(100)))});
}

TEST_F(SenderFixture, RefusalIsSentAndEnds) {
  auto answer = negotiate({}, {}, Direction::read, file.size());
  answer.refusal = Error{ErrorCode::file_not_found, "File not found"};
  auto sender = Sender::serve_read(answer, source, config, t0);
  EXPECT_FALSE(sender.is_finished());
  EXPECT_EQ(drain(sender), std::vector<std::string>{error(1, "File not found")});
  EXPECT_TRUE(sender.is_finished());
  EXPECT_EQ(sender.outcome().error, errc::aborted);
}

TEST_F(SenderFixture, PeerErrorEndsWithoutAnswer) {
  auto sender = plain();
  drain(sender);
  feed(sender, error(0, "user cancelled"), t0 + 1ms);
  EXPECT_TRUE(drain(sender).empty());
  EXPECT_EQ(sender.outcome().error, errc::peer_error);
  ASSERT_TRUE(sender.outcome().received);
  EXPECT_EQ(sender.outcome().received->message, "user cancelled");
}

TEST_F(SenderFixture, MalformedAndUnexpectedPacketsGetError4) {
  auto sender = plain();
  drain(sender);
  feed(sender, std::string("\0\4\0", 3), t0 + 1ms);  // a truncated ACK
  const auto sent = drain(sender);
  ASSERT_EQ(sent.size(), 1U);
  EXPECT_EQ(sent[0].substr(0, 4), std::string("\0\5\0\4", 4));
  EXPECT_EQ(sender.outcome().error, errc::malformed_packet);

  auto other = plain();
  drain(other);
  feed(other, data(1, "x"), t0 + 1ms);  // a sender never receives DATA
  EXPECT_EQ(drain(other)[0].substr(0, 4), std::string("\0\5\0\4", 4));
  EXPECT_EQ(other.outcome().error, errc::protocol_violation);
}

class FailingSource final : public BlockSource {
 public:
  BlockRead read_block(std::uint64_t index, std::span<std::byte> out) override {
    if (index > 0) return Error{ErrorCode::not_defined, "read failed"};
    return out.size();
  }
};

TEST_F(SenderFixture, SourceErrorIsSentToThePeer) {
  FailingSource failing;
  auto sender = Sender::serve_read(negotiate({}, {}, Direction::read, std::nullopt), failing, config, t0);
  EXPECT_EQ(drain(sender).size(), 1U);
  feed(sender, ack(1), t0 + 1ms);
  EXPECT_EQ(drain(sender), std::vector<std::string>{error(0, "read failed")});
  EXPECT_EQ(sender.outcome().error, errc::local_io_error);
}

TEST_F(SenderFixture, AbortSendsTheError) {
  auto sender = plain();
  drain(sender);
  sender.abort(Error{ErrorCode::not_defined, "server shutting down"});
  EXPECT_EQ(drain(sender), std::vector<std::string>{error(0, "server shutting down")});
  EXPECT_EQ(sender.outcome().error, errc::aborted);
}

TEST_F(SenderFixture, WindowSendsNBlocksAndGoesBackOnAGapAck) {
  file = sim::pattern(512 * 10);
  source = MemorySource(file);
  auto sender = Sender::serve_read(negotiate({}, {{"windowsize", "4"}}, Direction::read, file.size()), source,
                                   config, t0);
  drain(sender);  // OACK
  feed(sender, ack(0), t0 + 1ms);
  EXPECT_EQ(drain(sender), (std::vector<std::string>{block(1), block(2), block(3), block(4)}));
  feed(sender, ack(2), t0 + 2ms);  // 3 was lost: resend from 3, a full window
  EXPECT_EQ(drain(sender), (std::vector<std::string>{block(3), block(4), block(5), block(6)}));
  feed(sender, ack(6), t0 + 3ms);
  EXPECT_EQ(drain(sender).size(), 4U);  // 7-10
  feed(sender, ack(5), t0 + 4ms);       // old: ignored
  EXPECT_TRUE(drain(sender).empty());
}

// UEFI (EDK II) learns the size with RRQ + tsize, reads the OACK and answers ERROR 8: an outcome of its own,
// not a peer error, and nothing is sent back.
TEST_F(SenderFixture, Error8AfterTheOackIsDeclinedOptions) {
  auto sender = Sender::serve_read(negotiate({}, {{"tsize", "0"}, {"blksize", "1468"}}, Direction::read, file.size()),
                                   source, config, t0);
  EXPECT_EQ(drain(sender), std::vector<std::string>{std::string("\0\6tsize\0" "1000\0blksize\0" "1468\0", 26)});
  feed(sender, error(8, "User aborted the transfer"), t0 + 1ms);
  EXPECT_TRUE(drain(sender).empty());
  EXPECT_EQ(sender.outcome().error, errc::options_declined);
  ASSERT_TRUE(sender.outcome().received);
  EXPECT_EQ(sender.outcome().received->code, ErrorCode::option_refused);
  EXPECT_TRUE(sender.is_finished());
  // ERROR 8 once data flows is an ordinary peer error.
  auto flowing = plain();
  drain(flowing);
  feed(flowing, error(8, "late"), t0 + 1ms);
  EXPECT_EQ(flowing.outcome().error, errc::peer_error);
}

TEST(ReceiverAsServer, Error8AfterTheOackIsDeclinedOptions) {
  MemorySink sink;
  auto receiver = Receiver::serve_write(negotiate({}, {{"blksize", "1024"}}, Direction::write, std::nullopt), sink,
                                        TransferConfig{}, t0);
  EXPECT_EQ(drain(receiver), std::vector<std::string>{std::string("\0\6blksize\0" "1024\0", 15)});
  feed(receiver, error(8, "no"), t0 + 1ms);
  EXPECT_TRUE(drain(receiver).empty());
  EXPECT_EQ(receiver.outcome().error, errc::options_declined);
  EXPECT_TRUE(receiver.is_finished());
}

// ---- Receiver as a client (RRQ) -----------------------------------------------------------------

struct ReceiverFixture : ::testing::Test {
  MemorySink sink;
  TransferConfig config{.initial_timeout = 1s, .dally = 5s, .adaptive = false};

  Receiver client(OptionList options = {}) {
    return Receiver::client_read(Rrq{"boot.img", Mode::octet, std::move(options)}, sink, config, t0);
  }
};

TEST_F(ReceiverFixture, RequestThenLockStepThenDally) {
  auto receiver = client();
  EXPECT_EQ(drain(receiver), std::vector<std::string>{std::string("\0\1boot.img\0octet\0", 17)});
  feed(receiver, data(1, std::string(512, 'a')), t0 + 1ms);
  EXPECT_EQ(drain(receiver), std::vector<std::string>{ack(1)});
  feed(receiver, data(1, std::string(512, 'a')), t0 + 2ms);  // our ACK was lost: ACK again, write once
  EXPECT_EQ(drain(receiver), std::vector<std::string>{ack(1)});
  feed(receiver, data(2, "end"), t0 + 3ms);
  EXPECT_EQ(drain(receiver), std::vector<std::string>{ack(2)});
  EXPECT_TRUE(receiver.outcome().completed());
  EXPECT_TRUE(receiver.is_dallying());
  EXPECT_FALSE(receiver.is_finished());
  feed(receiver, data(2, "end"), t0 + 4s);  // the final ACK was lost
  EXPECT_EQ(drain(receiver), std::vector<std::string>{ack(2)});
  receiver.on_timeout(t0 + 4s + 5s);
  EXPECT_TRUE(receiver.is_finished());
  EXPECT_EQ(text_of(sink.bytes()), std::string(512, 'a') + "end");
}

TEST_F(ReceiverFixture, OackIsAcknowledgedWithAckZero) {
  auto receiver = client(make_request_options({.block_size = 1428, .tsize = 0}));
  drain(receiver);
  feed(receiver, std::string("\0\6blksize\0" "1000\0tsize\0" "5\0", 23), t0 + 1ms);
  EXPECT_EQ(drain(receiver), std::vector<std::string>{ack(0)});
  EXPECT_EQ(receiver.negotiated().block_size, 1000);
  EXPECT_EQ(receiver.negotiated().tsize, 5U);
  feed(receiver, std::string("\0\6blksize\0" "1000\0tsize\0" "5\0", 23), t0 + 2ms);  // our ACK 0 was lost
  EXPECT_EQ(drain(receiver), std::vector<std::string>{ack(0)});
  feed(receiver, data(1, "12345"), t0 + 3ms);
  EXPECT_EQ(drain(receiver), std::vector<std::string>{ack(1)});
  EXPECT_TRUE(receiver.outcome().completed());
}

TEST_F(ReceiverFixture, ServerIgnoringOptionsMeansDefaults) {
  auto receiver = client(make_request_options({.block_size = 1428}));
  drain(receiver);
  feed(receiver, data(1, std::string(512, 'x')), t0 + 1ms);
  EXPECT_EQ(drain(receiver), std::vector<std::string>{ack(1)});
  EXPECT_EQ(receiver.negotiated().block_size, 512);
}

TEST_F(ReceiverFixture, UnrequestedOptionIsRefusedWithError8) {
  auto receiver = client(make_request_options({.block_size = 1428}));
  drain(receiver);
  feed(receiver, std::string("\0\6windowsize\0" "4\0", 15), t0 + 1ms);
  const auto sent = drain(receiver);
  ASSERT_EQ(sent.size(), 1U);
  EXPECT_EQ(sent[0].substr(0, 4), std::string("\0\5\0\x08", 4));
  EXPECT_EQ(receiver.outcome().error, errc::option_not_requested);
}

TEST_F(ReceiverFixture, BlockSizeAboveTheRequestIsRefusedWithError8) {
  auto receiver = client(make_request_options({.block_size = 1428}));
  drain(receiver);
  feed(receiver, std::string("\0\6blksize\0" "1429\0", 15), t0 + 1ms);
  EXPECT_EQ(drain(receiver)[0].substr(0, 4), std::string("\0\5\0\x08", 4));
  EXPECT_EQ(receiver.outcome().error, errc::option_out_of_range);
}

TEST_F(ReceiverFixture, DataLongerThanTheBlockSizeIsAViolation) {
  auto receiver = client();
  drain(receiver);
  feed(receiver, data(1, std::string(513, 'x')), t0 + 1ms);
  EXPECT_EQ(drain(receiver)[0].substr(0, 4), std::string("\0\5\0\4", 4));
  EXPECT_EQ(receiver.outcome().error, errc::protocol_violation);
  EXPECT_TRUE(sink.bytes().empty());
}

TEST_F(ReceiverFixture, ServerErrorIsReported) {
  auto receiver = client();
  drain(receiver);
  feed(receiver, error(1, "File not found"), t0 + 1ms);
  EXPECT_TRUE(drain(receiver).empty());
  EXPECT_EQ(receiver.outcome().error, errc::peer_error);
  EXPECT_EQ(receiver.outcome().received, (Error{ErrorCode::file_not_found, "File not found"}));
  EXPECT_TRUE(receiver.is_finished());
}

TEST_F(ReceiverFixture, GapIsReportedOnceAtOnce) {
  auto receiver = client(make_request_options({.window_size = 4}));
  drain(receiver);
  feed(receiver, std::string("\0\6windowsize\0" "4\0", 15), t0 + 1ms);
  EXPECT_EQ(drain(receiver), std::vector<std::string>{ack(0)});
  feed(receiver, data(1, std::string(512, '1')), t0 + 2ms);
  feed(receiver, data(2, std::string(512, '2')), t0 + 2ms);
  EXPECT_TRUE(drain(receiver).empty());  // mid-window: no ACK
  feed(receiver, data(4, std::string(512, '4')), t0 + 3ms);
  EXPECT_EQ(drain(receiver), std::vector<std::string>{ack(2)});
  feed(receiver, data(5, std::string(512, '5')), t0 + 3ms);
  EXPECT_TRUE(drain(receiver).empty());  // the same gap: already reported
  feed(receiver, data(3, std::string(512, '3')), t0 + 4ms);
  feed(receiver, data(4, std::string(512, '4')), t0 + 4ms);
  feed(receiver, data(5, std::string(512, '5')), t0 + 4ms);
  feed(receiver, data(6, std::string(512, '6')), t0 + 4ms);
  EXPECT_EQ(drain(receiver), std::vector<std::string>{ack(6)});
  EXPECT_EQ(sink.bytes().size(), 6U * 512U);
}

class FullSink final : public BlockSink {
 public:
  std::optional<Error> write_block(std::uint64_t, std::span<const std::byte>) override {
    return Error{ErrorCode::disk_full, "Disk full"};
  }
};

TEST_F(ReceiverFixture, SinkErrorIsSentToThePeer) {
  FullSink full;
  auto receiver = Receiver::serve_write(negotiate({}, {}, Direction::write, std::nullopt), full, config, t0);
  EXPECT_EQ(drain(receiver), std::vector<std::string>{ack(0)});
  feed(receiver, data(1, "abc"), t0 + 1ms);
  EXPECT_EQ(drain(receiver), std::vector<std::string>{error(3, "Disk full")});
  EXPECT_EQ(receiver.outcome().error, errc::local_io_error);
}

// Write-behind: a sink that holds each block until the datagrams answering it are out (a copy here).
class HoldingSink final : public BlockSink {
 public:
  std::optional<Error> write_block(std::uint64_t, std::span<const std::byte> bytes) override {
    held = text_of(bytes);
    return std::nullopt;
  }
  std::optional<Error> after_transmit() override {
    if (fail) return Error{ErrorCode::disk_full, "Disk full"};
    written += std::exchange(held, {});
    return std::nullopt;
  }
  std::string held;
  std::string written;
  bool fail = false;
};

TEST_F(ReceiverFixture, AHeldBlockIsWrittenOnceItsAckIsOutAndItsFailureIsSentNext) {
  HoldingSink holding;
  auto receiver = Receiver::serve_write(negotiate({}, {}, Direction::write, std::nullopt), holding, config, t0);
  EXPECT_EQ(drain(receiver), std::vector<std::string>{ack(0)});
  feed(receiver, data(1, std::string(512, '1')), t0 + 1ms);
  std::vector<std::byte> buffer(transmit_buffer_size);
  ASSERT_TRUE(receiver.poll_transmit(buffer));  // ACK 1
  EXPECT_TRUE(holding.written.empty());
  EXPECT_FALSE(receiver.poll_transmit(buffer));
  EXPECT_EQ(holding.written, std::string(512, '1'));
  holding.fail = true;
  feed(receiver, data(2, std::string(512, '2')), t0 + 2ms);
  EXPECT_EQ(drain(receiver), (std::vector<std::string>{ack(2), error(3, "Disk full")}));
  EXPECT_EQ(receiver.outcome().error, errc::local_io_error);
  EXPECT_TRUE(receiver.is_finished());
}

TEST_F(ReceiverFixture, ServerWithOackWaitsForDataOne) {
  auto receiver =
      Receiver::serve_write(negotiate({}, {{"blksize", "8"}}, Direction::write, std::nullopt), sink, config, t0);
  EXPECT_EQ(drain(receiver), std::vector<std::string>{std::string("\0\6blksize\0" "8\0", 12)});
  receiver.on_timeout(t0 + 1s);  // the OACK was lost
  EXPECT_EQ(drain(receiver), std::vector<std::string>{std::string("\0\6blksize\0" "8\0", 12)});
  feed(receiver, data(1, "12345678"), t0 + 1500ms);
  EXPECT_EQ(drain(receiver), std::vector<std::string>{ack(1)});
  feed(receiver, data(2, ""), t0 + 1600ms);
  EXPECT_EQ(drain(receiver), std::vector<std::string>{ack(2)});
  EXPECT_EQ(text_of(sink.bytes()), "12345678");
}

TEST_F(ReceiverFixture, RolloverAcksBlockZero) {
  auto receiver = client();
  drain(receiver);
  for (std::uint32_t n = 1; n <= 65536; ++n) {
    feed(receiver, data(static_cast<std::uint16_t>(n), std::string(512, 'r')), t0 + 1ms);
    ASSERT_EQ(drain(receiver), std::vector<std::string>{ack(static_cast<std::uint16_t>(n))}) << n;
  }
  feed(receiver, data(1, ""), t0 + 2ms);  // block 65537 wraps to 1
  EXPECT_EQ(drain(receiver), std::vector<std::string>{ack(1)});
  EXPECT_TRUE(receiver.outcome().completed());
  EXPECT_EQ(sink.bytes().size(), 65536U * 512U);
}

// ---- Sender as a client (WRQ) -------------------------------------------------------------------

TEST(ClientWrite, WrqThenDataAfterAckZero) {
  const auto file = bytes_of("hello");
  MemorySource source(file);
  auto sender = Sender::client_write(Wrq{"up.txt", Mode::octet, {}}, source, TransferConfig{}, t0);
  EXPECT_EQ(drain(sender), std::vector<std::string>{std::string("\0\2up.txt\0octet\0", 15)});
  feed(sender, ack(0), t0 + 1ms);
  EXPECT_EQ(drain(sender), std::vector<std::string>{data(1, "hello")});
  feed(sender, ack(1), t0 + 2ms);
  EXPECT_TRUE(sender.outcome().completed());
}

TEST(ClientWrite, OackWithUnrequestedOptionIsRefused) {
  const auto file = bytes_of("hello");
  MemorySource source(file);
  auto sender = Sender::client_write(Wrq{"up.txt", Mode::octet, make_request_options({.block_size = 1024})},
                                     source, TransferConfig{}, t0);
  drain(sender);
  feed(sender, std::string("\0\6blksize\0" "1024\0timeout\0" "3\0", 25), t0 + 1ms);
  EXPECT_EQ(drain(sender)[0].substr(0, 4), std::string("\0\5\0\x08", 4));
  EXPECT_EQ(sender.outcome().error, errc::option_not_requested);
}

}  // namespace
}  // namespace tftp
