#include "tftp/url.hpp"

#include <algorithm>
#include <cstddef>

#include "tftp/codec.hpp"

namespace tftp {
namespace {

constexpr std::string_view scheme = "tftp://";

std::optional<int> hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return std::nullopt;
}

UrlError url_error(HostPortError error) {
  switch (error) {
    case HostPortError::bad_port: return UrlError::bad_port;
    case HostPortError::bad_ipv6_literal:
    case HostPortError::unbracketed_ipv6: return UrlError::bad_ipv6_literal;
    case HostPortError::empty:
    case HostPortError::empty_host:
    case HostPortError::missing_port: break;
  }
  return UrlError::empty_host;
}

Parsed<Mode> parse_mode_parameter(std::string_view parameter) {
  constexpr std::string_view key = "mode=";
  if (parameter.size() < key.size() || !option_name_equals(parameter.substr(0, key.size()), key)) {
    return UrlError::bad_mode;
  }
  const auto value = parameter.substr(key.size());
  if (option_name_equals(value, "netascii")) return Mode::netascii;
  if (option_name_equals(value, "octet")) return Mode::octet;
  return UrlError::bad_mode;
}

}  // namespace

std::string_view describe(UrlError error) noexcept {
  switch (error) {
    case UrlError::not_tftp_url: return "not a tftp:// URL";
    case UrlError::empty_host: return "the host is empty";
    case UrlError::bad_ipv6_literal: return "an IPv6 address must be written [ADDRESS] or [ADDRESS]:PORT";
    case UrlError::bad_port: return "the port is not a number from 1 to 65535";
    case UrlError::user_info: return "a TFTP URL has no user name (\"user@\")";
    case UrlError::missing_file: return "the URL names no file (tftp://HOST[:PORT]/FILE)";
    case UrlError::bad_escape: return "a \"%\" in the URL is not followed by two hex digits";
    case UrlError::nul_in_file: return "the file name would contain a NUL byte (%00)";
    case UrlError::query_or_fragment: return "\"?\" and \"#\" must be written %3F and %23 in a TFTP URL";
    case UrlError::bad_mode: return "the only URL parameter is ;mode=netascii or ;mode=octet";
  }
  return "bad URL";
}

bool is_tftp_url(std::string_view text) noexcept {
  return text.size() >= scheme.size() && option_name_equals(text.substr(0, scheme.size()), scheme);
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (text.size() - i < 3) return std::nullopt;
    const auto high = hex_value(text[i + 1]);
    const auto low = hex_value(text[i + 2]);
    if (!high || !low) return std::nullopt;
    out.push_back(static_cast<char>(*high * 16 + *low));
    i += 2;
  }
  return out;
}

std::string percent_encode_path(std::string_view name) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(name.size());
  for (const char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                            c == '.' || c == '_' || c == '~' || c == '/';
    if (unreserved) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4U]);
      out.push_back(hex[c & 0x0fU]);
    }
  }
  return out;
}

Parsed<HostPort> parse_host_port(std::string_view text) {
  if (text.find('@') != std::string_view::npos) return UrlError::user_info;
  auto parsed = tftp::parse_host_port(text, server_form);
  if (!parsed) return url_error(parsed.error());
  return std::move(*parsed);
}

Parsed<TftpUrl> parse_tftp_url(std::string_view text) {
  if (!is_tftp_url(text)) return UrlError::not_tftp_url;
  const auto rest = text.substr(scheme.size());
  const auto slash = rest.find('/');
  const auto authority = rest.substr(0, slash);
  if (authority.find_first_of("?#") != std::string_view::npos) return UrlError::query_or_fragment;
  // A bare IPv6 address cannot appear in a URL: its colons would be read as a port.
  if (!authority.empty() && authority.front() != '[' && std::count(authority.begin(), authority.end(), ':') > 1) {
    return UrlError::bad_ipv6_literal;
  }
  auto server = parse_host_port(authority);
  if (!server) return server.error();
  if (slash == std::string_view::npos) return UrlError::missing_file;

  auto path = rest.substr(slash + 1);
  if (path.find_first_of("?#") != std::string_view::npos) return UrlError::query_or_fragment;
  std::optional<Mode> mode;
  if (const auto semicolon = path.find(';'); semicolon != std::string_view::npos) {
    auto parsed_mode = parse_mode_parameter(path.substr(semicolon + 1));
    if (!parsed_mode) return parsed_mode.error();
    mode = *parsed_mode;
    path = path.substr(0, semicolon);
  }
  auto file = percent_decode(path);
  if (!file) return UrlError::bad_escape;
  if (file->empty()) return UrlError::missing_file;
  if (file->find('\0') != std::string::npos) return UrlError::nul_in_file;
  return TftpUrl{std::move(*server), std::move(*file), mode};
}

std::string_view base_name(std::string_view path) noexcept {
  const auto slash = path.find_last_of('/');
  const auto name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  if (name == "." || name == "..") return {};
  return name;
}

}  // namespace tftp
