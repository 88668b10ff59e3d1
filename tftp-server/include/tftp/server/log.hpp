#pragma once
// The server's log: one line per finished transfer, a warning per refused request, notices, and with
// -v a packet trace. Text lines read as "TIME LEVEL EVENT key=value ..."; with --log-format json every
// line is one JSON object with the same keys. Strings from the network are escaped in both forms, so a
// client cannot forge a log line. Lines go to a sink (stderr by default; tests capture them).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tftp/server_endpoint.hpp"
#include "tftp/token_bucket.hpp"
#include "tftp/server/config.hpp"
#include "tftp/options.hpp"

namespace tftp::server {

enum class LogLevel { debug, info, warning, error };

// A log event: a name and its fields, in order. Numbers are kept apart from strings so that JSON gets them
// unquoted.
struct LogField {
  std::string key;
  std::string value;
  bool number = false;
};

struct LogEvent {
  LogLevel level = LogLevel::info;
  std::string event;
  std::vector<LogField> fields;
  // Events a stranger or a flood can cause one per packet (refusals, ERROR 5, evictions, unanswered
  // sessions) name a flood class: at most a burst of such lines, then a few per second, and a "suppressed"
  // line with the count of those left out before the next one of the class.
  std::string flood_class;

  LogEvent& add(std::string key, std::string value) {
    fields.push_back({std::move(key), std::move(value), false});
    return *this;
  }
  LogEvent& add_number(std::string key, std::string value) {
    fields.push_back({std::move(key), std::move(value), true});
    return *this;
  }
  LogEvent& limited(std::string class_name) {
    flood_class = std::move(class_name);
    return *this;
  }
};

// How a finished transfer is logged.
struct TransferLine {
  std::string client;  // "ADDR:PORT" / "[ADDR]:PORT"
  std::string file;
  Direction direction = Direction::read;
  std::uint64_t bytes = 0;
  std::chrono::nanoseconds elapsed{0};
  std::uint16_t block_size = 512;
  std::uint16_t window_size = 1;
  std::uint64_t retransmissions = 0;  // datagrams sent again
  std::uint64_t timeouts = 0;         // retransmission timeouts that expired
  std::uint64_t duplicates = 0;       // duplicate ACKs (read) or DATA (write) received
  std::optional<std::chrono::nanoseconds> round_trip;  // smoothed, when the transfer measured one
  std::string result;  // "ok" or why it failed
  bool ok = false;
  // The client answered the OACK with ERROR 8 ("client declined options"): a UEFI size probe does so on
  // every boot, so it is logged at info, not as a warning.
  bool declined = false;
  // The client never showed that it receives what was sent (a forged request, or it went away): a line a
  // flood can cause, so rate-limited.
  bool unanswered = false;
};

LogEvent transfer_event(const TransferLine& line);
// The endpoint's record of a transfer as its log line.
TransferLine transfer_line(const tftp::TransferRecord& record);

// "DATA 7 (512 bytes)", "ACK 3", "ERROR 1 file not found": for the packet trace and logs.
std::string describe_datagram(std::span<const std::byte> datagram);
// "ok", or why a transfer failed, for the log's result field.
std::string describe_outcome(const Outcome& outcome);

// One line, without the newline. time is written as UTC with milliseconds.
std::string format_log_line(const LogEvent& event, LogFormat format, std::chrono::system_clock::time_point time);

// Escapes for a double-quoted JSON string; also used for text values: quotes, backslash, control bytes,
// and bytes >= 0x80 (as \u00XX, so that the output is ASCII whatever the client sent).
std::string escape_string(std::string_view text);

class ServerLog {
 public:
  using Sink = std::function<void(std::string_view line)>;

  ServerLog(LogFormat format, Verbosity verbosity, Sink sink = {});

  bool tracing() const noexcept { return verbosity_ == Verbosity::verbose; }
  void write(const LogEvent& event);
  // Writes the "suppressed" lines still owed (at shutdown).
  void flush_suppressed();

  // Lines of one flood class: a burst of 20, then 10 per second.
  static constexpr double flood_burst = 20;
  static constexpr double flood_per_second = 10;

 private:
  struct Flood {
    TokenBucket bucket{flood_per_second, flood_burst};
    std::uint64_t suppressed = 0;
  };
  void emit(const LogEvent& event);
  void write_suppressed(const std::string& class_name, Flood& flood);

  LogFormat format_;
  Verbosity verbosity_;
  std::mutex mutex_;  // the workers write from their own threads; a line is written whole
  Sink sink_;
  std::map<std::string, Flood> floods_;
};

}  // namespace tftp::server
