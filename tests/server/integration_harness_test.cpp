// The test client of server_harness.hpp against a server the test plays: a window resent after a late ACK
// ends a strict download and is acknowledged and counted by a counting one.
#include <gtest/gtest.h>

#include <thread>

#include "server_harness.hpp"

namespace tftp::test {
namespace {

TEST(DownloadHelper, AResentWindowFailsAStrictDownloadAndIsCountedByACountingOne) {
  const auto file = pattern(4 * 512 + 10);
  const auto block = [&](std::uint16_t n) {
    const auto offset = (n - 1U) * 512U;
    return Data{n, std::span(file).subspan(offset, std::min<std::size_t>(512, file.size() - offset))};
  };
  for (const Repeats repeats : {Repeats::strict, Repeats::counted}) {
    SCOPED_TRACE(repeats == Repeats::strict ? "strict" : "counted");
    RawPeer server;
    RawPeer client;
    Download got;
    std::thread reader(
        [&] { got = download(client, server.port(), "f", {{"windowsize", "4"}}, Mode::octet, repeats); });
    std::vector<Packet> acks;  // what the client sent after its RRQ
    if (const auto rrq = server.receive()) {
      server.send_to(Oack{{{"windowsize", "4"}}}, rrq->from);
      if (const auto ack0 = server.receive()) acks.push_back(ack0->packet());
      for (std::uint16_t n = 1; n <= 4; ++n) server.send_to(block(n), rrq->from);
      if (const auto ack4 = server.receive()) acks.push_back(ack4->packet());
      for (std::uint16_t n = 1; n <= 4; ++n) server.send_to(block(n), rrq->from);  // as if ACK 4 came too late
      if (repeats == Repeats::counted) {
        for (int i = 0; i < 4; ++i) {
          if (const auto again = server.receive()) acks.push_back(again->packet());
        }
        server.send_to(block(5), rrq->from);
        if (const auto last = server.receive()) acks.push_back(last->packet());
      }
    }
    reader.join();
    if (repeats == Repeats::strict) {
      EXPECT_EQ(got.failure, "unexpected packet");
      EXPECT_EQ(acks, (std::vector<Packet>{Ack{0}, Ack{4}}));
      EXPECT_EQ(got.duplicates, 0U);
    } else {
      EXPECT_EQ(got.failure, "");
      EXPECT_EQ(got.bytes, file);
      EXPECT_EQ(got.duplicates, 4U);
      EXPECT_EQ(acks, (std::vector<Packet>{Ack{0}, Ack{4}, Ack{4}, Ack{4}, Ack{4}, Ack{4}, Ack{5}}));
    }
  }
}

}  // namespace
}  // namespace tftp::test
