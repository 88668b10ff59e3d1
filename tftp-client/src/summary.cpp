#include "tftp/client/summary.hpp"

#include <fmt/format.h>

#include <chrono>

#include <nlohmann/json.hpp>

namespace tftp::client {

namespace {

double seconds_of(const Report& outcome) { return std::chrono::duration<double>(outcome.elapsed).count(); }

std::string rate(double bytes_per_second) {
  const char* units[] = {"B", "KiB", "MiB", "GiB"};
  std::size_t unit = 0;
  while (bytes_per_second >= 1024 && unit + 1 < std::size(units)) bytes_per_second /= 1024, ++unit;
  return fmt::format("{:.1f} {}/s", bytes_per_second, units[unit]);
}

}  // namespace

std::string stats_line(Operation operation, const Report& outcome) {
  const double seconds = seconds_of(outcome);
  std::string line = fmt::format(
      "{} {} bytes in {:.3f} s ({}), blksize {}, windowsize {}, {} retransmissions, {} timeouts, {} duplicates",
      operation == Operation::get ? "got" : "put", outcome.bytes, seconds,
      rate(seconds > 0 ? static_cast<double>(outcome.bytes) / seconds : 0.0), outcome.negotiated.block_size,
      outcome.negotiated.window_size, outcome.counters.retransmissions, outcome.counters.timeouts,
      outcome.counters.duplicates);
  if (outcome.round_trip) {
    line += fmt::format(", round trip {:.3f} ms", std::chrono::duration<double, std::milli>(*outcome.round_trip).count());
  }
  return line;
}

std::string json_summary(Operation operation, const Target& target, const Report& outcome) {
  nlohmann::ordered_json json;
  json["operation"] = operation == Operation::get ? "get" : "put";
  json["server"] = target.server.host.find(':') != std::string::npos
                       ? fmt::format("[{}]:{}", target.server.host, target.server.port)
                       : fmt::format("{}:{}", target.server.host, target.server.port);
  json["remote"] = target.remote;
  json["local"] = target.local;
  json["exit"] = static_cast<int>(outcome.exit);
  json["result"] = outcome.exit == Exit::success ? std::string("ok") : outcome.message;
  json["bytes"] = outcome.bytes;
  json["seconds"] = std::round(seconds_of(outcome) * 1000) / 1000;
  json["blksize"] = outcome.negotiated.block_size;
  json["windowsize"] = outcome.negotiated.window_size;
  if (outcome.negotiated.tsize) json["tsize"] = *outcome.negotiated.tsize;
  json["retransmissions"] = outcome.counters.retransmissions;
  json["timeouts"] = outcome.counters.timeouts;
  json["duplicates"] = outcome.counters.duplicates;
  if (outcome.round_trip) {
    json["srtt_ms"] = std::round(std::chrono::duration<double, std::milli>(*outcome.round_trip).count() * 1000) / 1000;
  }
  if (outcome.warning) json["warning"] = *outcome.warning;
  // A file name or a server's message is any bytes: invalid UTF-8 is replaced rather than thrown on.
  return json.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
}

}  // namespace tftp::client
