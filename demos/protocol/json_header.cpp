#include "json_header.hpp"

#include <utility>

#include <nlohmann/json.hpp>

namespace demos {
namespace {

using Json = nlohmann::json;

// The header read from nlohmann-json's SAX events, so that the strict rules are checked as the parser meets
// them: a repeated member is seen (a parsed object would keep only the last), and a nested value is refused
// at its opening bracket instead of being built. Each event returns false to stop the parser at the first
// refusal; the parser then reports nothing more.
class HeaderReader {
 public:
  explicit HeaderReader(std::string_view text) noexcept : text_(text) {}

  bool null() { return refuse_value(); }
  bool boolean(bool /*value*/) { return refuse_value(); }
  // Only negative integers come here: nlohmann reads 0 and up as unsigned.
  bool number_integer(Json::number_integer_t /*value*/) { return number(std::nullopt); }
  bool number_unsigned(Json::number_unsigned_t value) { return number(value); }
  // Fractions, exponents, and integers too large for 64 bits.
  bool number_float(Json::number_float_t /*value*/, const Json::string_t& /*text*/) { return number(std::nullopt); }
  bool string(Json::string_t& value);
  bool binary(Json::binary_t& /*value*/) { return refuse_value(); }  // never read from JSON text
  bool start_object(std::size_t /*elements*/);
  bool key(Json::string_t& member);
  bool end_object() {
    after_zero_ = false;
    return true;
  }
  bool start_array(std::size_t /*elements*/) { return refuse_value(); }
  bool end_array() { return true; }  // unreachable: every array is refused at its start
  bool parse_error(std::size_t position, const std::string& last_token, const Json::exception& error);

  std::variant<FileHeader, HeaderError> result() &&;

 private:
  enum class Member { name, size };

  bool refuse(HeaderError error) {
    error_ = error;
    return false;
  }
  // A value of the wrong kind: at the top the text is no object, inside it the member has the wrong type.
  bool refuse_value() { return refuse(opened_ ? HeaderError::wrong_type : HeaderError::not_an_object); }
  bool number(std::optional<std::uint64_t> plain);
  HeaderError syntax_error(std::size_t position, std::string_view message) const noexcept;

  std::string_view text_;
  bool opened_ = false;
  Member member_ = Member::name;  // whose value comes next; set by key() before every value inside
  bool after_zero_ = false;       // the last value read was size 0: a digit after it means a leading zero
  std::optional<std::string> name_;
  std::optional<std::uint64_t> size_;
  std::optional<HeaderError> error_;
};

bool HeaderReader::start_object(std::size_t /*elements*/) {
  if (opened_) return refuse(HeaderError::wrong_type);
  opened_ = true;
  return true;
}

bool HeaderReader::key(Json::string_t& member) {
  after_zero_ = false;
  if (member == "name") {
    member_ = Member::name;
    return name_ ? refuse(HeaderError::duplicate_member) : true;
  }
  if (member == "size") {
    member_ = Member::size;
    return size_ ? refuse(HeaderError::duplicate_member) : true;
  }
  return refuse(HeaderError::unknown_member);
}

bool HeaderReader::string(Json::string_t& value) {
  if (!opened_) return refuse(HeaderError::not_an_object);
  if (member_ != Member::name) return refuse(HeaderError::wrong_type);
  // nlohmann decodes \u0000 like any other escape; a NUL cannot be part of a file name.
  if (value.find('\0') != std::string::npos) return refuse(HeaderError::bad_string);
  name_ = std::move(value);
  return true;
}

bool HeaderReader::number(std::optional<std::uint64_t> plain) {
  if (!opened_) return refuse(HeaderError::not_an_object);
  if (member_ != Member::size) return refuse(HeaderError::wrong_type);
  if (!plain || *plain > max_json_integer) return refuse(HeaderError::bad_number);
  size_ = *plain;
  after_zero_ = *plain == 0;
  return true;
}

bool HeaderReader::parse_error(std::size_t position, const std::string& /*last_token*/, const Json::exception& error) {
  return refuse(syntax_error(position, error.what()));
}

// Which rule a text that is not JSON, or not only JSON, breaks. nlohmann gives one exception id for every
// syntax error, so what went wrong inside a string or a number is told by its message ("invalid string: ...",
// "invalid number; ...").
HeaderError HeaderReader::syntax_error(std::size_t position, std::string_view message) const noexcept {
  if (!opened_) return HeaderError::not_an_object;
  if (message.find("invalid string") != std::string_view::npos) return HeaderError::bad_string;
  if (message.find("invalid number") != std::string_view::npos) return HeaderError::bad_number;
  // position counts the bytes read, the offending one included; past the end, the text stopped short.
  if (position > text_.size()) return HeaderError::not_an_object;
  // nlohmann reads "01" as the number 0 followed by a stray number 1.
  const bool digit_follows = position > 0 && text_[position - 1] >= '0' && text_[position - 1] <= '9';
  if (after_zero_ && digit_follows) return HeaderError::bad_number;
  return HeaderError::bad_syntax;
}

std::variant<FileHeader, HeaderError> HeaderReader::result() && {
  if (error_) return *error_;
  // nlohmann takes a NUL byte outside a string for the end of the text: what followed it was never read.
  if (text_.find('\0') != std::string_view::npos) return HeaderError::bad_syntax;
  if (!name_ || !size_) return HeaderError::missing_member;
  return FileHeader{std::move(*name_), *size_};
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
  // nlohmann skips a UTF-8 byte order mark; RFC 8259 forbids sending one, and this reader never took one.
  if (text.starts_with("\xEF\xBB\xBF")) return HeaderError::not_an_object;
  HeaderReader reader(text);
  try {
    Json::sax_parse(text, &reader, Json::input_format_t::json, /*strict=*/true, /*ignore_comments=*/false);
  } catch (const Json::exception&) {
    // Errors come through HeaderReader::parse_error; this only keeps a throw from reaching the network code.
    return HeaderError::bad_syntax;
  }
  return std::move(reader).result();
}

std::optional<std::string> emit_file_header(const FileHeader& header) {
  Json json = Json::object();  // its keys come out sorted: "name", then "size"
  json["name"] = header.name;
  json["size"] = header.size;
  try {
    return json.dump();
  } catch (const Json::type_error&) {
    return std::nullopt;  // the name is not valid UTF-8
  }
}

}  // namespace demos
