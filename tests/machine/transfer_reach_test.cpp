// Reach (TransferConfig): until a client has shown that it receives what a server machine sends, the server
// resends a bounded number of times, sends a bounded first window and keeps its own timeout. A forged RRQ and
// a forged ACK 0 (easy on a well-known port) must not draw a window of 64 blocks of 65464 bytes, again and
// again, at the victim.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "sim_link.hpp"
#include "tftp/options.hpp"

namespace tftp {
namespace {

using namespace std::chrono_literals;

const TimePoint t0{};

std::vector<std::byte> ack(std::uint16_t n) {
  return {std::byte{0}, std::byte{4}, static_cast<std::byte>(n >> 8U), static_cast<std::byte>(n & 0xFFU)};
}

struct Sent {
  std::uint16_t opcode = 0;
  std::uint16_t block = 0;
  std::size_t size = 0;
};

template <class Machine>
std::vector<Sent> drain(Machine& machine) {
  std::vector<std::byte> buffer(transmit_buffer_size);
  std::vector<Sent> out;
  while (const auto size = machine.poll_transmit(buffer)) {
    out.push_back({std::to_integer<std::uint16_t>(buffer[1]),
                   static_cast<std::uint16_t>(std::to_integer<unsigned>(buffer[2]) << 8U | std::to_integer<unsigned>(buffer[3])),
                   *size});
  }
  return out;
}

// Runs the machine on its timeouts alone until it finishes; everything it sent.
template <class Machine>
std::vector<Sent> run_out(Machine& machine, TimePoint& now) {
  std::vector<Sent> all;
  for (int i = 0; i < 100 && !machine.is_finished(); ++i) {
    now = *machine.next_deadline();
    machine.on_timeout(now);
    for (const auto& s : drain(machine)) all.push_back(s);
  }
  return all;
}

std::size_t bytes_of(const std::vector<Sent>& sent) {
  std::size_t total = 0;
  for (const auto& s : sent) total += s.size;
  return total;
}

const TransferConfig guarded{.unanswered_resends = 2, .first_window_bytes = 16384};

const OptionList amplifier{{"blksize", "65464"}, {"windowsize", "64"}};

TEST(Reach, AForgedRequestAndAck0DrawOneSmallWindowThreeTimes) {
  sim::PatternSource source(64 * 65464 * 4);
  TimePoint now = t0;
  auto sender = Sender::serve_read(negotiate({}, amplifier, Direction::read, std::nullopt), source, guarded, now);
  ASSERT_EQ(drain(sender).size(), 1U);  // the OACK
  sender.on_datagram(ack(0), now += 1ms);  // forged
  auto sent = drain(sender);
  ASSERT_EQ(sent.size(), 1U);  // 16 KiB / 65464: one block, not 64
  for (const auto& s : run_out(sender, now)) sent.push_back(s);
  EXPECT_EQ(sender.outcome().error, errc::unanswered);
  EXPECT_FALSE(sender.answered());
  ASSERT_EQ(sent.size(), 3U);  // DATA 1, resent twice (unanswered_resends), then silence
  for (const auto& s : sent) EXPECT_EQ(s.block, 1U);
  EXPECT_EQ(bytes_of(sent), 3U * (4 + 65464));
  EXPECT_EQ(now - t0, 1ms + 50ms + 100ms + 200ms);  // the measured 1 ms round trip: the 50 ms floor, doubled
}

// Without the guard (what the server had): the whole window, again and again for the give-up time.
TEST(Reach, WithoutTheGuardTheSameForgeryDrawsWholeWindows) {
  sim::PatternSource source(64 * 65464 * 4);
  TimePoint now = t0;
  auto sender = Sender::serve_read(negotiate({}, amplifier, Direction::read, std::nullopt), source, TransferConfig{}, now);
  drain(sender);
  sender.on_datagram(ack(0), now += 1ms);
  auto sent = drain(sender);
  EXPECT_EQ(sent.size(), 64U);
  for (const auto& s : run_out(sender, now)) sent.push_back(s);
  EXPECT_EQ(sender.outcome().error, errc::timed_out);
  EXPECT_GT(bytes_of(sent), std::size_t{20} << 20);
}

// Slow start: the first window is first_window_bytes; it stays so until an ACK acknowledges data beyond it,
// then doubles with every window acknowledged, up to the negotiated window.
TEST(Reach, TheWindowOpensSmallAndDoublesOnceTheClientIsProven) {
  sim::PatternSource source(512 * 40);
  TimePoint now = t0;
  TransferConfig config = guarded;
  config.first_window_bytes = 1024;  // two blocks of 512
  auto sender = Sender::serve_read(negotiate({}, {{"windowsize", "8"}}, Direction::read, std::nullopt), source,
                                   config, now);
  drain(sender);
  sender.on_datagram(ack(0), now += 1ms);
  std::vector<std::size_t> windows;
  std::uint16_t last = 0;
  for (int round = 0; round < 6; ++round) {
    const auto sent = drain(sender);
    windows.push_back(sent.size());
    if (sent.empty()) break;
    last = sent.back().block;
    EXPECT_EQ(sender.answered(), round >= 2) << round;
    sender.on_datagram(ack(last), now += 1ms);
  }
  EXPECT_EQ(windows, (std::vector<std::size_t>{2, 2, 4, 8, 8, 8}));
}

// An unanswered session that negotiated timeout 255 lived 765 s; it now keeps the server's own timeout.
TEST(Reach, ANegotiatedTimeoutWaitsForTheClientsAnswer) {
  sim::PatternSource source(5000);
  TimePoint now = t0;
  const OptionList asked{{"timeout", "255"}};
  auto sender = Sender::serve_read(negotiate({}, asked, Direction::read, std::nullopt), source, guarded, now);
  drain(sender);
  run_out(sender, now);
  EXPECT_EQ(sender.outcome().error, errc::unanswered);
  EXPECT_EQ(now - t0, 1s + 2s + 4s);
  // Once the client has accepted the OACK, its timeout is used as is.
  now = t0;
  auto accepted = Sender::serve_read(negotiate({}, {{"timeout", "10"}}, Direction::read, std::nullopt), source, guarded, now);
  drain(accepted);
  accepted.on_datagram(ack(0), now);
  drain(accepted);
  EXPECT_EQ(accepted.current_timeout(), 10s);
  EXPECT_EQ(accepted.next_deadline(), now + 10s);
}

TEST(Reach, AnUploadIsProvenByItsFirstData) {
  MemorySink sink;
  TimePoint now = t0;
  auto silent = Receiver::serve_write(negotiate({}, {}, Direction::write, std::nullopt), sink, guarded, now);
  EXPECT_EQ(drain(silent).size(), 1U);  // ACK 0
  EXPECT_EQ(run_out(silent, now).size(), 2U);  // resent twice, then silence
  EXPECT_EQ(silent.outcome().error, errc::unanswered);
  auto receiver = Receiver::serve_write(negotiate({}, {}, Direction::write, std::nullopt), sink, guarded, now);
  drain(receiver);
  EXPECT_FALSE(receiver.answered());
  const std::vector<std::byte> data1{std::byte{0}, std::byte{3}, std::byte{0}, std::byte{1}, std::byte{'x'}};
  receiver.on_datagram(data1, now + 1ms);
  EXPECT_TRUE(receiver.answered());
  EXPECT_TRUE(receiver.outcome().completed());
}

// Client machines start proven: the bound is for servers, which cannot tell a forged request.
TEST(Reach, ClientMachinesStartProven) {
  MemorySink sink;
  auto client = Receiver::client_read(Rrq{"f", Mode::octet, {}}, sink, guarded, t0);
  EXPECT_TRUE(client.answered());
  TimePoint now = t0;
  run_out(client, now);
  EXPECT_EQ(client.outcome().error, errc::timed_out);  // patience, not the unanswered bound
  EXPECT_EQ(now - t0, 31s);
}

}  // namespace
}  // namespace tftp
