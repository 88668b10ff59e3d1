#pragma once
// The client's exit codes and the rules that turn its positional arguments into a server, a remote name
// and a local name. Pure code (no sockets), so the command line is tested without a network.
//
//   get HOST[:PORT] REMOTE [LOCAL]        get tftp://HOST[:PORT]/REMOTE [LOCAL]
//   put HOST[:PORT] LOCAL [REMOTE]        put LOCAL tftp://HOST[:PORT]/REMOTE
//
// LOCAL defaults to REMOTE's base name on get, REMOTE to LOCAL's base name on put; "-" is stdout/stdin
// and then has no base name to lend, so put from "-" needs REMOTE.

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tftp/packet.hpp"
#include "tftp/result.hpp"
#include "tftp/url.hpp"

namespace tftp::client {

// The process exit status, one class per kind of failure so that scripts can tell them apart.
enum class Exit : int {
  success = 0,
  server_error = 1,    // the server answered with a TFTP ERROR packet
  usage = 2,           // bad arguments
  timed_out = 3,       // no answer within the timeout and retries
  local_error = 4,     // the local file could not be read, written or renamed
  protocol_error = 5,  // the server broke the protocol (bad OACK, malformed or oversized packet)
  interrupted = 130,   // SIGINT/SIGTERM (the shell's 128 + 2): the server was sent an ERROR, no file was kept
};

// One line for --help and README: "0 success; 1 ...".
std::string_view exit_code_summary() noexcept;

enum class Operation { get, put };

struct Target {
  HostPort server;
  std::string remote;
  std::string local;         // "-" for stdout (get) or stdin (put)
  std::optional<Mode> mode;  // from ";mode=" in a URL
  friend bool operator==(const Target&, const Target&) = default;
};

struct UsageError {
  std::string message;
};

Result<Target, UsageError> resolve_target(Operation operation, const std::vector<std::string>& positionals);

}  // namespace tftp::client
