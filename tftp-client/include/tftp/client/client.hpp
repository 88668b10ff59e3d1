#pragma once
// The TFTP client operations: one get or put against one server, run to the end on the calling thread.
// Each returns a Report whose exit class is the process exit status of tftp-client.
//
// What they guarantee (issue 5):
// - get writes into a temporary file beside LOCAL and renames it onto LOCAL only after the last block;
//   after any failure nothing is created and an existing LOCAL is untouched. LOCAL "-" is stdout: the
//   bytes are collected in an unlinked temporary file and copied to stdout only after the transfer
//   succeeded, so a failed get writes nothing to stdout either.
// - put opens and checks LOCAL before any packet is sent (Exit::local_error); LOCAL "-" reads stdin to
//   the end first (into an unlinked temporary file) so that tsize can be announced and blocks re-read.
// - The client locks onto the port of the server's first reply; packets from any other address or port
//   get ERROR 5 and are otherwise ignored.
// - The OACK is checked by the core (check_oack): a violation is answered with ERROR 8 (Exit::protocol_error).

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "tftp/client/args.hpp"
#include "tftp/options.hpp"
#include "tftp/packet.hpp"
#include "tftp/transfer_outcome.hpp"

namespace tftp::client {

enum class IpFamily { any, v4, v6 };

inline constexpr std::uint16_t default_request_block_size = 1428;  // fits a 1500-byte Ethernet MTU
// The largest download kept (to a file or staged for stdout); beyond it the transfer ends with ERROR 3.
inline constexpr std::uint64_t default_max_download = std::uint64_t{64} << 30;
// RFC 7440's recommended window; a server that ignores the option answers lock-step, as RFC 1350 has it.
inline constexpr std::uint16_t default_request_window_size = 8;
inline constexpr std::chrono::milliseconds max_backoff_timeout{8000};

struct Settings {
  Mode mode = Mode::octet;
  std::optional<std::uint16_t> block_size = default_request_block_size;  // unset: not requested
  std::optional<std::uint16_t> window_size = default_request_window_size;  // unset: not requested (lock-step)
  bool tsize = true;
  bool options = true;  // false: a plain RFC 1350 request (no options at all)
  // The first retransmission timeout; each retry of the same packet doubles it, up to max_backoff_timeout
  // (or the timeout itself when that is longer). Round trips measured on the way then adapt it (RFC 6298).
  // Not asked of the server (RFC 2349 "timeout" would switch off its backoff).
  std::chrono::milliseconds timeout{1000};
  unsigned retries = 5;  // the give-up time is 1 + retries waits (TransferConfig)
  std::optional<std::uint64_t> max_size = default_max_download;  // get: larger is ERROR 3 and Exit::local_error
  IpFamily family = IpFamily::any;
};

// The longest the client waits on a server that never answers, from the first request to Exit::timed_out,
// computed from the machine's backoff policy for these settings (printed by --help).
std::chrono::milliseconds give_up_after(const Settings& settings);

struct Progress {
  std::uint64_t bytes = 0;               // file bytes moved so far (wire bytes for netascii)
  std::optional<std::uint64_t> total;    // the tsize, when known
  std::chrono::steady_clock::duration elapsed{};
  bool done = false;                     // the last report of a transfer
};

struct Hooks {
  std::function<void(const Progress&)> progress;   // after each DATA written or acknowledged
  std::function<void(std::string_view)> trace;     // one line per packet sent or received (verbose)
};

struct Report {
  Exit exit = Exit::success;
  std::string message;  // empty on success; otherwise one line for the user
  std::uint64_t bytes = 0;
  Negotiated negotiated;
  std::chrono::steady_clock::duration elapsed{};
  TransferCounters counters;                           // what the machine sent and saw (for --stats, --json)
  std::optional<std::chrono::nanoseconds> round_trip;  // the smoothed round trip it measured
  std::optional<std::string> warning;  // success with a remark, e.g. a tsize that disagrees with the bytes
};

Report get(const Target& target, const Settings& settings, const Hooks& hooks = {});
Report put(const Target& target, const Settings& settings, const Hooks& hooks = {});

}  // namespace tftp::client
