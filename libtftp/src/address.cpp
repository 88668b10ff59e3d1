#include "tftp/address.hpp"

#include <cstddef>

namespace tftp {

namespace {

constexpr std::array<std::uint8_t, 12> v4_mapped_prefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool has_v4_mapped_prefix(const IpAddress::V6Bytes& bytes) noexcept {
  for (std::size_t i = 0; i < v4_mapped_prefix.size(); ++i) {
    if (bytes[i] != v4_mapped_prefix[i]) return false;
  }
  return true;
}

void append_dotted(std::string& out, std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  for (const std::uint8_t part : {a, b, c, d}) {
    if (!out.empty() && out.back() != ':') out += '.';
    out += std::to_string(part);
  }
}

void append_hex(std::string& out, unsigned value) {
  constexpr const char* digits = "0123456789abcdef";
  bool started = false;
  for (int shift = 12; shift >= 0; shift -= 4) {
    const unsigned digit = (value >> static_cast<unsigned>(shift)) & 0xfU;
    if (digit != 0 || started || shift == 0) {
      out += digits[digit];
      started = true;
    }
  }
}

// RFC 5952, as inet_ntop writes it: the longest run of two or more zero groups (the first of equal ones)
// becomes "::"; an address whose first 96 bits are ::ffff:0:0 or zero (but not :: or ::1) ends in dotted IPv4.
std::string format_v6(const IpAddress::V6Bytes& bytes) {
  std::array<unsigned, 8> words{};
  for (std::size_t i = 0; i < 8; ++i) words[i] = (unsigned{bytes[2 * i]} << 8U) | bytes[2 * i + 1];
  std::size_t best_base = 8;
  std::size_t best_length = 0;
  for (std::size_t i = 0; i < 8;) {
    if (words[i] != 0) {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < 8 && words[end] == 0) ++end;
    if (end - i > best_length) {
      best_base = i;
      best_length = end - i;
    }
    i = end;
  }
  if (best_length < 2) best_base = 8;
  std::string out;
  for (std::size_t i = 0; i < 8; ++i) {
    if (i == best_base) {
      out += i == 0 ? "::" : ":";
      i += best_length - 1;
      continue;
    }
    if (i == 6 && best_base == 0 && (best_length == 6 || (best_length == 5 && words[5] == 0xffff))) {
      append_dotted(out, bytes[12], bytes[13], bytes[14], bytes[15]);
      break;
    }
    append_hex(out, words[i]);
    if (i < 7) out += ':';
  }
  return out;
}

std::optional<unsigned> parse_decimal_part(std::string_view text) noexcept {
  if (text.empty() || text.size() > 3 || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  unsigned value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 255) return std::nullopt;
  return value;
}

std::optional<IpAddress::V4Bytes> parse_v4(std::string_view text) noexcept {
  IpAddress::V4Bytes bytes{};
  for (std::size_t part = 0; part < 4; ++part) {
    const auto dot = text.find('.');
    if ((dot == std::string_view::npos) != (part == 3)) return std::nullopt;
    const auto value = parse_decimal_part(text.substr(0, dot));
    if (!value) return std::nullopt;
    bytes[part] = static_cast<std::uint8_t>(*value);
    text = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
  }
  return bytes;
}

std::optional<unsigned> parse_hex_group(std::string_view text) noexcept {
  if (text.empty() || text.size() > 4) return std::nullopt;
  unsigned value = 0;
  for (const char c : text) {
    unsigned digit = 0;
    if (c >= '0' && c <= '9') {
      digit = static_cast<unsigned>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<unsigned>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      digit = static_cast<unsigned>(c - 'A' + 10);
    } else {
      return std::nullopt;
    }
    value = value * 16 + digit;
  }
  return value;
}

// The groups of one side of "::" (or of a whole address without it), a dotted IPv4 tail counting as two.
bool parse_groups(std::string_view text, bool tail_may_be_v4, std::array<unsigned, 8>& groups, std::size_t& count) {
  count = 0;
  if (text.empty()) return true;
  for (;;) {
    const auto colon = text.find(':');
    const auto group = text.substr(0, colon);
    if (colon == std::string_view::npos && tail_may_be_v4 && group.find('.') != std::string_view::npos) {
      const auto v4 = parse_v4(group);
      if (!v4 || count + 2 > 8) return false;
      groups[count++] = (unsigned{(*v4)[0]} << 8U) | (*v4)[1];
      groups[count++] = (unsigned{(*v4)[2]} << 8U) | (*v4)[3];
      return true;
    }
    const auto value = parse_hex_group(group);
    if (!value || count == 8) return false;
    groups[count++] = *value;
    if (colon == std::string_view::npos) return true;
    text = text.substr(colon + 1);
  }
}

std::optional<IpAddress::V6Bytes> parse_v6(std::string_view text) noexcept {
  std::array<unsigned, 8> head{};
  std::array<unsigned, 8> tail{};
  std::size_t head_count = 0;
  std::size_t tail_count = 0;
  const auto gap = text.find("::");
  if (gap == std::string_view::npos) {
    if (!parse_groups(text, true, head, head_count) || head_count != 8) return std::nullopt;
  } else {
    const auto after = text.substr(gap + 2);
    if (after.find("::") != std::string_view::npos) return std::nullopt;
    if (!parse_groups(text.substr(0, gap), false, head, head_count)) return std::nullopt;
    if (!parse_groups(after, true, tail, tail_count)) return std::nullopt;
    if (head_count + tail_count > 7) return std::nullopt;
  }
  IpAddress::V6Bytes bytes{};
  const auto put = [&](std::size_t index, unsigned value) {
    bytes[2 * index] = static_cast<std::uint8_t>(value >> 8U);
    bytes[2 * index + 1] = static_cast<std::uint8_t>(value & 0xffU);
  };
  for (std::size_t i = 0; i < head_count; ++i) put(i, head[i]);
  for (std::size_t i = 0; i < tail_count; ++i) put(8 - tail_count + i, tail[i]);
  return bytes;
}

}  // namespace

IpAddress IpAddress::v4(const V4Bytes& bytes) noexcept {
  IpAddress address;
  for (std::size_t i = 0; i < 4; ++i) address.bytes_[i] = bytes[i];
  return address;
}

IpAddress IpAddress::v4(std::uint32_t host_order) noexcept {
  return v4(V4Bytes{static_cast<std::uint8_t>(host_order >> 24U), static_cast<std::uint8_t>(host_order >> 16U),
                    static_cast<std::uint8_t>(host_order >> 8U), static_cast<std::uint8_t>(host_order)});
}

IpAddress IpAddress::v6(const V6Bytes& bytes, std::uint32_t scope) noexcept {
  IpAddress address;
  address.bytes_ = bytes;
  address.scope_ = scope;
  address.v4_ = false;
  return address;
}

bool IpAddress::is_v4_mapped() const noexcept { return !v4_ && has_v4_mapped_prefix(bytes_); }

IpAddress IpAddress::unmapped() const noexcept {
  if (!is_v4_mapped()) return *this;
  return v4(V4Bytes{bytes_[12], bytes_[13], bytes_[14], bytes_[15]});
}

bool IpAddress::is_loopback() const noexcept {
  const IpAddress plain = unmapped();
  if (plain.v4_) return plain.bytes_[0] == 127;
  for (std::size_t i = 0; i < 15; ++i) {
    if (bytes_[i] != 0) return false;
  }
  return bytes_[15] == 1;
}

bool IpAddress::is_unspecified() const noexcept {
  const std::size_t size = v4_ ? 4 : 16;
  for (std::size_t i = 0; i < size; ++i) {
    if (bytes_[i] != 0) return false;
  }
  return true;
}

std::string IpAddress::to_string() const {
  std::string out;
  if (v4_) {
    append_dotted(out, bytes_[0], bytes_[1], bytes_[2], bytes_[3]);
    return out;
  }
  out = format_v6(bytes_);
  if (scope_ != 0) out += '%' + std::to_string(scope_);
  return out;
}

std::strong_ordering operator<=>(const IpAddress& a, const IpAddress& b) noexcept {
  if (a.v4_ != b.v4_) return a.v4_ ? std::strong_ordering::less : std::strong_ordering::greater;
  if (const auto order = a.bytes_ <=> b.bytes_; order != 0) return order;
  return a.scope_ <=> b.scope_;
}

std::optional<IpAddress> parse_ip_address(std::string_view text) noexcept {
  if (text.find(':') == std::string_view::npos) {
    const auto v4 = parse_v4(text);
    if (!v4) return std::nullopt;
    return IpAddress::v4(*v4);
  }
  const auto v6 = parse_v6(text);
  if (!v6) return std::nullopt;
  return IpAddress::v6(*v6);
}

std::string_view describe(HostPortError error) noexcept {
  switch (error) {
    case HostPortError::empty: return "the address is empty; expected ADDR:PORT";
    case HostPortError::empty_host: return "the host is empty";
    case HostPortError::missing_port: return "the port is missing; expected ADDR:PORT";
    case HostPortError::bad_port: return "the port is not a number from 0 to 65535";
    case HostPortError::bad_ipv6_literal: return "an IPv6 address must look like [ADDR]:PORT";
    case HostPortError::unbracketed_ipv6: return "an IPv6 address needs brackets: [ADDR]:PORT";
  }
  return "bad address";
}

namespace {

Result<std::uint16_t, HostPortError> parse_port(std::string_view digits, const HostPortForm& form) {
  if (digits.empty() && !form.port_required) return default_port;
  if (digits.empty() || digits.size() > 5) return HostPortError::bad_port;
  std::uint32_t value = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return HostPortError::bad_port;
    value = value * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (value < form.min_port || value > 65535) return HostPortError::bad_port;
  return static_cast<std::uint16_t>(value);
}

Result<HostPort, HostPortError> with_port(std::string_view host, std::optional<std::string_view> digits,
                                          const HostPortForm& form) {
  if (host.empty() && form.host_required) return HostPortError::empty_host;
  if (!digits && form.port_required) return HostPortError::missing_port;
  const auto port = parse_port(digits.value_or(std::string_view{}), form);
  if (!port) return port.error();
  return HostPort{std::string(host), *port};
}

Result<HostPort, HostPortError> parse_bracketed(std::string_view text, const HostPortForm& form) {
  const auto close = text.find(']');
  if (close == std::string_view::npos) return HostPortError::bad_ipv6_literal;
  if (close == 1) return form.host_required ? HostPortError::empty_host : HostPortError::bad_ipv6_literal;
  const auto rest = text.substr(close + 1);
  if (!rest.empty() && rest.front() != ':') return HostPortError::bad_ipv6_literal;
  return with_port(text.substr(1, close - 1), rest.empty() ? std::nullopt : std::optional(rest.substr(1)), form);
}

}  // namespace

Result<HostPort, HostPortError> parse_host_port(std::string_view text, const HostPortForm& form) {
  if (text.empty()) return form.host_required ? HostPortError::empty_host : HostPortError::empty;
  if (text.front() == '[') return parse_bracketed(text, form);
  const auto colon = text.find(':');
  if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos) {
    if (!form.bare_ipv6_is_host) return HostPortError::unbracketed_ipv6;
    return with_port(text, std::nullopt, form);
  }
  const auto host = text.substr(0, colon);
  if (host.find_first_of("[]") != std::string_view::npos) return HostPortError::bad_ipv6_literal;
  return with_port(host, colon == std::string_view::npos ? std::nullopt : std::optional(text.substr(colon + 1)), form);
}

std::string SocketAddress::to_string() const {
  if (ip.is_v4()) return ip.to_string() + ':' + std::to_string(port);
  return '[' + ip.to_string() + "]:" + std::to_string(port);
}

}  // namespace tftp
