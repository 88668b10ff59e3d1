#include "tftp/printable.hpp"

#include <cstdint>

namespace tftp {
namespace {

void escape(std::string& out, unsigned char byte) {
  static constexpr char digits[] = "0123456789abcdef";
  out += "\\x";
  out += digits[byte >> 4U];
  out += digits[byte & 0xFU];
}

// The length of the valid UTF-8 sequence at text[i] and its code point; 0 when it is not one.
std::size_t utf8_sequence(std::string_view text, std::size_t i, std::uint32_t& code) {
  const auto lead = static_cast<unsigned char>(text[i]);
  std::size_t length = 0;
  std::uint32_t min = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2, code = lead & 0x1FU, min = 0x80;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3, code = lead & 0x0FU, min = 0x800;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4, code = lead & 0x07U, min = 0x10000;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    const auto next = static_cast<unsigned char>(text[i + k]);
    if ((next & 0xC0U) != 0x80U) return 0;
    code = (code << 6U) | (next & 0x3FU);
  }
  if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
  return length;
}

bool safe_code_point(std::uint32_t code) {
  if (code < 0xA0) return false;                      // C1 controls (and the ASCII range, handled apart)
  if (code >= 0x202A && code <= 0x202E) return false;  // bidi embeddings and overrides
  if (code >= 0x2066 && code <= 0x2069) return false;  // bidi isolates
  if (code == 0x2028 || code == 0x2029) return false;  // line and paragraph separators
  return true;
}

}  // namespace

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte == '\\') {
      out += "\\\\";
      ++i;
    } else if (byte >= 0x20 && byte < 0x7F) {
      out += static_cast<char>(byte);
      ++i;
    } else if (std::uint32_t code = 0; byte >= 0x80 && utf8_sequence(text, i, code) != 0 && safe_code_point(code)) {
      const std::size_t length = utf8_sequence(text, i, code);
      out.append(text.substr(i, length));
      i += length;
    } else {
      escape(out, byte);
      ++i;
    }
  }
  return out;
}

}  // namespace tftp
