#pragma once
// What the transfer machines react to, decoded once from a datagram (or made from a timeout or a local
// failure), so that each machine's transitions sit in one switch over its state.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>

#include "tftp/codec.hpp"
#include "tftp/packet.hpp"

namespace tftp::detail {

enum class InputKind {
  data,           // block, payload
  ack,            // block
  oack,           // options
  peer_error,     // error
  unexpected,     // a valid packet of a type that has no place in a transfer (RRQ, WRQ) or this role
  malformed,      // parse_error
  timeout,        // the deadline passed
  local_failure,  // the source, sink, buffer or the local user ended it: failure, error (to send, may be null)
};

struct TransferInput {
  InputKind kind = InputKind::timeout;
  std::uint16_t block = 0;
  std::span<const std::byte> payload;
  const OptionList* options = nullptr;
  const Error* error = nullptr;
  errc failure{};  // malformed: the parse error; local_failure: the outcome's errc
};

// Decodes a datagram and calls handle(input) while the parsed packet is alive. DATA and ACK, the hot path,
// are read in place without building a Packet (no allocation).
template <class Handler>
void decode_input(std::span<const std::byte> bytes, Handler&& handle) {
  const auto opcode = peek_opcode(bytes);
  const auto block = [bytes] {
    return static_cast<std::uint16_t>((std::to_integer<unsigned>(bytes[2]) << 8U) | std::to_integer<unsigned>(bytes[3]));
  };
  if (opcode == Opcode::data && bytes.size() >= header_size) {
    handle(TransferInput{.kind = InputKind::data, .block = block(), .payload = bytes.subspan(header_size)});
    return;
  }
  if (opcode == Opcode::ack && bytes.size() == header_size) {
    handle(TransferInput{.kind = InputKind::ack, .block = block()});
    return;
  }
  const auto parsed = parse(bytes);
  if (!parsed) {
    handle(TransferInput{.kind = InputKind::malformed, .failure = parsed.error()});
    return;
  }
  if (const auto* oack = std::get_if<Oack>(&*parsed)) {
    handle(TransferInput{.kind = InputKind::oack, .options = &oack->options});
  } else if (const auto* error = std::get_if<Error>(&*parsed)) {
    handle(TransferInput{.kind = InputKind::peer_error, .error = error});
  } else {
    handle(TransferInput{.kind = InputKind::unexpected});  // RRQ or WRQ (DATA and ACK took the fast path)
  }
}

// Encodes an ERROR, cutting the message to fit out (and at an embedded NUL) rather than failing.
std::optional<std::size_t> encode_error_fitting(const Error& error, std::span<std::byte> out) noexcept;

// The ERRORs the machines send.
Error illegal_operation(std::string message);
Error malformed_packet_error(errc why);
Error oack_refusal(errc why);

// Block number on the wire of block index i (DATA 1 is index 0; wraps from 65535 to 0).
constexpr std::uint16_t block_number(std::uint64_t index) noexcept { return static_cast<std::uint16_t>(index + 1); }

}  // namespace tftp::detail
