#pragma once
// Bytes in tests: a datagram or a file's contents as std::vector<std::byte>, and the conversions between
// bytes, the strings that tests write their expectations in, and packets.
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tftp/codec.hpp"

namespace tftp::test {

using Bytes = std::vector<std::byte>;

// The text's bytes, without copying them (they must outlive the view).
inline std::span<const std::byte> byte_view(std::string_view text) noexcept {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

inline Bytes bytes_of(std::string_view text) {
  const auto view = byte_view(text);
  return Bytes(view.begin(), view.end());
}

inline std::string text_of(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// The packet's bytes; room beyond max_packet_size so that a test can also encode what no peer should send.
inline Bytes encoded(const Packet& packet) {
  Bytes out(max_packet_size + 1024);
  const auto size = encode(packet, out);
  if (!size) throw std::logic_error("test packet does not encode");
  out.resize(*size);
  return out;
}

}  // namespace tftp::test
