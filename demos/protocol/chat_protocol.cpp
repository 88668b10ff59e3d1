#include "chat_protocol.hpp"

#include <algorithm>

#include "tftp/printable.hpp"

namespace demos {

std::vector<std::byte> encode_message(MessageType type, std::span<const std::byte> body) {
  std::vector<std::byte> out;
  out.reserve(1 + body.size());
  out.push_back(static_cast<std::byte>(type));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

std::vector<std::byte> encode_message(MessageType type, std::string_view body) {
  return encode_message(type, as_bytes(body));
}

std::vector<std::byte> encode_framed(MessageType type, std::string_view body) {
  const auto payload = encode_message(type, body.substr(0, max_body));
  return *encode_frame(payload);
}

std::optional<Message> decode_message(std::span<const std::byte> payload) noexcept {
  if (payload.empty()) return std::nullopt;
  const auto type = static_cast<MessageType>(payload.front());
  switch (type) {
    case MessageType::text:
    case MessageType::error:
    case MessageType::file_header:
    case MessageType::file_data: return Message{type, payload.subspan(1)};
  }
  return std::nullopt;
}

std::string_view as_text(std::span<const std::byte> bytes) noexcept {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

std::span<const std::byte> as_bytes(std::string_view text) noexcept {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

bool valid_nickname(std::string_view name) noexcept {
  if (name.empty() || name.size() > 32) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::string printable(std::string_view text) { return tftp::printable(text); }

std::optional<std::string_view> unsafe_file_name(std::string_view name) noexcept {
  if (name.empty()) return "the file name is empty";
  if (name.size() > 255) return "the file name is longer than 255 bytes";
  if (name.front() == '.') return "the file name starts with '.'";
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '/' || c == '\\') return "the file name has a directory part";
    if (u < 0x20 || u == 0x7F) return "the file name has a control character";
  }
  return std::nullopt;
}

}  // namespace demos
