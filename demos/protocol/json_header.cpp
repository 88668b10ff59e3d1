#include "json_header.hpp"

#include <optional>

namespace demos {
namespace {

constexpr bool is_ws(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0U | (cp >> 6)));
    out.push_back(static_cast<char>(0x80U | (cp & 0x3FU)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0U | (cp >> 12)));
    out.push_back(static_cast<char>(0x80U | ((cp >> 6) & 0x3FU)));
    out.push_back(static_cast<char>(0x80U | (cp & 0x3FU)));
  } else {
    out.push_back(static_cast<char>(0xF0U | (cp >> 18)));
    out.push_back(static_cast<char>(0x80U | ((cp >> 12) & 0x3FU)));
    out.push_back(static_cast<char>(0x80U | ((cp >> 6) & 0x3FU)));
    out.push_back(static_cast<char>(0x80U | (cp & 0x3FU)));
  }
}

// A cursor over the text; every method leaves pos_ after what it consumed.
class Reader {
 public:
  explicit Reader(std::string_view text) noexcept : text_(text) {}

  bool at_end() const noexcept { return pos_ == text_.size(); }
  char peek() const noexcept { return at_end() ? '\0' : text_[pos_]; }
  void skip_ws() noexcept {
    while (!at_end() && is_ws(text_[pos_])) ++pos_;
  }
  bool consume(char c) noexcept {
    if (at_end() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }

  // After the opening quote has been seen (not consumed).
  std::optional<std::string> string() {
    ++pos_;
    std::string out;
    while (!at_end()) {
      const auto c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20) return std::nullopt;
      const bool ok = c == '\\' ? escape(out) : c < 0x80 ? (out.push_back(text_[pos_++]), true) : utf8(out);
      if (!ok) return std::nullopt;
    }
    return std::nullopt;
  }

  // Plain decimal; nullopt for anything else that starts like a number.
  std::optional<std::uint64_t> number() noexcept {
    const std::size_t first = pos_;
    std::uint64_t value = 0;
    while (!at_end() && is_digit(text_[pos_])) {
      value = value * 10 + static_cast<std::uint64_t>(text_[pos_] - '0');
      if (value > max_json_integer) return std::nullopt;
      ++pos_;
    }
    const std::size_t digits = pos_ - first;
    if (digits == 0 || (digits > 1 && text_[first] == '0')) return std::nullopt;
    if (peek() == '.' || peek() == 'e' || peek() == 'E') return std::nullopt;
    return value;
  }

 private:
  std::optional<std::uint32_t> hex4() noexcept {
    if (text_.size() - pos_ < 4) return std::nullopt;
    std::uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      const int digit = hex_value(text_[pos_++]);
      if (digit < 0) return std::nullopt;
      value = value * 16 + static_cast<std::uint32_t>(digit);
    }
    return value;
  }

  bool escape(std::string& out) {
    ++pos_;
    if (at_end()) return false;
    const char c = text_[pos_++];
    switch (c) {
      case '"': out.push_back('"'); return true;
      case '\\': out.push_back('\\'); return true;
      case '/': out.push_back('/'); return true;
      case 'b': out.push_back('\b'); return true;
      case 'f': out.push_back('\f'); return true;
      case 'n': out.push_back('\n'); return true;
      case 'r': out.push_back('\r'); return true;
      case 't': out.push_back('\t'); return true;
      case 'u': return unicode_escape(out);
      default: return false;
    }
  }

  bool unicode_escape(std::string& out) {
    auto unit = hex4();
    if (!unit || *unit == 0 || (*unit >= 0xDC00 && *unit <= 0xDFFF)) return false;
    std::uint32_t cp = *unit;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (!consume('\\') || !consume('u')) return false;
      auto low = hex4();
      if (!low || *low < 0xDC00 || *low > 0xDFFF) return false;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (*low - 0xDC00);
    }
    append_utf8(out, cp);
    return true;
  }

  // One multi-byte UTF-8 sequence, checked for overlong forms, surrogates and the U+10FFFF limit.
  bool utf8(std::string& out) {
    const auto lead = static_cast<unsigned char>(text_[pos_]);
    std::size_t length = 0;
    std::uint32_t cp = 0;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2, cp = lead & 0x1FU;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3, cp = lead & 0x0FU;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4, cp = lead & 0x07U;
    } else {
      return false;
    }
    if (text_.size() - pos_ < length) return false;
    for (std::size_t i = 1; i < length; ++i) {
      const auto next = static_cast<unsigned char>(text_[pos_ + i]);
      if ((next & 0xC0U) != 0x80U) return false;
      cp = (cp << 6) | (next & 0x3FU);
    }
    const std::uint32_t smallest = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000;
    if (cp < smallest || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    out.append(text_.substr(pos_, length));
    pos_ += length;
    return true;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

struct Members {
  std::optional<std::string> name;
  std::optional<std::uint64_t> size;
};

// One "key": value pair, the reader positioned at the key's quote.
std::optional<HeaderError> parse_member(Reader& in, Members& members) {
  if (in.peek() != '"') return HeaderError::bad_syntax;
  auto key = in.string();
  if (!key) return HeaderError::bad_string;
  in.skip_ws();
  if (!in.consume(':')) return HeaderError::bad_syntax;
  in.skip_ws();
  if (*key == "name") {
    if (members.name) return HeaderError::duplicate_member;
    if (in.peek() != '"') return HeaderError::wrong_type;
    members.name = in.string();
    if (!members.name) return HeaderError::bad_string;
    return std::nullopt;
  }
  if (*key == "size") {
    if (members.size) return HeaderError::duplicate_member;
    if (in.peek() == '"') return HeaderError::wrong_type;
    if (!is_digit(in.peek()) && in.peek() != '-') return HeaderError::wrong_type;
    members.size = in.number();
    if (!members.size) return HeaderError::bad_number;
    return std::nullopt;
  }
  return HeaderError::unknown_member;
}

std::optional<HeaderError> parse_object(Reader& in, Members& members) {
  in.skip_ws();
  if (!in.consume('{')) return HeaderError::not_an_object;
  in.skip_ws();
  if (in.consume('}')) return std::nullopt;
  for (;;) {
    if (auto error = parse_member(in, members)) return error;
    in.skip_ws();
    if (in.consume('}')) return std::nullopt;
    if (!in.consume(',')) return in.at_end() ? HeaderError::not_an_object : HeaderError::bad_syntax;
    in.skip_ws();
  }
}

}  // namespace

std::string_view describe(HeaderError error) noexcept {
  switch (error) {
    case HeaderError::too_long: return "the header is too long";
    case HeaderError::not_an_object: return "the header is not a JSON object";
    case HeaderError::bad_syntax: return "the header is not valid JSON";
    case HeaderError::bad_string: return "a string in the header is malformed";
    case HeaderError::bad_number: return "size is not a plain non-negative integer below 2^53";
    case HeaderError::unknown_member: return "the header has a member other than name and size";
    case HeaderError::duplicate_member: return "the header repeats a member";
    case HeaderError::missing_member: return "the header lacks name or size";
    case HeaderError::wrong_type: return "name must be a string and size a number";
  }
  return "unknown header error";
}

std::variant<FileHeader, HeaderError> parse_file_header(std::string_view text) {
  if (text.size() > max_json_header) return HeaderError::too_long;
  Reader in(text);
  Members members;
  if (auto error = parse_object(in, members)) return *error;
  in.skip_ws();
  if (!in.at_end()) return HeaderError::bad_syntax;
  if (!members.name || !members.size) return HeaderError::missing_member;
  return FileHeader{std::move(*members.name), *members.size};
}

std::string emit_file_header(const FileHeader& header) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = R"({"name":")";
  for (const char c : header.name) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20) {
      out += "\\u00";
      out.push_back(hex[u >> 4]);
      out.push_back(hex[u & 0x0FU]);
    } else {
      out.push_back(c);
    }
  }
  out += R"(","size":)";
  out += std::to_string(header.size);
  out.push_back('}');
  return out;
}

}  // namespace demos
