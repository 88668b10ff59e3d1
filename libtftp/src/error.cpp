#include "tftp/error.hpp"

#include <string>

namespace tftp {

std::string_view default_message(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::not_defined: return "Not defined, see error message (if any).";
    case ErrorCode::file_not_found: return "File not found.";
    case ErrorCode::access_violation: return "Access violation.";
    case ErrorCode::disk_full: return "Disk full or allocation exceeded.";
    case ErrorCode::illegal_operation: return "Illegal TFTP operation.";
    case ErrorCode::unknown_transfer_id: return "Unknown transfer ID.";
    case ErrorCode::file_exists: return "File already exists.";
    case ErrorCode::no_such_user: return "No such user.";
    case ErrorCode::option_refused: return "Terminate transfer due to option negotiation.";
  }
  return "Unknown error";
}

namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tftp"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::truncated_packet: return "truncated packet";
      case errc::unknown_opcode: return "unknown opcode";
      case errc::empty_filename: return "empty filename";
      case errc::unsupported_mode: return "unsupported transfer mode";
      case errc::request_too_large: return "request too large";
      case errc::trailing_bytes: return "trailing bytes after the last field";
      case errc::bad_option_name: return "empty option name";
      case errc::bad_option_value: return "option value is not a plain decimal number";
      case errc::duplicate_option: return "option given twice";
      case errc::buffer_too_small: return "output buffer too small";
      case errc::field_too_long: return "field too long or contains NUL";
      case errc::option_not_requested: return "OACK holds an option that was not requested";
      case errc::option_out_of_range: return "OACK option value out of range";
      case errc::timed_out: return "timed out";
      case errc::peer_error: return "peer sent an error";
      case errc::protocol_violation: return "protocol violation";
      case errc::malformed_packet: return "malformed packet";
      case errc::local_io_error: return "local I/O error";
      case errc::aborted: return "aborted";
      case errc::options_declined: return "client declined options";
      case errc::unanswered: return "no answer from the client";
    }
    return "unknown tftp error";
  }
};

}  // namespace

const std::error_category& tftp_category() noexcept {
  static const Category category;
  return category;
}

std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), tftp_category()}; }

}  // namespace tftp
