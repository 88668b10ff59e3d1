#pragma once
// Errors: the TFTP wire error codes (RFC 1350, RFC 2347) and the library's own error enum.

#include <cstdint>
#include <string_view>
#include <system_error>

namespace tftp {

// The ErrorCode field of an ERROR packet (RFC 1350 section 5 and the appendix; 8 from RFC 2347).
enum class ErrorCode : std::uint16_t {
  not_defined = 0,          // "Not defined, see error message (if any)."
  file_not_found = 1,       // "File not found."
  access_violation = 2,     // "Access violation."
  disk_full = 3,            // "Disk full or allocation exceeded."
  illegal_operation = 4,    // "Illegal TFTP operation."
  unknown_transfer_id = 5,  // "Unknown transfer ID."
  file_exists = 6,          // "File already exists."
  no_such_user = 7,         // "No such user."
  option_refused = 8,       // "Terminate transfer due to option negotiation." (RFC 2347)
};

// The standard message of an error code; "Unknown error" for codes outside 0-8.
std::string_view default_message(ErrorCode code) noexcept;

// Everything the library reports as an error. Category name: "tftp".
enum class errc {
  // Codec: the bytes are not a valid packet.
  truncated_packet = 1,    // ended before a required field or terminator
  unknown_opcode,          // opcode is not 1-6
  empty_filename,          // RRQ/WRQ with a zero-length filename
  unsupported_mode,        // "mail" or any mode other than netascii/octet
  request_too_large,       // RRQ/WRQ longer than max_request_size
  trailing_bytes,          // bytes after the last field of a fixed-size packet or a request
  bad_option_name,         // empty option name
  bad_option_value,        // a known numeric option whose value is not plain decimal or overflows
  duplicate_option,        // the same option twice (names compared case-insensitively)
  buffer_too_small,        // encode: the output buffer cannot hold the packet
  field_too_long,          // encode: a string field contains NUL or does not fit the packet limits
  // Negotiation: an OACK the client must refuse with ERROR 8.
  option_not_requested,    // the OACK holds an option the client did not ask for
  option_out_of_range,     // an OACK value outside what was requested or the RFC range
  // Transfers.
  timed_out,               // the peer was silent for the give-up time
  peer_error,              // the peer sent an ERROR packet
  protocol_violation,      // the peer sent a packet that is valid but wrong here (sent ERROR 4)
  malformed_packet,        // the peer sent bytes that do not parse (sent ERROR 4)
  local_io_error,          // the block source or sink failed
  aborted,                 // the local side ended the transfer
  options_declined,        // the client answered the server's OACK with ERROR 8 (a UEFI size probe does)
  unanswered,              // the client never showed it receives what the server sends (a forged request?)
};

const std::error_category& tftp_category() noexcept;
std::error_code make_error_code(errc e) noexcept;

}  // namespace tftp

template <>
struct std::is_error_code_enum<tftp::errc> : std::true_type {};
