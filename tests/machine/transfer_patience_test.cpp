// Patience (TransferConfig): a transfer waits the give-up time for a silent peer whatever the measured
// round trip, which only decides how often it retransmits meanwhile. Each machine in each role against a
// peer the test plays on a virtual clock: the peer answers every packet 1 ms later, except that at one
// point it goes silent for a while (a slow SD-card write, a busy boot ROM, a spun-down disk) and then
// sends the answer it owed.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sim_link.hpp"
#include "tftp/options.hpp"
#include "wire.hpp"

namespace tftp {
namespace {

using namespace std::chrono_literals;

const TimePoint t0{};
constexpr std::size_t file_size = 10 * 512 + 100;  // 11 blocks
constexpr std::uint16_t silent_at = 5;             // the peer goes silent on this block

using sim::ack;
using sim::block;
using sim::opcode;
using test::bytes_of;
using test::text_of;

// DATA n of the file (512-byte blocks).
std::string data(std::uint16_t n, const std::vector<std::byte>& file) {
  const std::size_t offset = (n - 1U) * std::size_t{512};
  const std::size_t size = std::min<std::size_t>(512, file.size() - std::min(offset, file.size()));
  return sim::data(n, text_of(std::span(file).subspan(offset, size)));
}

// One machine against a peer played by `answer`: it sees each datagram the machine sent, with the time, and
// returns what the peer sends back, each with its arrival time. Events run in time order until the machine
// is finished or nothing is left to happen.
template <class Machine>
class Conversation {
 public:
  using Answer = std::function<std::vector<std::pair<TimePoint, std::string>>(const std::string&, TimePoint)>;

  Conversation(Machine& machine, Answer answer) : machine_(machine), answer_(std::move(answer)) {}

  void run() {
    drain();
    while (!machine_.is_finished()) {
      std::optional<TimePoint> next = machine_.next_deadline();
      const bool arrival = !pending_.empty() && (!next || pending_.begin()->first <= *next);
      if (arrival) next = pending_.begin()->first;
      if (!next) return;
      now_ = *next;
      if (arrival) {
        const auto datagram = bytes_of(pending_.begin()->second);
        pending_.erase(pending_.begin());
        machine_.on_datagram(datagram, now_);
      } else {
        machine_.on_timeout(now_);
      }
      if (!ended_ && !machine_.outcome().running()) ended_ = now_;
      drain();
    }
  }

  // When the outcome stopped running (completed or failed).
  std::optional<TimePoint> ended() const { return ended_; }
  // How often the machine sent exactly this datagram.
  std::size_t sent(const std::string& datagram) const {
    return static_cast<std::size_t>(std::count(log_.begin(), log_.end(), datagram));
  }

 private:
  void drain() {
    std::vector<std::byte> buffer(transmit_buffer_size);
    while (const auto size = machine_.poll_transmit(buffer)) {
      const std::string datagram = text_of(std::span(buffer).first(*size));
      log_.push_back(datagram);
      for (auto& reply : answer_(datagram, now_)) pending_.emplace(reply.first, std::move(reply.second));
    }
  }

  Machine& machine_;
  Answer answer_;
  TimePoint now_ = t0;
  std::multimap<TimePoint, std::string> pending_;
  std::vector<std::string> log_;
  std::optional<TimePoint> ended_;
};

enum class Role { serve_read, client_read, serve_write, client_write };

std::string role_name(const ::testing::TestParamInfo<Role>& info) {
  switch (info.param) {
    case Role::serve_read: return "ServerSending";
    case Role::client_read: return "ClientReceiving";
    case Role::serve_write: return "ServerReceiving";
    case Role::client_write: return "ClientSending";
  }
  return "?";
}

struct Outcomes {
  Outcome outcome;
  std::optional<TimePoint> ended;
  std::optional<TimePoint> silence_began;  // the last progress before the silence
  std::size_t owed_sent = 0;               // how often the packet the peer did not answer went out
};

// Lock-step, no options, adaptive timeout (the defaults): the peer answers in 1 ms, so the measured
// timeout falls to min_timeout. At block `silent_at` it stays silent for `silence`, then answers.
Outcomes converse(Role role, Duration silence, const TransferConfig& config) {
  const auto file = sim::pattern(file_size);
  MemorySource source(file);
  MemorySink sink;
  Outcomes result;
  // A sender waits for ACK silent_at (the peer got DATA silent_at but is busy); a receiver waits for
  // DATA silent_at + 1... so the packet owed is the one whose answer is delayed.
  std::string owed;
  const auto answer_sender = [&](const std::string& sent, TimePoint now) -> std::vector<std::pair<TimePoint, std::string>> {
    if (opcode(sent) == 2) return {{now + 1ms, ack(0)}};  // WRQ
    if (opcode(sent) != 3) return {};
    const auto n = block(sent);
    if (n != silent_at) return {{now + 1ms, ack(n)}};
    if (result.silence_began) return {};  // a retransmission during the silence: not answered
    result.silence_began = now;
    owed = sent;
    return {{now + silence, ack(n)}};
  };
  const auto answer_receiver = [&](const std::string& sent, TimePoint now) -> std::vector<std::pair<TimePoint, std::string>> {
    if (opcode(sent) == 1) return {{now + 1ms, data(1, file)}};  // RRQ
    if (opcode(sent) != 4) return {};
    const auto n = block(sent);
    if (n * 512U > file.size()) return {};  // the final ACK
    const auto next = static_cast<std::uint16_t>(n + 1);
    if (n != silent_at) return {{now + 1ms, data(next, file)}};
    if (result.silence_began) return {};
    result.silence_began = now;
    owed = sent;
    return {{now + silence, data(next, file)}};
  };
  const auto finish = [&](auto& machine, auto& conversation) {
    conversation.run();
    result.outcome = machine.outcome();
    result.ended = conversation.ended();
    result.owed_sent = conversation.sent(owed);
    if (role == Role::client_read || role == Role::serve_write) {
      EXPECT_EQ(sink.bytes().size(), machine.outcome().completed() ? file.size() : silent_at * std::size_t{512});
    }
  };
  switch (role) {
    case Role::serve_read: {
      auto machine = Sender::serve_read(negotiate({}, {}, Direction::read, file.size()), source, config, t0);
      Conversation<Sender> conversation(machine, answer_sender);
      finish(machine, conversation);
      break;
    }
    case Role::client_write: {
      auto machine = Sender::client_write(Wrq{"f", Mode::octet, {}}, source, config, t0);
      Conversation<Sender> conversation(machine, answer_sender);
      finish(machine, conversation);
      break;
    }
    case Role::serve_write: {
      auto machine = Receiver::serve_write(negotiate({}, {}, Direction::write, std::nullopt), sink, config, t0);
      // The client sends DATA 1 in answer to ACK 0 (answer_receiver treats ACK n as "send n + 1").
      Conversation<Receiver> conversation(machine, answer_receiver);
      finish(machine, conversation);
      break;
    }
    case Role::client_read: {
      auto machine = Receiver::client_read(Rrq{"f", Mode::octet, {}}, sink, config, t0);
      Conversation<Receiver> conversation(machine, answer_receiver);
      finish(machine, conversation);
      break;
    }
  }
  return result;
}

class Patience : public ::testing::TestWithParam<Role> {};

TEST_P(Patience, APeerSilentFor30SecondsThenResumingCompletes) {
  const auto result = converse(GetParam(), 30s, TransferConfig{});
  ASSERT_TRUE(result.silence_began);
  EXPECT_TRUE(result.outcome.completed()) << make_error_code(result.outcome.error).message();
  // Retransmitted meanwhile, often at first (the measured timeout is min_timeout), but a bounded number of
  // times: 1 + 10 at most with the defaults (50 ms doubling to 8 s inside 31 s).
  EXPECT_GT(result.owed_sent, 1U + TransferConfig{}.max_retries);
  EXPECT_LE(result.owed_sent, max_timeouts_per_silence(TransferConfig{}));
}

TEST_P(Patience, APeerSilentFor32SecondsTimesOutAfterTheGiveUpTime) {
  const auto result = converse(GetParam(), 32s, TransferConfig{});
  ASSERT_TRUE(result.silence_began);
  EXPECT_EQ(result.outcome.error, errc::timed_out);
  ASSERT_TRUE(result.ended);
  EXPECT_EQ(*result.ended - *result.silence_began, 31s);  // 1 + 2 + 4 + 8 + 8 + 8, as --help says
  EXPECT_LE(result.owed_sent, max_timeouts_per_silence(TransferConfig{}));
}

TEST_P(Patience, WithoutMeasurementTheScheduleIsTheGiveUpScheduleItself) {
  const TransferConfig config{.adaptive = false};
  const auto result = converse(GetParam(), 32s, config);
  EXPECT_EQ(result.outcome.error, errc::timed_out);
  EXPECT_EQ(*result.ended - *result.silence_began, 31s);
  EXPECT_EQ(result.owed_sent, 1U + config.max_retries);  // at 0, 1, 3, 7, 15 and 23 s
}

INSTANTIATE_TEST_SUITE_P(Roles, Patience,
                         ::testing::Values(Role::serve_read, Role::client_read, Role::serve_write, Role::client_write),
                         role_name);

TEST(PatienceRule, GiveUpTimeAndTheBoundOnTimeouts) {
  EXPECT_EQ(give_up_time(TransferConfig{}), 31s);
  EXPECT_EQ(give_up_time(TransferConfig{}, 3s), 18s);  // a negotiated timeout: (5 + 1) x 3 s
  EXPECT_EQ(give_up_time(TransferConfig{.initial_timeout = 2s, .max_retries = 3}), 2s + 4s + 8s + 8s);
  EXPECT_EQ(give_up_time(TransferConfig{.max_retries = 0}), 1s);
  // 50 ms, 100 ms, ... 6.4 s, then 8 s: 10 retransmissions and the timeout that gives up.
  EXPECT_EQ(max_timeouts_per_silence(TransferConfig{}), 11U);
  EXPECT_EQ(max_timeouts_per_silence(TransferConfig{.min_timeout = 1s, .adaptive = false}), 6U);
}

// RFC 2349: the timeout the client asked for is used as is; give up after (retries + 1) x timeout.
TEST(PatienceRule, NegotiatedTimeoutGivesUpAfterRetriesPlusOneTimesIt) {
  const auto file = sim::pattern(file_size);
  MemorySource source(file);
  const auto answer = negotiate({}, make_request_options({.timeout_s = 3}), Direction::read, file.size());
  auto sender = Sender::serve_read(answer, source, TransferConfig{}, t0);
  std::vector<TimePoint> data_sent;
  Conversation<Sender> conversation(sender, [&](const std::string& sent, TimePoint now)
                                                -> std::vector<std::pair<TimePoint, std::string>> {
    if (opcode(sent) == 6) return {{now + 1ms, ack(0)}};  // accepts the OACK, then is never heard again
    data_sent.push_back(now);
    return {};
  });
  conversation.run();
  EXPECT_EQ(sender.outcome().error, errc::timed_out);
  const TimePoint accepted = t0 + 1ms;
  EXPECT_EQ(*conversation.ended() - accepted, 18s);
  ASSERT_EQ(data_sent.size(), 6U);
  for (std::size_t i = 0; i < data_sent.size(); ++i) EXPECT_EQ(data_sent[i] - accepted, 3s * static_cast<int>(i));
}

// After its final ACK a receiver stays for the give-up time, so a sender as patient as it is, whose every
// final ACK was lost, is still answered; each repeated final DATA starts the wait again.
TEST(PatienceRule, TheReceiverDalliesForTheGiveUpTime) {
  MemorySink sink;
  auto receiver = Receiver::serve_write(negotiate({}, {}, Direction::write, std::nullopt), sink, TransferConfig{}, t0);
  std::vector<std::byte> buffer(transmit_buffer_size);
  while (receiver.poll_transmit(buffer)) {
  }
  const std::string last{'\0', '\3', '\0', '\1', 'x'};
  receiver.on_datagram(bytes_of(last), t0 + 1s);
  while (receiver.poll_transmit(buffer)) {
  }
  ASSERT_TRUE(receiver.is_dallying());
  EXPECT_EQ(receiver.next_deadline(), t0 + 1s + 31s);
  receiver.on_datagram(bytes_of(last), t0 + 21s);  // the sender did not get the final ACK
  const auto reack = receiver.poll_transmit(buffer);
  ASSERT_TRUE(reack);
  EXPECT_EQ(text_of(std::span(buffer).first(*reack)), ack(1));
  EXPECT_EQ(receiver.next_deadline(), t0 + 21s + 31s);
  receiver.on_timeout(t0 + 52s);
  EXPECT_TRUE(receiver.is_finished());
  EXPECT_TRUE(receiver.outcome().completed());
}

}  // namespace
}  // namespace tftp
