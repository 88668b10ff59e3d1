#pragma once
// Parsing and encoding of TFTP packets. parse never throws on bad input and never reads past the
// buffer; encode writes into the caller's buffer and never allocates.
//
// What parse accepts (and refuses), so that both ends of a transfer can rely on it:
// - Opcode 1-6, else errc::unknown_opcode. Fewer than 2 bytes: errc::truncated_packet.
// - RRQ/WRQ: at most max_request_size bytes (errc::request_too_large). Filename and mode each end in NUL
//   (errc::truncated_packet otherwise); the filename is not empty (errc::empty_filename); the mode is
//   "netascii" or "octet" in any case (errc::unsupported_mode, also for "mail").
// - Options (RRQ, WRQ, OACK): name NUL value NUL pairs; a name without its value's NUL is truncated.
//   Names are compared case-insensitively and exactly ("blksizeFOO" is an unknown option, kept as is).
//   An empty name is errc::bad_option_name; the same name twice is errc::duplicate_option. The values of
//   blksize, timeout, tsize and windowsize must be 1-20 decimal digits that fit in 64 bits
//   (errc::bad_option_value); their ranges are the negotiation's business (options.hpp). Values of
//   unknown options are kept so that the policy can ignore them. NUL bytes after the last complete
//   field of a request are ignored (some boot ROMs pad requests); any other byte there is an error.
//   An OACK holds at least one option (errc::truncated_packet otherwise).
// - DATA: a 2-byte block number and 0 or more payload bytes (the negotiated size is checked by the
//   transfer machines, not here). ACK: exactly 4 bytes (errc::trailing_bytes if longer).
// - ERROR: a code (kept even if outside 0-8) and a NUL-terminated message; bytes after that NUL are
//   ignored, since old peers pad error packets.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "tftp/packet.hpp"
#include "tftp/result.hpp"

namespace tftp {

// The largest RRQ/WRQ accepted. RFC 2347 asks clients to keep requests within 512 octets; tftp-hpa reads
// requests into a 516-byte buffer. Longer requests get errc::request_too_large.
inline constexpr std::size_t max_request_size = 516;

// The largest datagram the codec deals with: a DATA packet at the largest RFC 2348 block size.
inline constexpr std::size_t max_packet_size = 65464 + header_size;

Result<Packet> parse(std::span<const std::byte> bytes);

// The opcode of a datagram without parsing the rest; nullopt for fewer than 2 bytes or opcodes outside 1-6.
std::optional<Opcode> peek_opcode(std::span<const std::byte> bytes) noexcept;

// Encodes into out; returns the number of bytes written, errc::buffer_too_small when out is too short,
// errc::field_too_long when a string field contains a NUL byte.
Result<std::size_t> encode(const Packet& packet, std::span<std::byte> out);
Result<std::size_t> encode(const Rrq& packet, std::span<std::byte> out);
Result<std::size_t> encode(const Wrq& packet, std::span<std::byte> out);
Result<std::size_t> encode(const Data& packet, std::span<std::byte> out);
Result<std::size_t> encode(const Ack& packet, std::span<std::byte> out);
Result<std::size_t> encode(const Error& packet, std::span<std::byte> out);
Result<std::size_t> encode(const Oack& packet, std::span<std::byte> out);

// DATA header only (opcode and block): the payload is written by the caller at out[header_size].
void encode_data_header(std::uint16_t block, std::span<std::byte, header_size> out) noexcept;

// Option helpers.
bool option_name_equals(std::string_view a, std::string_view b) noexcept;  // ASCII case-insensitive, exact
const Option* find_option(const OptionList& options, std::string_view name) noexcept;
// Plain decimal: 1-20 digits, no sign, no spaces, fits in 64 bits.
std::optional<std::uint64_t> parse_decimal(std::string_view text) noexcept;

// A size as the programs' options take it: "4096", "512K", "10M", "2G", "1T" (binary multiples, either
// case, an optional trailing "B" or "iB").
std::optional<std::uint64_t> parse_size(std::string_view text) noexcept;

// Bytes of a string, for building datagrams in tests and drivers.
inline std::span<const std::byte> as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

}  // namespace tftp
