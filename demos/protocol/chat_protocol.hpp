#pragma once
// What travels inside the chat demos' frames (the framing itself is frame.hpp): one type byte, then
// the body.
//
//   'T' text   client -> server: the nickname (first frame), a message, or a command (/who, /quit);
//              server -> client: one line to show ("alice: hi", "* bob joined", the welcome)
//   'E' error  server -> client: a refusal to show ("nickname alice is taken"); the server may close next
//   'F' file   client -> server: a JSON header {"name":...,"size":...} (json_header.hpp), then
//   'D' data   client -> server: the file's bytes, exactly size of them, in as many frames as needed
//
// Pure code, no sockets, so that both programs and the tests agree on it.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "frame.hpp"

namespace demos {

enum class MessageType : std::uint8_t { text = 'T', error = 'E', file_header = 'F', file_data = 'D' };

struct Message {
  MessageType type;
  std::span<const std::byte> body;
};

// The largest body that fits one frame after the type byte.
inline constexpr std::size_t max_body = max_frame_payload - 1;
// File bytes per 'D' frame: well under max_body, so a frame never hits the limit.
inline constexpr std::size_t file_chunk = 32 * 1024;

// The frame payload (type byte + body); the caller keeps body within max_body.
std::vector<std::byte> encode_message(MessageType type, std::span<const std::byte> body);
std::vector<std::byte> encode_message(MessageType type, std::string_view body);
// Header and payload ready to write, for queues that send the same bytes to many clients.
std::vector<std::byte> encode_framed(MessageType type, std::string_view body);

// nullopt for an empty payload or an unknown type byte.
std::optional<Message> decode_message(std::span<const std::byte> payload) noexcept;

std::string_view as_text(std::span<const std::byte> bytes) noexcept;
std::span<const std::byte> as_bytes(std::string_view text) noexcept;

// 1 to 32 of A-Z a-z 0-9 _ -: a name that cannot spoof a notice ("* x joined") or carry escapes.
bool valid_nickname(std::string_view name) noexcept;

// The text with control characters (terminal escapes, CR, NUL, C1 bytes and code points...) written as
// \xNN (tftp::printable), so a peer cannot drive the reader's terminal.
std::string printable(std::string_view text);

// Why a received file name cannot be used as is, or nullopt when it is safe: one path component,
// 1-255 bytes, no '/', '\\' or control character, not starting with '.' (which also rules out "." and
// ".."). Refused rather than cleaned up, so the sender learns the name it chose was not used.
std::optional<std::string_view> unsafe_file_name(std::string_view name) noexcept;

}  // namespace demos
