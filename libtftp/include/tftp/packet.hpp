#pragma once
// TFTP packets as value types (RFC 1350, RFC 2347). All integers travel in network byte order.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "tftp/error.hpp"

namespace tftp {

enum class Opcode : std::uint16_t { rrq = 1, wrq = 2, data = 3, ack = 4, error = 5, oack = 6 };

// Transfer mode of a request. "mail" (RFC 1350) is obsolete and refused by the codec.
enum class Mode { netascii, octet };

// The default block size and the largest DATA packet without options.
inline constexpr std::size_t default_block_size = 512;
inline constexpr std::size_t header_size = 4;  // opcode + block number of DATA/ACK

// An option of a request or OACK (RFC 2347). The name keeps the case it arrived in; compare names
// with option_name_equals. Values of the options this library knows (blksize, timeout, tsize,
// windowsize) are checked by the codec to be plain decimal numbers; other values are kept as sent.
struct Option {
  std::string name;
  std::string value;
  friend bool operator==(const Option&, const Option&) = default;
};
using OptionList = std::vector<Option>;

//  2 bytes    string    1 byte   string   1 byte   string  1 byte  string  1 byte
//  ---------------------------------------------------------------------------
// | 01/02  | Filename |   0   |   Mode   |   0   |  opt1  |   0   | value1 |   0   | ...
//  ---------------------------------------------------------------------------
// Read request (opcode 1); Write request (opcode 2) has the same layout.
struct Rrq {
  std::string filename;
  Mode mode = Mode::octet;
  OptionList options;
  friend bool operator==(const Rrq&, const Rrq&) = default;
};

struct Wrq {
  std::string filename;
  Mode mode = Mode::octet;
  OptionList options;
  friend bool operator==(const Wrq&, const Wrq&) = default;
};

//  2 bytes     2 bytes      n bytes
//  ----------------------------------
// |  03   |   Block #  |   Data     |
//  ----------------------------------
// The payload is a view into the parsed buffer: it lives as long as that buffer.
struct Data {
  std::uint16_t block = 0;
  std::span<const std::byte> payload;
  friend bool operator==(const Data& a, const Data& b) {
    return a.block == b.block && std::equal(a.payload.begin(), a.payload.end(), b.payload.begin(), b.payload.end());
  }
};

//  2 bytes     2 bytes
//  ---------------------
// |  04   |   Block #  |
//  ---------------------
struct Ack {
  std::uint16_t block = 0;
  friend bool operator==(const Ack&, const Ack&) = default;
};

//  2 bytes     2 bytes      string    1 byte
//  -----------------------------------------
// |  05   |  ErrorCode |   ErrMsg   |   0  |
//  -----------------------------------------
// Codes outside 0-8 are kept as received.
struct Error {
  ErrorCode code = ErrorCode::not_defined;
  std::string message;
  friend bool operator==(const Error&, const Error&) = default;
};

//  2 bytes   string   1 byte  string  1 byte
//  ------------------------------------------
// |  06   |  opt1  |   0   | value1 |   0   |  ...
//  ------------------------------------------
// Option acknowledgment (RFC 2347).
struct Oack {
  OptionList options;
  friend bool operator==(const Oack&, const Oack&) = default;
};

using Packet = std::variant<Rrq, Wrq, Data, Ack, Error, Oack>;

}  // namespace tftp
