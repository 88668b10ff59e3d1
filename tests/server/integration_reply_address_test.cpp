// Reply from the address asked (issue 17): on a wildcard listener every datagram that answers a request
// (OACK, DATA, ACK, ERROR from the listener, ERROR 5 to a stranger) leaves from the local address the request
// was sent to, in both port modes. On loopback with 127.0.0.2 and 127.0.0.3 (every 127/8 address is local),
// and between two network namespaces over a veth pair whose server end has two IPv4 and two IPv6
// addresses, where routing alone would answer from the first of each.
#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "netns.hpp"
#include "server_harness.hpp"

namespace tftp::test {
namespace {

using namespace std::chrono_literals;

using Modes = std::tuple<std::string, bool>;  // listen host ("0.0.0.0", or "" for the dual-stack default), single-port

std::string mode_name(const ::testing::TestParamInfo<Modes>& info) {
  return std::string(std::get<0>(info.param).empty() ? "DualStack" : "AnyIpv4") +
         (std::get<1>(info.param) ? "SinglePort" : "PortPerSession");
}

server::ServerConfig wildcard_config(const Modes& modes) {
  auto config = test_config();
  config.listen = {server::ListenAddress{std::get<0>(modes), 0}};
  config.single_port = std::get<1>(modes);
  config.allow_create = true;
  config.verbosity = server::Verbosity::normal;
  return config;
}

// The next datagram, with where it came from; a failed expectation when none comes.
Datagram next(const RawPeer& peer) {
  auto datagram = peer.receive();
  if (!datagram) {
    ADD_FAILURE() << "no answer";
    return {};
  }
  return *datagram;
}

// A one-block upload; every answer's address is checked.
void upload_one_block(const RawPeer& peer, std::uint16_t port, const std::string& name, const std::string& asked) {
  peer.send(port, Wrq{name, Mode::octet, {}});
  const auto ack0 = next(peer);
  EXPECT_EQ(ack0.address, asked);
  EXPECT_EQ(ack0.bytes, encoded(Ack{0}));
  peer.send(ack0.port, Data{1, bytes_of("short")});
  const auto ack1 = next(peer);
  EXPECT_EQ(ack1.address, asked);
  EXPECT_EQ(ack1.port, ack0.port);
  EXPECT_EQ(ack1.bytes, encoded(Ack{1}));
}

class ReplyAddress : public ::testing::TestWithParam<Modes> {};

TEST_P(ReplyAddress, EveryAnswerLeavesFromTheLoopbackAddressAsked) {
  ServerHarness server(wildcard_config(GetParam()));
  const auto content = pattern(3000, 21);
  write_file(server.root() / "f", content);
  server.start();
  for (const std::string asked : {"127.0.0.2", "127.0.0.3"}) {
    SCOPED_TRACE(asked);
    RawPeer peer(RawPeer::Route{"127.0.0.1", asked});
    const auto got = download(peer, server.port(), "f", {{"blksize", "1024"}});  // OACK, DATA
    EXPECT_EQ(got.failure, "");
    EXPECT_EQ(got.bytes, content);
    EXPECT_EQ(got.addresses, std::set<std::string>{asked});
    // A refusal comes from the listening port, from the address asked.
    peer.send(server.port(), Rrq{"missing", Mode::octet, {}});
    const auto refusal = next(peer);
    EXPECT_EQ(refusal.address, asked);
    EXPECT_EQ(refusal.port, server.port());
    EXPECT_EQ(refusal.bytes, encoded(Error{ErrorCode::file_not_found, "file not found"}));
    upload_one_block(peer, server.port(), "up-" + asked, asked);
  }
}

TEST_P(ReplyAddress, AStrangerGetsError5FromTheAddressItWroteTo) {
  ServerHarness server(wildcard_config(GetParam()));
  write_file(server.root() / "f", pattern(2000, 22));
  server.start();
  RawPeer client(RawPeer::Route{"127.0.0.1", "127.0.0.2"});
  RawPeer stranger(RawPeer::Route{"127.0.0.1", "127.0.0.2"});
  client.send(server.port(), Rrq{"f", Mode::octet, {}});
  const auto data1 = next(client);
  EXPECT_EQ(data1.address, "127.0.0.2");
  stranger.send(data1.port, Ack{1});
  const auto refused = next(stranger);
  EXPECT_EQ(refused.address, "127.0.0.2");
  EXPECT_EQ(refused.port, data1.port);
  EXPECT_EQ(refused.bytes, encoded(Error{ErrorCode::unknown_transfer_id, "Unknown transfer ID"}));
  client.send(data1.port, Error{ErrorCode::not_defined, "done"});
}

INSTANTIATE_TEST_SUITE_P(Modes, ReplyAddress,
                         ::testing::Combine(::testing::Values(std::string("0.0.0.0"), std::string()),
                                            ::testing::Bool()),
                         mode_name);

// ---- Two namespaces over a veth pair ----------------------------------------------------------------

// The server's end has 10.254.7.1 and .2 and fd00:7::1 and ::2 on one interface with MTU 1400; the
// client's end has 10.254.7.9 and fd00:7::9. Routing alone answers the client from .1 / ::1 whatever it
// asked.
class VethPair {
 public:
  VethPair() : server_("rs"), client_("rc") {
    const auto pid = std::to_string(::getpid());
    server_link_ = "trs" + pid;
    client_link_ = "trc" + pid;
    if (!server_.created() || !client_.created()) return;
    ready_ = std::system(("ip link add " + server_link_ + " netns " + server_.name() + " type veth peer name " +
                          client_link_ + " netns " + client_.name())
                             .c_str()) == 0 &&
             server_.run("ip link set " + server_link_ + " mtu 1400 up && ip addr add 10.254.7.1/24 dev " +
                         server_link_ + " && ip addr add 10.254.7.2/24 dev " + server_link_ +
                         " && ip -6 addr add fd00:7::1/64 dev " + server_link_ + " nodad && ip -6 addr add fd00:7::2/64 dev " +
                         server_link_ + " nodad") &&
             client_.run("ip link set " + client_link_ + " mtu 1400 up && ip addr add 10.254.7.9/24 dev " +
                         client_link_ + " && ip -6 addr add fd00:7::9/64 dev " + client_link_ + " nodad");
  }
  bool ready() const noexcept { return ready_; }
  const TestNamespace& server() const noexcept { return server_; }
  const TestNamespace& client() const noexcept { return client_; }

 private:
  TestNamespace server_;
  TestNamespace client_;
  std::string server_link_;
  std::string client_link_;
  bool ready_ = false;
};

class ReplyAddressAcrossALink : public ::testing::TestWithParam<bool> {};  // single-port

TEST_P(ReplyAddressAcrossALink, EachAddressOfTheInterfaceAnswersForItself) {
  if (const auto why = netns_unavailable(); !why.empty()) TFTP_SKIP_MISSING(why);
  VethPair link;
  ASSERT_TRUE(link.ready()) << "could not set up the veth pair between two namespaces";
  auto config = wildcard_config(Modes{"", GetParam()});  // [::] dual-stack, the default
  config.block_size_from_mtu = true;
  ServerHarness server(config);
  const auto content = pattern(5000, 23);
  write_file(server.root() / "f", content);
  {
    InNamespace inside(link.server().path());
    ASSERT_TRUE(inside.entered());
    server.start();  // its sockets and its thread live in the server's namespace
  }
  struct Case {
    std::string local, asked, blksize;
  };
  // --blksize-max mtu: the interface the request arrived on, MTU 1400 - 32 (IPv6: - 52).
  for (const Case& c : {Case{"10.254.7.9", "10.254.7.2", "1368"}, Case{"10.254.7.9", "10.254.7.1", "1368"},
                        Case{"fd00:7::9", "fd00:7::2", "1348"}, Case{"fd00:7::9", "fd00:7::1", "1348"}}) {
    SCOPED_TRACE(c.asked);
    std::optional<RawPeer> peer;
    {
      InNamespace inside(link.client().path());
      ASSERT_TRUE(inside.entered());
      peer.emplace(RawPeer::Route{c.local, c.asked});
    }
    const auto got = download(*peer, server.port(), "f", {{"blksize", "65464"}});
    EXPECT_EQ(got.failure, "");
    EXPECT_EQ(got.bytes, content);
    EXPECT_EQ(got.addresses, std::set<std::string>{c.asked});
    ASSERT_TRUE(got.oack);
    EXPECT_EQ(got.oack->options, (OptionList{{"blksize", c.blksize}}));
    peer->send(server.port(), Rrq{"missing", Mode::octet, {}});
    const auto refusal = next(*peer);
    EXPECT_EQ(refusal.address, c.asked);
    upload_one_block(*peer, server.port(), "up-" + c.asked, c.asked);
  }
}

std::string port_mode_name(const ::testing::TestParamInfo<bool>& info) {
  return info.param ? "SinglePort" : "PortPerSession";
}

INSTANTIATE_TEST_SUITE_P(PortModes, ReplyAddressAcrossALink, ::testing::Bool(), port_mode_name);

}  // namespace
}  // namespace tftp::test
