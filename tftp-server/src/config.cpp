#include "tftp/server/config.hpp"

#include <limits>

#include "tftp/codec.hpp"

namespace tftp::server {

namespace {

std::optional<std::uint16_t> parse_port(std::string_view text, std::uint16_t min) {
  if (text.size() > 5) return std::nullopt;
  const auto value = parse_decimal(text);
  if (!value || *value > 65535 || *value < min) return std::nullopt;
  return static_cast<std::uint16_t>(*value);
}

bool equals_ignoring_case(std::string_view a, std::string_view b) { return option_name_equals(a, b); }

}  // namespace

std::optional<ListenAddress> parse_listen_address(std::string_view text) {
  auto parsed = parse_host_port(text, address_form);
  if (!parsed) return std::nullopt;
  return std::move(*parsed);
}

std::optional<PortRange> parse_port_range(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const auto low = parse_port(text.substr(0, colon), 1);
  const auto high = parse_port(text.substr(colon + 1), 1);
  if (!low || !high || *low > *high) return std::nullopt;
  return PortRange{*low, *high};
}

std::optional<unsigned> parse_umask(std::string_view text) {
  if (text.empty() || text.size() > 4) return std::nullopt;
  unsigned value = 0;
  for (const char c : text) {
    if (c < '0' || c > '7') return std::nullopt;
    value = value * 8 + static_cast<unsigned>(c - '0');
  }
  if (value > 0777) return std::nullopt;
  return value;
}

std::optional<BlockSizeMax> parse_block_size_max(std::string_view text) {
  if (equals_ignoring_case(text, "mtu")) return BlockSizeMax{true, tftp::max_block_size};
  if (text.size() > 5) return std::nullopt;
  const auto value = parse_decimal(text);
  if (!value || *value < tftp::min_block_size || *value > tftp::max_block_size) return std::nullopt;
  return BlockSizeMax{false, static_cast<std::uint16_t>(*value)};
}

std::optional<UniqueRoot> parse_unique_root(std::string_view text) {
  if (equals_ignoring_case(text, "ip")) return UniqueRoot::ip;
  if (equals_ignoring_case(text, "ip-strict")) return UniqueRoot::ip_strict;
  return std::nullopt;
}

}  // namespace tftp::server
