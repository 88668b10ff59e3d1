#include "tftp/asio/endpoint.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/address.hpp>

namespace tftp::net {
namespace {

bool looks_like_ipv4(std::string_view host) noexcept {
  if (host.empty()) return false;
  for (const char c : host) {
    if ((c < '0' || c > '9') && c != '.') return false;
  }
  return true;
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

Result<EndpointSpec, EndpointError> parse_endpoint(std::string_view text) {
  auto parsed = parse_host_port(text, address_form);
  if (!parsed) return parsed.error();
  // Only an IPv6 address has a colon in its host (brackets are required for it here).
  const auto family = parsed->host.find(':') != std::string::npos ? Family::v6
                      : looks_like_ipv4(parsed->host)             ? Family::v4
                                                                  : Family::any;
  return EndpointSpec{std::move(parsed->host), parsed->port, family};
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
