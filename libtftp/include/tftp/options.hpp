#pragma once
// Option negotiation (RFC 2347) for blksize (RFC 2348), timeout and tsize (RFC 2349) and windowsize
// (RFC 7440): what a client asks for, what a server grants, and the client's check of the OACK.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "tftp/packet.hpp"
#include "tftp/result.hpp"

namespace tftp {

// Ranges from the RFCs.
inline constexpr std::uint16_t min_block_size = 8;         // RFC 2348
inline constexpr std::uint16_t max_block_size = 65464;     // RFC 2348
inline constexpr std::uint8_t min_timeout_s = 1;           // RFC 2349
inline constexpr std::uint8_t max_timeout_s = 255;         // RFC 2349
inline constexpr std::uint16_t min_window_size = 1;        // RFC 7440
inline constexpr std::uint16_t max_window_size = 65535;    // RFC 7440

// The parameters a transfer runs with once negotiation is over. Without an OACK: the RFC 1350 defaults.
struct Negotiated {
  std::uint16_t block_size = default_block_size;
  std::uint16_t window_size = 1;
  std::optional<std::uint8_t> timeout_s;  // agreed retransmission timeout; none: the endpoint's own choice
  std::optional<std::uint64_t> tsize;     // the transfer size the peer announced (RRQ: file size; WRQ: upload size)
  friend bool operator==(const Negotiated&, const Negotiated&) = default;
};

// ---- Client side -------------------------------------------------------------------------------

// What a client asks for. Unset fields are not requested.
struct ClientOptions {
  std::optional<std::uint16_t> block_size;
  std::optional<std::uint16_t> window_size;
  std::optional<std::uint8_t> timeout_s;
  // RRQ: ask for the size ("tsize" "0"). WRQ: announce the size of the upload.
  std::optional<std::uint64_t> tsize;
};

// The options of an RRQ/WRQ, in a fixed order (blksize, timeout, tsize, windowsize). Values outside the
// RFC ranges are clamped into them.
OptionList make_request_options(const ClientOptions& wanted);

// Checks a server's OACK against what was requested (RFC 2347 and the option RFCs):
//  - every option in the OACK was requested (errc::option_not_requested);
//  - blksize at least 8 and at most the requested; windowsize at least 1 and at most the requested;
//    timeout equal to the requested; tsize a number (errc::option_out_of_range).
// On errc the client must answer with ERROR 8 and end the transfer. Options the server left out
// keep their defaults.
Result<Negotiated> check_oack(const OptionList& requested, const OptionList& oack);

// ---- Server side -------------------------------------------------------------------------------

// Options a server never grants, as if it did not know them (tftpd-hpa -r, atftpd --no-blksize): for
// clients that ask for an option and then break on the answer.
struct RefusedOptions {
  bool blksize = false;
  bool timeout = false;
  bool tsize = false;
  bool windowsize = false;
  friend bool operator==(const RefusedOptions&, const RefusedOptions&) = default;
};

// Sets the flag for "blksize", "timeout", "tsize" or "windowsize" (any case); false for another name.
bool refuse_option(RefusedOptions& refused, std::string_view name) noexcept;

struct ServerPolicy {
  std::uint16_t max_block_size = tftp::max_block_size;
  std::uint16_t max_window_size = 64;
  std::uint8_t min_timeout_s = tftp::min_timeout_s;
  std::uint8_t max_timeout_s = tftp::max_timeout_s;
  std::optional<std::uint64_t> max_upload;  // WRQ: a tsize above this is refused with ERROR 3
  RefusedOptions refused;
};

// What the server does with a request's options.
struct ServerAnswer {
  Negotiated negotiated;      // the parameters to run the transfer with
  OptionList oack;            // the OACK to send; empty: send none (RFC 1350 start: DATA 1 or ACK 0)
  std::optional<Error> refusal;  // set: send this ERROR instead and end
};

enum class Direction { read, write };

// Decides a request's options (RFC 2347 sections on the server):
//  - only requested, known and acceptable options appear in the OACK, in the order requested;
//  - blksize below 8 is ignored, above the policy maximum it is lowered to it (RFC 2348);
//  - timeout outside the policy range is ignored (RFC 2349: the server may not change it);
//  - windowsize 0 is ignored, above the policy maximum it is lowered (RFC 7440);
//  - tsize on RRQ is answered with file_size (ignored when file_size is unknown, e.g. netascii);
//    on WRQ it is echoed, and a value above policy.max_upload is refused with ERROR 3 before any data.
// Unknown options, and those in policy.refused, are ignored.
ServerAnswer negotiate(const ServerPolicy& policy, const OptionList& requested, Direction direction,
                       std::optional<std::uint64_t> file_size);

}  // namespace tftp
