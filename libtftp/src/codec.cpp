#include "tftp/codec.hpp"

#include <algorithm>
#include <limits>
#include <array>
#include <cstring>

namespace tftp {
namespace {

constexpr std::array<std::string_view, 4> numeric_options = {"blksize", "timeout", "tsize", "windowsize"};

std::uint16_t read_u16(std::span<const std::byte> bytes, std::size_t at) noexcept {
  return static_cast<std::uint16_t>((std::to_integer<unsigned>(bytes[at]) << 8U) |
                                    std::to_integer<unsigned>(bytes[at + 1]));
}

void write_u16(std::byte* out, std::uint16_t value) noexcept {
  out[0] = static_cast<std::byte>(value >> 8U);
  out[1] = static_cast<std::byte>(value & 0xFFU);
}

// Reads NUL-terminated strings from a byte range, never past its end.
class Cursor {
 public:
  explicit Cursor(std::span<const std::byte> bytes) : bytes_(bytes) {}

  bool at_end() const noexcept { return pos_ == bytes_.size(); }

  // The next string without its NUL, or nullopt when no NUL follows.
  std::optional<std::string_view> next_string() noexcept {
    const auto rest = bytes_.subspan(pos_);
    const auto nul = std::find(rest.begin(), rest.end(), std::byte{0});
    if (nul == rest.end()) return std::nullopt;
    const auto length = static_cast<std::size_t>(nul - rest.begin());
    std::string_view text(reinterpret_cast<const char*>(rest.data()), length);
    pos_ += length + 1;
    return text;
  }

  // True when everything left is NUL padding.
  bool only_padding_left() const noexcept {
    const auto rest = bytes_.subspan(pos_);
    return std::all_of(rest.begin(), rest.end(), [](std::byte b) { return b == std::byte{0}; });
  }

 private:
  std::span<const std::byte> bytes_;
  std::size_t pos_ = 0;
};

bool is_numeric_option(std::string_view name) noexcept {
  return std::any_of(numeric_options.begin(), numeric_options.end(),
                     [name](std::string_view known) { return option_name_equals(name, known); });
}

// name NUL value NUL pairs until the end of the packet. allow_padding: a request may end in NUL padding.
Result<OptionList> parse_options(Cursor& cursor, bool allow_padding) {
  OptionList options;
  while (!cursor.at_end()) {
    if (allow_padding && cursor.only_padding_left()) break;
    auto name = cursor.next_string();
    if (!name) return errc::truncated_packet;
    auto value = cursor.next_string();
    if (!value) return errc::truncated_packet;
    if (name->empty()) return errc::bad_option_name;
    if (find_option(options, *name) != nullptr) return errc::duplicate_option;
    if (is_numeric_option(*name) && !parse_decimal(*value)) return errc::bad_option_value;
    options.push_back(Option{std::string(*name), std::string(*value)});
  }
  return options;
}

template <class Request>
Result<Packet> parse_request(std::span<const std::byte> bytes) {
  if (bytes.size() > max_request_size) return errc::request_too_large;
  Cursor cursor(bytes.subspan(2));
  auto filename = cursor.next_string();
  if (!filename) return errc::truncated_packet;
  auto mode_text = cursor.next_string();
  if (!mode_text) return errc::truncated_packet;
  if (filename->empty()) return errc::empty_filename;
  Mode mode{};
  if (option_name_equals(*mode_text, "octet")) {
    mode = Mode::octet;
  } else if (option_name_equals(*mode_text, "netascii")) {
    mode = Mode::netascii;
  } else {
    return errc::unsupported_mode;
  }
  auto options = parse_options(cursor, /*allow_padding=*/true);
  if (!options) return options.error();
  return Packet{Request{std::string(*filename), mode, std::move(*options)}};
}

Result<Packet> parse_error(std::span<const std::byte> bytes) {
  if (bytes.size() < 4) return errc::truncated_packet;
  Cursor cursor(bytes.subspan(4));
  auto message = cursor.next_string();
  if (!message) return errc::truncated_packet;
  return Packet{Error{static_cast<ErrorCode>(read_u16(bytes, 2)), std::string(*message)}};
}

// Appends strings and numbers to an output buffer; remembers whether anything did not fit.
class Writer {
 public:
  explicit Writer(std::span<std::byte> out) : out_(out) {}

  void u16(std::uint16_t value) noexcept {
    if (!reserve(2)) return;
    write_u16(out_.data() + pos_, value);
    pos_ += 2;
  }

  void string(std::string_view text) noexcept {
    if (text.find('\0') != std::string_view::npos) {
      error_ = errc::field_too_long;
      return;
    }
    if (!reserve(text.size() + 1)) return;
    std::memcpy(out_.data() + pos_, text.data(), text.size());
    out_[pos_ + text.size()] = std::byte{0};
    pos_ += text.size() + 1;
  }

  void bytes(std::span<const std::byte> data) noexcept {
    if (!reserve(data.size())) return;
    if (!data.empty()) std::memcpy(out_.data() + pos_, data.data(), data.size());
    pos_ += data.size();
  }

  void options(const OptionList& options) noexcept {
    for (const auto& option : options) {
      string(option.name);
      string(option.value);
    }
  }

  Result<std::size_t> result() const noexcept {
    if (error_ != errc{}) return error_;
    return pos_;
  }

 private:
  bool reserve(std::size_t n) noexcept {
    if (error_ != errc{}) return false;
    if (out_.size() - pos_ < n) {
      error_ = errc::buffer_too_small;
      return false;
    }
    return true;
  }

  std::span<std::byte> out_;
  std::size_t pos_ = 0;
  errc error_{};
};

std::string_view mode_name(Mode mode) noexcept { return mode == Mode::netascii ? "netascii" : "octet"; }

template <class Request>
Result<std::size_t> encode_request(Opcode opcode, const Request& request, std::span<std::byte> out) {
  if (request.filename.empty()) return errc::empty_filename;
  Writer writer(out);
  writer.u16(static_cast<std::uint16_t>(opcode));
  writer.string(request.filename);
  writer.string(mode_name(request.mode));
  writer.options(request.options);
  return writer.result();
}

}  // namespace

bool option_name_equals(std::string_view a, std::string_view b) noexcept {
  auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) { return lower(x) == lower(y); });
}

const Option* find_option(const OptionList& options, std::string_view name) noexcept {
  auto it = std::find_if(options.begin(), options.end(),
                         [name](const Option& option) { return option_name_equals(option.name, name); });
  return it == options.end() ? nullptr : &*it;
}

std::optional<std::uint64_t> parse_decimal(std::string_view text) noexcept {
  if (text.empty() || text.size() > 20) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::optional<Opcode> peek_opcode(std::span<const std::byte> bytes) noexcept {
  if (bytes.size() < 2) return std::nullopt;
  const auto opcode = read_u16(bytes, 0);
  if (opcode < 1 || opcode > 6) return std::nullopt;
  return static_cast<Opcode>(opcode);
}

Result<Packet> parse(std::span<const std::byte> bytes) {
  if (bytes.size() < 2) return errc::truncated_packet;
  const auto opcode = peek_opcode(bytes);
  if (!opcode) return errc::unknown_opcode;
  switch (*opcode) {
    case Opcode::rrq: return parse_request<Rrq>(bytes);
    case Opcode::wrq: return parse_request<Wrq>(bytes);
    case Opcode::data:
      if (bytes.size() < header_size) return errc::truncated_packet;
      return Packet{Data{read_u16(bytes, 2), bytes.subspan(header_size)}};
    case Opcode::ack:
      if (bytes.size() < header_size) return errc::truncated_packet;
      if (bytes.size() > header_size) return errc::trailing_bytes;
      return Packet{Ack{read_u16(bytes, 2)}};
    case Opcode::error: return parse_error(bytes);
    case Opcode::oack: {
      Cursor cursor(bytes.subspan(2));
      auto options = parse_options(cursor, /*allow_padding=*/false);
      if (!options) return options.error();
      if (options->empty()) return errc::truncated_packet;  // an OACK acknowledges at least one option
      return Packet{Oack{std::move(*options)}};
    }
  }
  return errc::unknown_opcode;
}

Result<std::size_t> encode(const Rrq& packet, std::span<std::byte> out) {
  return encode_request(Opcode::rrq, packet, out);
}

Result<std::size_t> encode(const Wrq& packet, std::span<std::byte> out) {
  return encode_request(Opcode::wrq, packet, out);
}

Result<std::size_t> encode(const Data& packet, std::span<std::byte> out) {
  Writer writer(out);
  writer.u16(static_cast<std::uint16_t>(Opcode::data));
  writer.u16(packet.block);
  writer.bytes(packet.payload);
  return writer.result();
}

Result<std::size_t> encode(const Ack& packet, std::span<std::byte> out) {
  Writer writer(out);
  writer.u16(static_cast<std::uint16_t>(Opcode::ack));
  writer.u16(packet.block);
  return writer.result();
}

Result<std::size_t> encode(const Error& packet, std::span<std::byte> out) {
  Writer writer(out);
  writer.u16(static_cast<std::uint16_t>(Opcode::error));
  writer.u16(static_cast<std::uint16_t>(packet.code));
  writer.string(packet.message);
  return writer.result();
}

Result<std::size_t> encode(const Oack& packet, std::span<std::byte> out) {
  Writer writer(out);
  writer.u16(static_cast<std::uint16_t>(Opcode::oack));
  writer.options(packet.options);
  return writer.result();
}

Result<std::size_t> encode(const Packet& packet, std::span<std::byte> out) {
  return std::visit([out](const auto& p) { return encode(p, out); }, packet);
}

void encode_data_header(std::uint16_t block, std::span<std::byte, header_size> out) noexcept {
  write_u16(out.data(), static_cast<std::uint16_t>(Opcode::data));
  write_u16(out.data() + 2, block);
}

std::optional<std::uint64_t> parse_size(std::string_view text) noexcept {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  const auto number = parse_decimal(text.substr(0, digits));
  if (!number) return std::nullopt;
  auto suffix = text.substr(digits);
  if (suffix.size() >= 2 && option_name_equals(suffix.substr(suffix.size() - 2), "ib")) {
    suffix.remove_suffix(2);
    if (suffix.empty()) return std::nullopt;  // "5iB"
  } else if (!suffix.empty() && (suffix.back() == 'b' || suffix.back() == 'B')) {
    suffix.remove_suffix(1);
  }
  unsigned shift = 0;
  if (suffix.size() > 1) return std::nullopt;
  if (suffix.size() == 1) {
    switch (suffix.front()) {
      case 'k': case 'K': shift = 10; break;
      case 'm': case 'M': shift = 20; break;
      case 'g': case 'G': shift = 30; break;
      case 't': case 'T': shift = 40; break;
      default: return std::nullopt;
    }
  }
  if (*number > (std::numeric_limits<std::uint64_t>::max() >> shift)) return std::nullopt;
  return *number << shift;
}

}  // namespace tftp
