#pragma once
// The JSON header that announces a file on a framed stream (the chat demos' file send):
//
//   {"name":"report.pdf","size":12345}
//
// Read with nlohmann-json's SAX parser and strict checks on top, since the bytes come from the network and
// a general JSON reader accepts more than both ends can rely on. What it accepts:
// - One JSON object, optionally surrounded by JSON whitespace, and nothing after it (no byte order mark,
//   no comments).
// - Exactly the members "name" (a string) and "size" (an integer), in either order, each once.
//   Unknown members are refused: a sender that means something we do not understand must not be
//   half-obeyed. A repeated member is refused rather than the last one kept.
// - Strings: RFC 8259 escapes (\" \\ \/ \b \f \n \r \t \uXXXX with surrogate pairs), decoded to UTF-8.
//   Refused: raw control characters, a lone surrogate, \u0000, bytes that are not valid UTF-8.
// - size: plain decimal digits without sign, fraction, exponent or leading zeros, at most 2^53 - 1 (the
//   largest integer every JSON reader holds exactly).
// - At most max_json_header bytes in all.
// Parsing never throws on bad input. Whether the name is safe as a file name is the receiver's business.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace demos {

inline constexpr std::size_t max_json_header = 4096;
inline constexpr std::uint64_t max_json_integer = (std::uint64_t{1} << 53) - 1;

struct FileHeader {
  std::string name;
  std::uint64_t size = 0;
  friend bool operator==(const FileHeader&, const FileHeader&) = default;
};

enum class HeaderError {
  too_long,           // longer than max_json_header
  not_an_object,      // does not start with "{" or does not end with "}"
  bad_syntax,         // a missing ":" or ",", a stray character, trailing bytes
  bad_string,         // an unterminated string, a bad escape, a control character, invalid UTF-8
  bad_number,         // not plain decimal digits, a leading zero, or above max_json_integer
  unknown_member,     // a member other than "name" and "size"
  duplicate_member,   // a member twice
  missing_member,     // "name" or "size" is absent
  wrong_type,         // "name" is not a string or "size" is not a number
};

std::string_view describe(HeaderError error) noexcept;

std::variant<FileHeader, HeaderError> parse_file_header(std::string_view text);

// Compact JSON with the name escaped as needed, or nullopt when the name is not valid UTF-8 (a JSON string
// cannot carry it). parse_file_header(*emit_file_header(h)) == h for any UTF-8 name without NUL and any
// size up to max_json_integer.
std::optional<std::string> emit_file_header(const FileHeader& header);

}  // namespace demos
