// packet_fuzzer: any bytes through tftp::parse. Never a crash; a parsed packet encodes, the encoding parses
// to the same packet, and the encoding is the input itself except for what codec.hpp documents as
// tolerated: the mode's case, NUL padding after a request, bytes after an ERROR's message.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <variant>
#include <vector>

#include "fuzz_support.hpp"
#include "tftp/codec.hpp"

namespace {

using tftp::Packet;

bool same_ascii_case_insensitive(std::byte a, std::byte b) {
  auto lower = [](std::byte x) {
    const auto c = std::to_integer<unsigned>(x);
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
  };
  return lower(a) == lower(b);
}

bool all_nul(std::span<const std::byte> bytes) {
  for (std::byte b : bytes) {
    if (b != std::byte{0}) return false;
  }
  return true;
}

// [first, last) of the mode field in the encoding: after the opcode and the filename's NUL.
template <class Request>
std::array<std::size_t, 2> mode_range(const Request& request) {
  const std::size_t first = 2 + request.filename.size() + 1;
  return {first, first + (request.mode == tftp::Mode::octet ? 5 : 8)};
}

void check_reproduces_input(const Packet& packet, std::span<const std::byte> input, std::span<const std::byte> encoded) {
  FUZZ_CHECK(encoded.size() <= input.size());
  const auto tail = input.subspan(encoded.size());
  std::array<std::size_t, 2> mode{0, 0};
  if (const auto* rrq = std::get_if<tftp::Rrq>(&packet)) {
    mode = mode_range(*rrq);
    FUZZ_CHECK(all_nul(tail));
  } else if (const auto* wrq = std::get_if<tftp::Wrq>(&packet)) {
    mode = mode_range(*wrq);
    FUZZ_CHECK(all_nul(tail));
  } else if (!std::holds_alternative<tftp::Error>(packet)) {
    FUZZ_CHECK(tail.empty());  // DATA, ACK and OACK come back byte for byte
  }
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    if (i >= mode[0] && i < mode[1]) {
      FUZZ_CHECK(same_ascii_case_insensitive(encoded[i], input[i]));
    } else {
      FUZZ_CHECK(encoded[i] == input[i]);
    }
  }
}

tftp::Opcode opcode_of(const Packet& packet) {
  return static_cast<tftp::Opcode>(packet.index() + 1);  // the variant lists the packets in opcode order
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto input = std::as_bytes(std::span(data, size));
  const auto parsed = tftp::parse(input);
  if (!parsed) {
    FUZZ_CHECK(parsed.error() != tftp::errc{});
    return 0;
  }
  FUZZ_CHECK(tftp::peek_opcode(input) == opcode_of(*parsed));

  // The encoding is never longer than the input; one spare byte lets a longer one show up as a failure.
  std::vector<std::byte> out(size + 1);
  const auto written = tftp::encode(*parsed, out);
  FUZZ_CHECK(written.has_value());
  const auto encoded = std::span<const std::byte>(out).first(*written);

  const auto reparsed = tftp::parse(encoded);
  FUZZ_CHECK(reparsed.has_value());
  FUZZ_CHECK(*reparsed == *parsed);
  check_reproduces_input(*parsed, input, encoded);

  // One byte short of the encoding is never enough room: encode reports it instead of writing past the end.
  if (*written > 0) {
    const auto short_by_one = tftp::encode(*parsed, std::span(out).first(*written - 1));
    FUZZ_CHECK(!short_by_one.has_value() && short_by_one.error() == tftp::errc::buffer_too_small);
  }
  return 0;
}
