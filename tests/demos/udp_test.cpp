// udp-echo and udp-chat on 127.0.0.1 with real datagrams: the bytes that come back, who they are shown
// as coming from, and broadcast on the loopback broadcast address.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>

#include "loopback.hpp"
#include "tftp/asio/endpoint.hpp"
#include "udp_chat.hpp"
#include "udp_echo.hpp"

namespace demos::test {
namespace {

using asio::ip::udp;
using namespace std::chrono_literals;

const auto loopback = asio::ip::make_address("127.0.0.1");

std::optional<std::string> round_trip(asio::io_context& io, udp::socket& socket, const udp::endpoint& peer,
                                      std::string payload, std::chrono::milliseconds timeout = 5s) {
  std::optional<std::optional<std::string>> result;
  asio::co_spawn(io, echo_round_trip(socket, peer, std::move(payload), timeout),
                 [&](std::exception_ptr, std::optional<std::string> reply) { result = std::move(reply); });
  EXPECT_TRUE(run_until(io, [&] { return result.has_value(); }));
  return result ? *result : std::nullopt;
}

TEST(UdpEcho, EveryDatagramComesBackUnchanged) {
  asio::io_context io;
  udp::socket server(io, {loopback, 0});
  asio::co_spawn(io, serve_echo(server, {}), asio::detached);
  udp::socket client(io, {loopback, 0});
  std::string binary(256, '\0');
  for (std::size_t i = 0; i < binary.size(); ++i) binary[i] = static_cast<char>(i);
  for (const std::string& payload : {std::string("hello"), std::string(), binary, std::string(65507, 'z')}) {
    EXPECT_EQ(round_trip(io, client, server.local_endpoint(), payload), payload) << payload.size() << " bytes";
  }
}

TEST(UdpEcho, ADatagramFromAStrangerIsNotTakenForTheReply) {
  asio::io_context io;
  udp::socket server(io, {loopback, 0});
  asio::co_spawn(io, serve_echo(server, {}), asio::detached);
  udp::socket client(io, {loopback, 0});
  udp::socket stranger(io, {loopback, 0});
  stranger.send_to(asio::buffer(std::string("spoofed")), client.local_endpoint());  // queued before the reply
  EXPECT_EQ(round_trip(io, client, server.local_endpoint(), "real"), "real");
}

TEST(UdpEcho, NoReplyWithinTheTimeoutIsNullopt) {
  asio::io_context io;
  udp::socket silent(io, {loopback, 0});  // bound, so no ICMP error either: it just never answers
  udp::socket client(io, {loopback, 0});
  EXPECT_EQ(round_trip(io, client, silent.local_endpoint(), "anyone?", 100ms), std::nullopt);
}

struct Shown {
  std::vector<std::string> lines;
  UdpChat::Print print() {
    return [this](std::string_view line) { lines.emplace_back(line); };
  }
};

TEST(UdpChat, BothEndsSendAndReceiveAtTheSameTime) {
  asio::io_context io;
  Shown shown_a;
  Shown shown_b;
  UdpChat a(io.get_executor(), {{loopback, 0}, std::nullopt, false}, shown_a.print());
  UdpChat b(io.get_executor(), {{loopback, 0}, a.local_endpoint(), false}, shown_b.print());
  a.set_peer(b.local_endpoint());
  a.start();
  b.start();
  constexpr int count = 100;
  for (int i = 0; i < count; ++i) {  // interleaved: each end sends while the other's datagrams arrive
    a.send("from a " + std::to_string(i));
    b.send("from b " + std::to_string(i));
  }
  ASSERT_TRUE(run_until(io, [&] { return shown_a.lines.size() >= count && shown_b.lines.size() >= count; }));
  const auto a_name = "[" + tftp::net::to_string(a.local_endpoint()) + "] ";
  const auto b_name = "[" + tftp::net::to_string(b.local_endpoint()) + "] ";
  for (int i = 0; i < count; ++i) {
    const auto index = static_cast<std::size_t>(i);
    EXPECT_EQ(shown_a.lines[index], b_name + "from b " + std::to_string(i));
    EXPECT_EQ(shown_b.lines[index], a_name + "from a " + std::to_string(i));
  }
}

TEST(UdpChat, ControlCharactersAreNotPassedToTheTerminal) {
  asio::io_context io;
  Shown shown;
  UdpChat receiver(io.get_executor(), {{loopback, 0}, std::nullopt, false}, shown.print());
  receiver.start();
  udp::socket sender(io, {loopback, 0});
  sender.send_to(asio::buffer(std::string("\x1b[2Jgotcha\r\x9b" "31m\xc2\x9b")), receiver.local_endpoint());
  ASSERT_TRUE(run_until(io, [&] { return !shown.lines.empty(); }));
  // C1 controls too: 0x9B alone is CSI on an 8-bit terminal, and U+009B is the same in UTF-8.
  EXPECT_EQ(shown.lines[0],
            "[" + tftp::net::to_string(sender.local_endpoint()) + "] \\x1b[2Jgotcha\\x0d\\x9b31m\\xc2\\x9b");
}

TEST(UdpChat, ABroadcastIsReceivedWithTheSendersAddress) {
  asio::io_context io;
  const auto broadcast_address = asio::ip::make_address("127.255.255.255");
  Shown shown;
  // Bound to the broadcast address: it hears broadcasts to its port and nothing sent to 127.0.0.1.
  UdpChat receiver(io.get_executor(), {{broadcast_address, 0}, std::nullopt, false}, shown.print());
  receiver.start();
  const udp::endpoint target(broadcast_address, receiver.local_endpoint().port());
  Shown sender_shown;
  UdpChat sender(io.get_executor(), {{loopback, 0}, target, true}, sender_shown.print());
  sender.send("hello, everyone");
  ASSERT_TRUE(run_until(io, [&] { return !shown.lines.empty(); }));
  EXPECT_EQ(shown.lines[0], "[" + tftp::net::to_string(sender.local_endpoint()) + "] hello, everyone");
  EXPECT_TRUE(sender_shown.lines.empty());
}

TEST(UdpChat, WithoutSoBroadcastTheKernelRefusesABroadcast) {
  asio::io_context io;
  const udp::endpoint target(asio::ip::make_address("127.255.255.255"), 9);
  Shown shown;
  UdpChat sender(io.get_executor(), {{loopback, 0}, target, false}, shown.print());
  sender.send("hello?");
  ASSERT_TRUE(run_until(io, [&] { return !shown.lines.empty(); }));
  EXPECT_EQ(shown.lines[0], "! cannot send: " + std::make_error_code(std::errc::permission_denied).message());
}

}  // namespace
}  // namespace demos::test
