// The adaptive retransmission timeout (RFC 6298 with Karn's rule, TransferConfig) on known samples, alone
// (tftp::detail::RetransmitTimer) and inside the machines; and the dally of both receivers. Virtual time only.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "sim_link.hpp"
#include "tftp/options.hpp"
#include "tftp/transfer.hpp"
#include "wire.hpp"

namespace tftp {
namespace {

using namespace std::chrono_literals;
using detail::RetransmitTimer;
using sim::ack;
using sim::data;
using sim::drain;
using sim::feed;

const TimePoint t0{};

// A round trip measured from `sent` to `answered`.
void sample(RetransmitTimer& timer, TimePoint sent, TimePoint answered) {
  timer.start_sample(sent);
  timer.finish_sample(answered);
}

// Within a microsecond above the round trip: where SRTT + 4 RTTVAR ends in integer nanoseconds.
bool settled_on(Duration timeout, Duration round_trip) { return timeout >= round_trip && timeout - round_trip < 1us; }

// ---- RFC 6298 on known samples --------------------------------------------------------------------

TEST(RetransmitTimer, BeforeAnySampleTheTimeoutIsTheInitialOne) {
  RetransmitTimer timer(TransferConfig{}, t0);
  EXPECT_EQ(timer.timeout(), 1s);
  EXPECT_EQ(RetransmitTimer(TransferConfig{.initial_timeout = 3s}, t0).timeout(), 3s);
}

// RFC 6298 2.2 and 2.3: the first sample R gives SRTT = R, RTTVAR = R/2; each later one
// RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R'|, then SRTT = 7/8 SRTT + 1/8 R'; RTO = SRTT + 4 RTTVAR.
TEST(RetransmitTimer, SamplesFollowRfc6298) {
  RetransmitTimer timer(TransferConfig{}, t0);
  sample(timer, t0, t0 + 100ms);  // SRTT 100, RTTVAR 50
  EXPECT_EQ(timer.timeout(), 300ms);
  sample(timer, t0 + 1s, t0 + 1s + 200ms);  // RTTVAR (150 + 100) / 4 = 62.5, SRTT (700 + 200) / 8 = 112.5
  EXPECT_EQ(timer.timeout(), 362'500us);
  sample(timer, t0 + 2s, t0 + 2s + 50ms);  // RTTVAR (187.5 + 62.5) / 4 = 62.5, SRTT (787.5 + 50) / 8 = 104.6875
  EXPECT_EQ(timer.timeout(), 354'687'500ns);
  for (int i = 0; i < 200; ++i) sample(timer, t0 + 3s + i * 1s, t0 + 3s + i * 1s + 200ms);
  // A steady round trip: SRTT becomes it and RTTVAR decays to (almost: integer nanoseconds) nothing.
  EXPECT_TRUE(settled_on(timer.timeout(), 200ms)) << timer.timeout().count() << " ns";
}

TEST(RetransmitTimer, TheTimeoutStaysBetweenTheMinimumAndTheMaximum) {
  RetransmitTimer fast(TransferConfig{}, t0);
  sample(fast, t0, t0 + 1ms);  // 1 + 4 x 0.5 = 3 ms
  EXPECT_EQ(fast.timeout(), 50ms);
  RetransmitTimer slow(TransferConfig{}, t0);
  sample(slow, t0, t0 + 5s);  // 5 + 4 x 2.5 = 15 s
  EXPECT_EQ(slow.timeout(), 8s);
  RetransmitTimer bounded(TransferConfig{.min_timeout = 200ms, .max_timeout = 2s}, t0);
  sample(bounded, t0, t0 + 10ms);
  EXPECT_EQ(bounded.timeout(), 200ms);
  sample(bounded, t0 + 1s, t0 + 1s + 3s);
  EXPECT_EQ(bounded.timeout(), 2s);
}

TEST(RetransmitTimer, WithoutAdaptiveNoSampleCounts) {
  RetransmitTimer timer(TransferConfig{.adaptive = false}, t0);
  sample(timer, t0, t0 + 100ms);
  EXPECT_EQ(timer.timeout(), 1s);
}

// Only the first start_sample of a packet counts: the measurement runs from its first transmission.
TEST(RetransmitTimer, ASecondStartDoesNotMoveTheSample) {
  RetransmitTimer timer(TransferConfig{}, t0);
  timer.start_sample(t0);
  timer.start_sample(t0 + 50ms);
  timer.finish_sample(t0 + 100ms);
  EXPECT_EQ(timer.timeout(), 300ms);  // R = 100 ms, not 50
  EXPECT_FALSE(timer.sampling());
}

// ---- Karn's rule ----------------------------------------------------------------------------------

TEST(RetransmitTimer, KarnARetransmittedPacketsAnswerGivesNoSample) {
  RetransmitTimer timer(TransferConfig{}, t0);
  timer.start_sample(t0);
  ASSERT_TRUE(timer.take_retry(t0 + 1s));  // the packet goes out again
  EXPECT_FALSE(timer.sampling());
  EXPECT_EQ(timer.timeout(), 2s);
  timer.finish_sample(t0 + 1s + 10ms);  // whose answer is it? Not measured
  EXPECT_EQ(timer.timeout(), 2s);
  timer.start_sample(t0 + 2s);
  timer.cancel_sample();  // a window went back: the same
  timer.finish_sample(t0 + 2s + 10ms);
  EXPECT_EQ(timer.timeout(), 2s);
  sample(timer, t0 + 3s, t0 + 3s + 10ms);  // a packet sent once: measured, and the backoff is undone
  EXPECT_EQ(timer.timeout(), 50ms);
}

// A Sender: DATA 1 times out and goes again; the ACK right after the resend must not be taken for a 5 ms
// (or a 1005 ms) round trip. DATA 2, sent once, is measured.
TEST(RetransmitTimer, KarnInTheSender) {
  const auto file = sim::pattern(3 * 512);
  MemorySource source(file);
  auto sender = Sender::serve_read(negotiate({}, {}, Direction::read, file.size()), source, TransferConfig{}, t0);
  ASSERT_EQ(drain(sender).size(), 1U);  // DATA 1 at 0
  sender.on_timeout(t0 + 1s);
  ASSERT_EQ(drain(sender).size(), 1U);  // DATA 1 again at 1 s, timeout doubled
  EXPECT_EQ(sender.current_timeout(), 2s);
  feed(sender, ack(1), t0 + 1s + 5ms);
  ASSERT_EQ(drain(sender).size(), 1U);  // DATA 2
  EXPECT_EQ(sender.current_timeout(), 2s);  // no sample from ACK 1
  EXPECT_EQ(sender.next_deadline(), t0 + 1s + 5ms + 2s);
  feed(sender, ack(2), t0 + 1s + 5ms + 40ms);
  EXPECT_EQ(sender.current_timeout(), 120ms);  // R = 40 ms: 40 + 4 x 20
}

// ---- Backoff, progress and the give-up time -------------------------------------------------------

TEST(RetransmitTimer, BackoffDoublesUpToTheEightSecondCap) {
  RetransmitTimer timer(TransferConfig{.max_retries = 10}, t0);
  std::vector<Duration> timeouts;
  TimePoint now = t0;
  for (int i = 0; i < 6; ++i) {
    timer.arm(now);
    now = *timer.deadline();
    ASSERT_TRUE(timer.take_retry(now)) << i;
    timeouts.push_back(timer.timeout());
  }
  EXPECT_EQ(timeouts, (std::vector<Duration>{2s, 4s, 8s, 8s, 8s, 8s}));
  EXPECT_EQ(timer.retries(), 6U);
  RetransmitTimer measured(TransferConfig{.max_retries = 10}, t0);
  sample(measured, t0, t0 + 3s);  // 3 + 4 x 1.5 = 9 s: at the cap at once
  EXPECT_EQ(measured.timeout(), 8s);
  ASSERT_TRUE(measured.take_retry(t0 + 11s));
  EXPECT_EQ(measured.timeout(), 8s);
}

TEST(RetransmitTimer, TheDeadlineNeverPassesTheGiveUpTime) {
  RetransmitTimer timer(TransferConfig{}, t0);  // give up after 31 s of silence
  ASSERT_EQ(timer.give_up_time(), 31s);
  const std::vector<TimePoint> expected{t0 + 1s, t0 + 3s, t0 + 7s, t0 + 15s, t0 + 23s, t0 + 31s};
  std::vector<TimePoint> deadlines;
  TimePoint now = t0;
  for (;;) {
    timer.arm(now);
    deadlines.push_back(*timer.deadline());
    now = *timer.deadline();
    if (!timer.take_retry(now)) break;
  }
  EXPECT_EQ(deadlines, expected);
  EXPECT_EQ(timer.retries(), 5U);
}

TEST(RetransmitTimer, ProgressResetsTheRetriesAndTheSilence) {
  RetransmitTimer timer(TransferConfig{}, t0);
  ASSERT_TRUE(timer.take_retry(t0 + 1s));
  ASSERT_TRUE(timer.take_retry(t0 + 3s));
  ASSERT_TRUE(timer.take_retry(t0 + 7s));
  EXPECT_EQ(timer.retries(), 3U);
  timer.progress(t0 + 20s);
  EXPECT_EQ(timer.retries(), 0U);
  // The silence now counts from 20 s: 31 s later, not 31 s after the start.
  ASSERT_TRUE(timer.take_retry(t0 + 31s + 1s));
  EXPECT_TRUE(timer.take_retry(t0 + 20s + 31s - 1ns));
  EXPECT_FALSE(timer.take_retry(t0 + 20s + 31s));
  timer.progress(t0 + 60s);
  timer.arm(t0 + 60s);
  EXPECT_EQ(timer.deadline(), t0 + 60s + timer.timeout());
  // Adaptive: the backoff stays until a sample undoes it (Karn), progress alone keeps it.
  EXPECT_EQ(timer.timeout(), 8s);
}

TEST(RetransmitTimer, WithoutMeasurementProgressUndoesTheBackoff) {
  RetransmitTimer timer(TransferConfig{.adaptive = false}, t0);
  ASSERT_TRUE(timer.take_retry(t0 + 1s));
  ASSERT_TRUE(timer.take_retry(t0 + 3s));
  EXPECT_EQ(timer.timeout(), 4s);
  timer.progress(t0 + 4s);
  EXPECT_EQ(timer.timeout(), 1s);
  EXPECT_EQ(timer.retries(), 0U);
}

// RFC 2349: a negotiated timeout is used as is, no measurement and no backoff; give up after
// (retries + 1) x timeout.
TEST(RetransmitTimer, ANegotiatedTimeoutIsFixed) {
  RetransmitTimer timer(TransferConfig{}, t0);
  timer.start_sample(t0);
  timer.fix(3s);
  EXPECT_FALSE(timer.sampling());
  EXPECT_EQ(timer.timeout(), 3s);
  EXPECT_EQ(timer.give_up_time(), 18s);
  sample(timer, t0 + 1s, t0 + 1s + 10ms);
  EXPECT_EQ(timer.timeout(), 3s);
  ASSERT_TRUE(timer.take_retry(t0 + 3s));
  EXPECT_EQ(timer.timeout(), 3s);
}

// ---- Over a link ---------------------------------------------------------------------------------

// 100 ms one way: both ends measure the 200 ms round trip, the sender from DATA to ACK and the receiver from
// ACK to the next DATA, and the timeouts settle on it (RTTVAR decays to nothing over 300 round trips).
TEST(AdaptiveTimeout, BothEndsSettleOnTheRoundTripOfTheLink) {
  const auto file = sim::pattern(300 * 512 + 1);
  MemorySource source(file);
  MemorySink sink;
  const TransferConfig config{.dally = 1s};
  auto client = Receiver::client_read(Rrq{"f", Mode::octet, {}}, sink, config, t0);
  sim::Link<Receiver, Sender> link(
      client,
      [&](std::span<const std::byte>, TimePoint now) {
        return Sender::serve_read(negotiate({}, {}, Direction::read, file.size()), source, config, now);
      },
      sim::no_loss(), sim::clean(), 100ms);
  ASSERT_TRUE(link.run());
  EXPECT_TRUE(client.outcome().completed());
  EXPECT_TRUE(sink.bytes() == file);
  EXPECT_TRUE(settled_on(link.server()->current_timeout(), 200ms)) << link.server()->current_timeout().count() << " ns";
  EXPECT_TRUE(settled_on(client.current_timeout(), 200ms)) << client.current_timeout().count() << " ns";
  EXPECT_EQ(client.counters().timeouts, 0U);  // no retransmission was due (the end of the dally is none)
  EXPECT_EQ(link.server()->counters().retransmissions, 0U);
}

// ---- The dally of both receivers ------------------------------------------------------------------

enum class Role { server_of_a_wrq, client_of_an_rrq };

std::string role_name(const ::testing::TestParamInfo<std::tuple<Role, bool>>& info) {
  return std::string(std::get<0>(info.param) == Role::server_of_a_wrq ? "ServerOfAWrq" : "ClientOfAnRrq") +
         (std::get<1>(info.param) ? "DallyOf2s" : "DallyOfTheGiveUpTime");
}

class Dally : public ::testing::TestWithParam<std::tuple<Role, bool>> {
 protected:
  Receiver receiver() {
    const auto [role, explicit_dally] = GetParam();
    config_.dally = explicit_dally ? std::optional<Duration>(2s) : std::nullopt;
    if (role == Role::server_of_a_wrq) {
      auto r = Receiver::serve_write(negotiate({}, {}, Direction::write, std::nullopt), sink_, config_, t0);
      EXPECT_EQ(drain(r), std::vector<std::string>{ack(0)});
      return r;
    }
    auto r = Receiver::client_read(Rrq{"f", Mode::octet, {}}, sink_, config_, t0);
    EXPECT_EQ(drain(r).size(), 1U);  // the RRQ
    return r;
  }
  Duration dally() const { return config_.dally.value_or(give_up_time(config_)); }

  TransferConfig config_;
  MemorySink sink_;
};

// The final ACK goes out, the outcome is completed at once, and the machine stays for the dally: a repeated
// final DATA (the sender lost the ACK) gets the ACK again, written once, and starts the dally anew; at the
// end of the dally it is finished and sends nothing more.
TEST_P(Dally, TheFinalAckIsSentAgainForARepeatedFinalDataThenItFinishes) {
  auto r = receiver();
  // What the receiver sends in answer to `datagram` arriving at `at`.
  const auto answer = [&r](const std::string& datagram, TimePoint at) {
    feed(r, datagram, at);
    return drain(r);
  };
  using Sent = std::vector<std::string>;
  const std::string first = data(1, std::string(512, 'a'));
  const std::string last = data(2, "end");
  EXPECT_EQ(answer(first, t0 + 10ms), Sent{ack(1)});
  EXPECT_EQ(answer(last, t0 + 20ms), Sent{ack(2)});
  EXPECT_TRUE(r.outcome().completed() && r.is_dallying() && !r.is_finished());
  EXPECT_EQ(r.next_deadline(), t0 + 20ms + dally());

  const TimePoint repeated = t0 + 20ms + dally() - 1ms;
  r.on_timeout(repeated);  // early: nothing
  EXPECT_EQ(drain(r), Sent{});
  EXPECT_TRUE(r.is_dallying());
  EXPECT_EQ(answer(last, repeated), Sent{ack(2)});  // the sender did not get the final ACK
  EXPECT_EQ(r.next_deadline(), repeated + dally());
  EXPECT_EQ(answer(first, repeated + 1ms), Sent{});  // an older block: nothing to answer any more
  EXPECT_EQ(test::text_of(sink_.bytes()), std::string(512, 'a') + "end");

  r.on_timeout(repeated + dally());
  EXPECT_EQ(drain(r), Sent{});  // the end of the dally sends nothing
  EXPECT_TRUE(r.outcome().completed() && r.is_finished() && !r.is_dallying());
  EXPECT_EQ(r.next_deadline(), std::nullopt);
  EXPECT_EQ(answer(last, repeated + dally() + 1ms), Sent{});  // too late: a finished machine stays silent
  // ACK 1, ACK 2 and ACK 2 again; the server side also sent ACK 0 to the WRQ.
  EXPECT_EQ(r.counters().acks_sent, std::get<0>(GetParam()) == Role::server_of_a_wrq ? 4U : 3U);
}

INSTANTIATE_TEST_SUITE_P(Receivers, Dally,
                         ::testing::Combine(::testing::Values(Role::server_of_a_wrq, Role::client_of_an_rrq),
                                            ::testing::Bool()),
                         role_name);

}  // namespace
}  // namespace tftp
