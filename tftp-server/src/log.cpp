#include "tftp/server/log.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <cstdio>
#include <utility>

#include "tftp/asio/address.hpp"
#include "tftp/asio/endpoint.hpp"
#include "tftp/codec.hpp"

namespace tftp::server {

namespace {

std::string_view level_name(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warning: return "warning";
    case LogLevel::error: return "error";
  }
  return "info";
}

std::string utc_time(std::chrono::system_clock::time_point time) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count() % 1000;
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", std::chrono::floor<std::chrono::seconds>(time), ms);
}

bool needs_quotes(std::string_view value) {
  if (value.empty()) return true;
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '"' || c == '\\' || c == '=') return true;
  }
  return false;
}

}  // namespace

std::string escape_string(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (u < 0x20 || u >= 0x7f) {
          out += fmt::format("\\u{:04x}", u);
        } else {
          out += c;
        }
    }
  }
  return out;
}

LogEvent transfer_event(const TransferLine& record) {
  const double seconds = std::chrono::duration<double>(record.elapsed).count();
  const double rate = seconds > 0 ? static_cast<double>(record.bytes) / seconds : 0.0;
  LogEvent event{record.ok || record.declined ? LogLevel::info : LogLevel::warning, "transfer", {}};
  event.add("client", record.client)
      .add("file", record.file)
      .add("direction", record.direction == Direction::read ? "read" : "write")
      .add_number("bytes", std::to_string(record.bytes))
      .add_number("seconds", fmt::format("{:.3f}", seconds))
      .add_number("bytes_per_second", fmt::format("{:.0f}", rate))
      .add_number("blksize", std::to_string(record.block_size))
      .add_number("windowsize", std::to_string(record.window_size))
      .add_number("retransmissions", std::to_string(record.retransmissions))
      .add_number("timeouts", std::to_string(record.timeouts))
      .add_number("duplicates", std::to_string(record.duplicates));
  if (record.round_trip) {
    event.add_number("srtt_ms", fmt::format("{:.3f}", std::chrono::duration<double, std::milli>(*record.round_trip).count()));
  }
  event.add("result", record.result);
  return event;
}

TransferLine transfer_line(const tftp::TransferRecord& record) {
  TransferLine line;
  line.client = net::to_string(net::to_asio(record.client));
  line.file = record.file;
  line.direction = record.direction;
  line.bytes = record.counters.bytes;
  line.elapsed = record.elapsed;
  line.block_size = record.negotiated.block_size;
  line.window_size = record.negotiated.window_size;
  line.retransmissions = record.counters.retransmissions;
  line.timeouts = record.counters.timeouts;
  line.duplicates = record.counters.duplicates;
  line.round_trip = record.round_trip;
  line.ok = record.outcome.completed();
  line.declined = record.outcome.error == errc::options_declined;
  line.unanswered = record.outcome.error == errc::unanswered;
  line.result = describe_outcome(record.outcome);
  return line;
}

namespace {

std::string_view opcode_name(Opcode op) {
  switch (op) {
    case Opcode::rrq: return "RRQ";
    case Opcode::wrq: return "WRQ";
    case Opcode::data: return "DATA";
    case Opcode::ack: return "ACK";
    case Opcode::error: return "ERROR";
    case Opcode::oack: return "OACK";
  }
  return "?";
}

}  // namespace

std::string describe_datagram(std::span<const std::byte> datagram) {
  const auto parsed = parse(datagram);
  if (!parsed) return fmt::format("malformed ({} bytes)", datagram.size());
  return std::visit(
      [&](const auto& packet) -> std::string {
        using T = std::decay_t<decltype(packet)>;
        if constexpr (std::is_same_v<T, Data>) {
          return fmt::format("DATA {} ({} bytes)", packet.block, packet.payload.size());
        } else if constexpr (std::is_same_v<T, Ack>) {
          return fmt::format("ACK {}", packet.block);
        } else if constexpr (std::is_same_v<T, Error>) {
          return fmt::format("ERROR {} {}", static_cast<unsigned>(packet.code), packet.message);
        } else if constexpr (std::is_same_v<T, Oack>) {
          std::string text = "OACK";
          for (const auto& option : packet.options) text += fmt::format(" {}={}", option.name, option.value);
          return text;
        } else {
          return fmt::format("{} {}", opcode_name(*peek_opcode(datagram)), packet.filename);
        }
      },
      *parsed);
}

std::string describe_outcome(const Outcome& outcome) {
  if (outcome.completed()) return "ok";
  if (outcome.error == errc::options_declined) return make_error_code(outcome.error).message();
  if (outcome.received) {
    return fmt::format("client sent ERROR {}: {}", static_cast<unsigned>(outcome.received->code),
                       outcome.received->message);
  }
  const std::string why = make_error_code(outcome.error).message();
  if (outcome.sent) {
    return fmt::format("{}; sent ERROR {}: {}", why, static_cast<unsigned>(outcome.sent->code), outcome.sent->message);
  }
  return why;
}

std::string format_log_line(const LogEvent& event, LogFormat format, std::chrono::system_clock::time_point time) {
  std::string line;
  if (format == LogFormat::json) {
    line = fmt::format(R"({{"time":"{}","level":"{}","event":"{}")", utc_time(time), level_name(event.level),
                       escape_string(event.event));
    for (const auto& field : event.fields) {
      if (field.number) {
        line += fmt::format(R"(,"{}":{})", escape_string(field.key), field.value);
      } else {
        line += fmt::format(R"(,"{}":"{}")", escape_string(field.key), escape_string(field.value));
      }
    }
    line += '}';
    return line;
  }
  line = fmt::format("{} {} {}", utc_time(time), level_name(event.level), event.event);
  for (const auto& field : event.fields) {
    if (!field.number && needs_quotes(field.value)) {
      line += fmt::format(" {}=\"{}\"", field.key, escape_string(field.value));
    } else {
      line += fmt::format(" {}={}", field.key, field.value);
    }
  }
  return line;
}

ServerLog::ServerLog(LogFormat format, Verbosity verbosity, Sink sink)
    : format_(format), verbosity_(verbosity), sink_(std::move(sink)) {
  if (!sink_) {
    sink_ = [](std::string_view line) {
      std::fwrite(line.data(), 1, line.size(), stderr);
      std::fputc('\n', stderr);
    };
  }
}

void ServerLog::write(const LogEvent& event) {
  if (event.level == LogLevel::debug && verbosity_ != Verbosity::verbose) return;
  if (verbosity_ == Verbosity::quiet && event.level < LogLevel::warning) return;
  const std::lock_guard lock(mutex_);
  if (event.flood_class.empty() || verbosity_ == Verbosity::verbose) {  // -v: everything, for debugging
    emit(event);
    return;
  }
  auto& flood = floods_[event.flood_class];
  if (!flood.bucket.take(TokenBucket::Clock::now())) {
    ++flood.suppressed;
    return;
  }
  write_suppressed(event.flood_class, flood);
  emit(event);
}

void ServerLog::flush_suppressed() {
  const std::lock_guard lock(mutex_);
  for (auto& [class_name, flood] : floods_) write_suppressed(class_name, flood);
}

void ServerLog::write_suppressed(const std::string& class_name, Flood& flood) {
  if (flood.suppressed == 0) return;
  emit(LogEvent{LogLevel::warning, "suppressed", {}}
           .add("class", class_name)
           .add_number("lines", std::to_string(std::exchange(flood.suppressed, 0))));
}

void ServerLog::emit(const LogEvent& event) { sink_(format_log_line(event, format_, std::chrono::system_clock::now())); }

}  // namespace tftp::server
