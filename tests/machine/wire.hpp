#pragma once
// Datagrams as the packet-level machine tests write them: a std::string of the exact bytes, so that an
// expectation reads as the RFC's layout (opcode, block number, payload) and a mismatch prints readably.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "support/bytes.hpp"
#include "tftp/transfer.hpp"

namespace tftp::sim {

inline std::string data(std::uint16_t block, std::string_view payload) {
  return std::string{'\0', '\3', static_cast<char>(block >> 8U), static_cast<char>(block & 0xFFU)} + std::string(payload);
}

inline std::string ack(std::uint16_t block) {
  return std::string{'\0', '\4', static_cast<char>(block >> 8U), static_cast<char>(block & 0xFFU)};
}

inline std::string error(std::uint16_t code, std::string_view message) {
  return std::string{'\0', '\5', static_cast<char>(code >> 8U), static_cast<char>(code & 0xFFU)} + std::string(message) +
         '\0';
}

inline std::uint16_t opcode(const std::string& datagram) { return static_cast<std::uint8_t>(datagram[1]); }
inline std::uint16_t block(const std::string& datagram) {
  return static_cast<std::uint16_t>(static_cast<std::uint8_t>(datagram[2]) << 8U | static_cast<std::uint8_t>(datagram[3]));
}

// Everything a machine has to send now.
template <class Machine>
std::vector<std::string> drain(Machine& machine) {
  std::vector<std::byte> buffer(transmit_buffer_size);
  std::vector<std::string> out;
  while (const auto size = machine.poll_transmit(buffer)) out.push_back(test::text_of(std::span(buffer).first(*size)));
  return out;
}

template <class Machine>
void feed(Machine& machine, const std::string& datagram, TimePoint now) {
  machine.on_datagram(test::byte_view(datagram), now);
}

}  // namespace tftp::sim
