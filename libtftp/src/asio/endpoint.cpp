#include "tftp/asio/endpoint.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/address.hpp>

namespace tftp::net {
namespace {

bool parse_port(std::string_view text, std::uint16_t& port) noexcept {
  if (text.empty() || text.size() > 5) return false;
  std::uint32_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (value > 65535) return false;
  port = static_cast<std::uint16_t>(value);
  return true;
}

bool looks_like_ipv4(std::string_view host) noexcept {
  if (host.empty()) return false;
  for (const char c : host) {
    if ((c < '0' || c > '9') && c != '.') return false;
  }
  return true;
}

std::variant<EndpointSpec, EndpointError> parse_bracketed(std::string_view text) {
  const auto close = text.find(']');
  if (close == std::string_view::npos || close == 1) return EndpointError::bad_ipv6_literal;
  const std::string_view rest = text.substr(close + 1);
  if (rest.empty()) return EndpointError::missing_port;
  if (rest.front() != ':') return EndpointError::bad_ipv6_literal;
  EndpointSpec spec{std::string(text.substr(1, close - 1)), 0, Family::v6};
  if (!parse_port(rest.substr(1), spec.port)) return EndpointError::bad_port;
  return spec;
}

template <class Protocol>
typename Protocol::endpoint resolve(const EndpointSpec& spec, Use use, std::error_code& ec) {
  ec.clear();
  if (spec.host.empty()) {
    // No host: with the v6 hint the IPv6 form, else IPv4, which every machine here has.
    const bool v6 = spec.family == Family::v6;
    if (use == Use::bind) return {v6 ? Protocol::v6() : Protocol::v4(), spec.port};
    return {v6 ? asio::ip::address(asio::ip::address_v6::loopback()) : asio::ip::address(asio::ip::address_v4::loopback()),
            spec.port};
  }
  asio::io_context io;
  typename Protocol::resolver resolver(io);
  auto flags = asio::ip::resolver_base::numeric_service;
  if (use == Use::bind) flags |= asio::ip::resolver_base::passive;
  const auto results = [&] {
    const auto service = std::to_string(spec.port);
    switch (spec.family) {
      case Family::v4: return resolver.resolve(Protocol::v4(), spec.host, service, flags, ec);
      case Family::v6: return resolver.resolve(Protocol::v6(), spec.host, service, flags, ec);
      case Family::any: break;
    }
    return resolver.resolve(spec.host, service, flags, ec);
  }();
  if (ec) return {};
  if (results.empty()) {
    ec = std::make_error_code(std::errc::address_not_available);
    return {};
  }
  return results.begin()->endpoint();
}

template <class Endpoint>
std::string format(const Endpoint& endpoint) {
  const auto address = endpoint.address();
  const auto port = std::to_string(endpoint.port());
  if (address.is_v6()) return "[" + address.to_string() + "]:" + port;
  return address.to_string() + ":" + port;
}

}  // namespace

std::string_view describe(EndpointError error) noexcept {
  switch (error) {
    case EndpointError::empty: return "the address is empty; expected ADDR:PORT";
    case EndpointError::missing_port: return "the port is missing; expected ADDR:PORT";
    case EndpointError::bad_port: return "the port is not a number from 0 to 65535";
    case EndpointError::bad_ipv6_literal: return "an IPv6 address must look like [ADDR]:PORT";
    case EndpointError::unbracketed_ipv6: return "an IPv6 address needs brackets: [ADDR]:PORT";
  }
  return "bad address";
}

std::variant<EndpointSpec, EndpointError> parse_endpoint(std::string_view text) {
  if (text.empty()) return EndpointError::empty;
  if (text.front() == '[') return parse_bracketed(text);
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return EndpointError::missing_port;
  const std::string_view host = text.substr(0, colon);
  if (host.find(':') != std::string_view::npos) return EndpointError::unbracketed_ipv6;
  if (host.find_first_of("[]") != std::string_view::npos) return EndpointError::bad_ipv6_literal;
  EndpointSpec spec{std::string(host), 0, looks_like_ipv4(host) ? Family::v4 : Family::any};
  if (!parse_port(text.substr(colon + 1), spec.port)) return EndpointError::bad_port;
  return spec;
}

asio::ip::udp::endpoint resolve_udp(const EndpointSpec& spec, Use use, std::error_code& ec) {
  return resolve<asio::ip::udp>(spec, use, ec);
}

asio::ip::tcp::endpoint resolve_tcp(const EndpointSpec& spec, Use use, std::error_code& ec) {
  return resolve<asio::ip::tcp>(spec, use, ec);
}

std::string to_string(const asio::ip::udp::endpoint& endpoint) { return format(endpoint); }
std::string to_string(const asio::ip::tcp::endpoint& endpoint) { return format(endpoint); }

}  // namespace tftp::net
