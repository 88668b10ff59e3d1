// The four programs as a user runs them: child processes on 127.0.0.1 port 0, typing on stdin, reading
// stdout, checking exit statuses. The programs print "listening on ADDR:PORT" first, which is how the
// tests learn the port the kernel chose.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>

#include "loopback.hpp"
#include "support/child_process.hpp"
#include "tftp/asio/endpoint.hpp"

namespace demos::test {
namespace {

using asio::ip::udp;
using tftp::test::ChildProcess;
using tftp::test::Spawn;
using tftp::test::Stdio;

std::string program(const std::string& name) { return std::string(DEMO_BIN_DIR) + "/" + name; }

// A demo program whose stdin and stdout are pipes to the test; it runs once constructed (else it throws).
class Child : public ChildProcess {
 public:
  explicit Child(std::vector<std::string> argv)
      : ChildProcess(Spawn{.argv = std::move(argv), .in = Stdio::pipe, .out = Stdio::pipe}) {}
};

// The ADDR:PORT of a program's "listening on ADDR:PORT" line.
std::string listening_address(Child& child) {
  const auto line = child.line();
  const std::string prefix = "listening on ";
  if (!line || !line->starts_with(prefix)) {
    ADD_FAILURE() << "no listening line, got: " << line.value_or("<nothing>");
    return "127.0.0.1:9";
  }
  return line->substr(prefix.size(), line->find(' ', prefix.size()) - prefix.size());
}

std::string port_of(const std::string& address) { return address.substr(address.rfind(':') + 1); }

TEST(Programs, UdpEchoSendPrintsEachReplyAndExitsZero) {
  Child server({program("udp-echo"), "serve", "127.0.0.1:0"});
  const auto address = listening_address(server);
  Child client({program("udp-echo"), "send", address});
  client.write("one\ntwo words\n");
  client.close_stdin();
  EXPECT_EQ(client.line(), "one");
  EXPECT_EQ(client.line(), "two words");
  EXPECT_EQ(client.wait(), 0);
  EXPECT_EQ(server.stop(), 0);
}

TEST(Programs, UdpChatReceivesWhileItsStdinIsOpenAndIdle) {
  asio::io_context io;
  udp::socket peer(io, {asio::ip::make_address("127.0.0.1"), 0});
  Child chat({program("udp-chat"), "--bind", "127.0.0.1:0", "--peer", tftp::net::to_string(peer.local_endpoint())});
  const auto address = listening_address(chat);
  std::error_code ec;
  const auto chat_endpoint = tftp::net::resolve_udp(tftp::net::parse_endpoint(address).value(),
                                                    tftp::net::Use::connect, ec);
  ASSERT_FALSE(ec);

  // Nothing typed yet: the stdin reader is blocked, and the datagram must still be shown.
  peer.send_to(asio::buffer(std::string("ping")), chat_endpoint);
  EXPECT_EQ(chat.line(), "[" + tftp::net::to_string(peer.local_endpoint()) + "] ping");

  chat.write("pong\n");
  std::string received(64, '\0');
  udp::endpoint from;
  std::optional<std::size_t> size;
  peer.async_receive_from(asio::buffer(received), from, [&](std::error_code, std::size_t n) { size = n; });
  ASSERT_TRUE(run_until(io, [&] { return size.has_value(); }));
  EXPECT_EQ(received.substr(0, *size), "pong");
  EXPECT_EQ(from, chat_endpoint);
  chat.close_stdin();
  EXPECT_EQ(chat.wait(), 0);
}

TEST(Programs, UdpChatBroadcastReachesAListenerOnTheBroadcastAddress) {
  Child listener({program("udp-chat"), "--bind", "127.255.255.255:0"});
  const auto port = port_of(listening_address(listener));
  Child sender({program("udp-chat"), "--bind", "127.0.0.1:0", "--broadcast", "127.255.255.255:" + port});
  const auto sender_address = listening_address(sender);
  sender.write("hello, all\n");
  sender.close_stdin();
  EXPECT_EQ(sender.wait(), 0);
  EXPECT_EQ(listener.line(), "[" + sender_address + "] hello, all");
  EXPECT_EQ(listener.stop(), 0);
}

TEST(Programs, TcpChatTwoClientsTalkAndLeave) {
  Child server({program("tcp-chat-server"), "--listen", "127.0.0.1:0"});
  const auto address = listening_address(server);
  Child bob({program("tcp-chat-client"), "--nick", "bob", address});
  EXPECT_EQ(bob.line(), "Welcome, bob. Online: bob. Commands: /who /quit /send PATH");
  Child alice({program("tcp-chat-client"), "--nick", "alice", address});
  EXPECT_EQ(alice.line(), "Welcome, alice. Online: alice, bob. Commands: /who /quit /send PATH");
  EXPECT_EQ(bob.line(), "* alice joined");
  alice.write("hi bob\n");
  EXPECT_EQ(bob.line(), "alice: hi bob");
  alice.close_stdin();  // end of input is /quit
  EXPECT_EQ(alice.line(), "Goodbye, alice.");
  EXPECT_EQ(alice.line(), "* connection closed");
  EXPECT_EQ(alice.wait(), 0);
  EXPECT_EQ(bob.line(), "* alice left");
  bob.write("/quit\n");
  EXPECT_EQ(bob.line(), "Goodbye, bob.");
  EXPECT_EQ(bob.wait(), 0);
  EXPECT_EQ(server.stop(), 0);
}

TEST(Programs, TcpChatClientWithATakenNicknameExitsOne) {
  Child server({program("tcp-chat-server"), "--listen", "127.0.0.1:0"});
  const auto address = listening_address(server);
  Child first({program("tcp-chat-client"), "--nick", "sam", address});
  EXPECT_TRUE(first.line().has_value());
  Child second({program("tcp-chat-client"), "--nick", "sam", address});
  EXPECT_EQ(second.line(), "! nickname sam is taken");
  EXPECT_EQ(second.wait(), 1);
  EXPECT_EQ(server.stop(), 0);
}

}  // namespace
}  // namespace demos::test
