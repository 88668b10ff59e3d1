#pragma once
// One line per datagram for the client's -v trace: what a packet says, without its payload bytes.

#include <cstddef>
#include <span>
#include <string>

namespace tftp::client::detail {

// "RRQ \"f\" octet blksize=1428 tsize=0", "DATA 7 (512 bytes)", "ERROR 1 \"File not found\"", or
// "malformed (truncated packet, 3 bytes)" for bytes that do not parse.
std::string describe_datagram(std::span<const std::byte> bytes);

}  // namespace tftp::client::detail
