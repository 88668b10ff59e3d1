#pragma once
// Where a client sends its request: "HOST[:PORT]" arguments and tftp:// URLs (RFC 3617).
//
//   tftpURI = "tftp://" host [ ":" port ] "/" file [ ";mode=" ( "netascii" / "octet" ) ]
//
// Decisions, so that scripts can rely on them:
// - HOST is a name, an IPv4 address or an IPv6 address in brackets ("[::1]:6969"). A bare IPv6 address
//   ("::1", "fe80::1%lo") is taken whole as a host without a port, since its colons cannot be a port.
// - PORT is 1-65535 in plain decimal; "host:" (empty port) means the default, as RFC 3986 allows.
// - The URL's file is everything after the first "/" following the authority, percent-decoded; the
//   leading "/" is the separator, not part of the name ("tftp://h//etc/x" asks for "/etc/x").
//   ";mode=" is split off before decoding, so "%3B" is a literal ";" in the name. "?" and "#" are
//   refused (a query or fragment means nothing to TFTP): encode them as %3F and %23.
// - Refused: another scheme, user info ("user@host"), an empty host or file, a bad or NUL escape,
//   a mode other than netascii/octet ("mail" too). The scheme and the mode are case-insensitive.
// Parsing never throws and never allocates beyond the result.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "tftp/address.hpp"
#include "tftp/packet.hpp"
#include "tftp/result.hpp"

namespace tftp {

enum class UrlError {
  not_tftp_url,      // does not start with "tftp://"
  empty_host,        // nothing before the port or the path
  bad_ipv6_literal,  // "[" without "]", or something other than ":port" after "]"
  bad_port,          // not 1-65535 in plain decimal
  user_info,         // "user@host": TFTP has no users
  missing_file,      // no "/file" after the authority, or an empty file
  bad_escape,        // "%" not followed by two hex digits
  nul_in_file,       // "%00": a filename cannot hold NUL
  query_or_fragment, // an unescaped "?" or "#"
  bad_mode,          // ";mode=" other than netascii/octet, or another ";" parameter
};

// A sentence for a user, e.g. "the port is not a number from 1 to 65535".
std::string_view describe(UrlError error) noexcept;

struct TftpUrl {
  HostPort server;
  std::string file;           // decoded
  std::optional<Mode> mode;   // set when the URL says ";mode="
  friend bool operator==(const TftpUrl&, const TftpUrl&) = default;
};

// A value or the reason it was refused.
template <class T>
using Parsed = Result<T, UrlError>;

// A client's server argument: tftp::parse_host_port with server_form (address.hpp), and no user info.
Parsed<HostPort> parse_host_port(std::string_view text);
Parsed<TftpUrl> parse_tftp_url(std::string_view text);

// True when text starts with "tftp://" (any case): the argument is meant as a URL, even a bad one.
bool is_tftp_url(std::string_view text) noexcept;

// "%41" -> "A"; nullopt on a bad escape. NUL is refused only by the URL parser, not here.
std::optional<std::string> percent_decode(std::string_view text);
// The other way, for a name put into an http(s) URL's path: every byte but RFC 3986's unreserved ones
// (A-Z a-z 0-9 - . _ ~) and "/" becomes %XX (upper-case hex), so a name can add no query, fragment,
// authority or header to the URL; percent_decode gives the name back.
std::string percent_encode_path(std::string_view name);

// The last component of a name for a default local/remote name: "a/b/c" -> "c". Empty when there is none
// usable ("a/", ".", "..", ""), so that the caller asks the user to name it.
std::string_view base_name(std::string_view path) noexcept;

}  // namespace tftp
