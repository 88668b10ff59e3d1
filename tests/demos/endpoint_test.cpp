// ADDR:PORT arguments: the parsing rules without sockets, and resolving literals (no DNS).
#include <gtest/gtest.h>

#include <variant>

#include "tftp/asio/endpoint.hpp"

namespace tftp::net {
namespace {

EndpointSpec ok(std::string_view text) {
  auto result = parse_endpoint(text);
  if (!result) {
    ADD_FAILURE() << "refused " << text << ": " << describe(result.error());
    return {};
  }
  return *result;
}

std::optional<EndpointError> refusal(std::string_view text) {
  auto result = parse_endpoint(text);
  if (!result) return result.error();
  return std::nullopt;
}

TEST(Endpoint, ParsesTheFourForms) {
  EXPECT_EQ(ok("127.0.0.1:6969"), (EndpointSpec{"127.0.0.1", 6969, Family::v4}));
  EXPECT_EQ(ok("[::1]:69"), (EndpointSpec{"::1", 69, Family::v6}));
  EXPECT_EQ(ok("[fe80::1%lo]:69"), (EndpointSpec{"fe80::1%lo", 69, Family::v6}));
  EXPECT_EQ(ok(":0"), (EndpointSpec{"", 0, Family::any}));
  EXPECT_EQ(ok("localhost:65535"), (EndpointSpec{"localhost", 65535, Family::any}));
}

TEST(Endpoint, RefusesBadPortsAndAmbiguousAddresses) {
  EXPECT_EQ(refusal(""), EndpointError::empty);
  EXPECT_EQ(refusal("127.0.0.1"), EndpointError::missing_port);
  EXPECT_EQ(refusal("[::1]"), EndpointError::missing_port);
  EXPECT_EQ(refusal("host:"), EndpointError::bad_port);
  EXPECT_EQ(refusal("host:65536"), EndpointError::bad_port);
  EXPECT_EQ(refusal("host:+1"), EndpointError::bad_port);
  EXPECT_EQ(refusal("host:-1"), EndpointError::bad_port);
  EXPECT_EQ(refusal("host:123456"), EndpointError::bad_port);
  EXPECT_EQ(refusal("host: 1"), EndpointError::bad_port);
  EXPECT_EQ(refusal("::1:69"), EndpointError::unbracketed_ipv6);
  EXPECT_EQ(refusal("[::1:69"), EndpointError::bad_ipv6_literal);
  EXPECT_EQ(refusal("[]:69"), EndpointError::bad_ipv6_literal);
  EXPECT_EQ(refusal("[::1]x:69"), EndpointError::bad_ipv6_literal);
  EXPECT_EQ(refusal("a]b:69"), EndpointError::bad_ipv6_literal);
  EXPECT_FALSE(describe(EndpointError::bad_port).empty());
}

TEST(Endpoint, ResolvesLiteralsAndTheEmptyHost) {
  std::error_code ec;
  const auto v4 = resolve_udp(ok("127.0.0.1:6969"), Use::connect, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(v4, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 6969));

  const auto v6 = resolve_tcp(ok("[::1]:70"), Use::connect, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(v6, asio::ip::tcp::endpoint(asio::ip::make_address("::1"), 70));

  EXPECT_EQ(resolve_udp(ok(":5"), Use::bind, ec), asio::ip::udp::endpoint(asio::ip::udp::v4(), 5));
  EXPECT_EQ(resolve_tcp(ok(":5"), Use::connect, ec), asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), 5));
}

TEST(Endpoint, ToStringIsReadBackByTheParser) {
  const asio::ip::udp::endpoint v4(asio::ip::make_address("127.0.0.1"), 40000);
  const asio::ip::tcp::endpoint v6(asio::ip::make_address("::1"), 7);
  EXPECT_EQ(to_string(v4), "127.0.0.1:40000");
  EXPECT_EQ(to_string(v6), "[::1]:7");
  std::error_code ec;
  EXPECT_EQ(resolve_udp(ok(to_string(v4)), Use::connect, ec), v4);
  EXPECT_EQ(resolve_tcp(ok(to_string(v6)), Use::connect, ec), v6);
}

}  // namespace
}  // namespace tftp::net
