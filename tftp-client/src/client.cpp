// get and put: open the local end, resolve the server, run the machine, turn its outcome into an exit class.
#include "tftp/client/client.hpp"
#include "tftp/asio/socket_buffers.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "local_file.hpp"
#include "transfer_driver.hpp"
#include "tftp/printable.hpp"
#include "tftp/transfer.hpp"

namespace tftp::client {
namespace {

using std::chrono::milliseconds;

milliseconds longest_timeout(const Settings& settings) { return std::max(settings.timeout, max_backoff_timeout); }

TransferConfig config_for(const Settings& settings) {
  TransferConfig config;
  config.initial_timeout = settings.timeout;
  config.min_timeout = std::min<Duration>(config.min_timeout, settings.timeout);
  config.max_timeout = longest_timeout(settings);
  config.max_retries = settings.retries;
  return config;
}

OptionList request_options(const Settings& settings, std::optional<std::uint64_t> tsize) {
  if (!settings.options) return {};
  ClientOptions wanted;
  wanted.block_size = settings.block_size;
  wanted.window_size = settings.window_size;
  if (settings.tsize) wanted.tsize = tsize;
  return make_request_options(wanted);
}

Report failure(Exit exit, std::string message) {
  Report outcome;
  outcome.exit = exit;
  outcome.message = std::move(message);
  return outcome;
}

std::string server_name(const Target& target) {
  return target.server.host.find(':') != std::string::npos
             ? fmt::format("[{}]:{}", target.server.host, target.server.port)
             : fmt::format("{}:{}", target.server.host, target.server.port);
}

std::string what_we_sent(const tftp::Outcome& outcome) {
  return outcome.sent ? fmt::format(" (sent ERROR {} \"{}\")", static_cast<unsigned>(outcome.sent->code),
                                    outcome.sent->message)
                      : std::string();
}

// The machine's outcome as an exit class and one line; local_detail names the file error behind local_io_error.
Report classify(const tftp::Outcome& machine, const Target& target, const Settings& settings,
                 const std::string& local_detail) {
  switch (machine.error) {
    case errc::peer_error: {
      const Error& error = machine.received.value_or(Error{});
      return failure(Exit::server_error, fmt::format("server error {}: {}", static_cast<unsigned>(error.code),
                                                     error.message.empty() ? std::string(default_message(error.code))
                                                                           : printable(error.message)));
    }
    case errc::timed_out:
      return failure(Exit::timed_out,
                     fmt::format("no answer from {} for {:.1f} s (the give-up time of timeout {} ms, {} retries)",
                                 server_name(target), std::chrono::duration<double>(give_up_after(settings)).count(),
                                 settings.timeout.count(), settings.retries));
    case errc::option_not_requested:
    case errc::option_out_of_range:
      return failure(Exit::protocol_error,
                     fmt::format("the server's OACK is not acceptable: {}{}", make_error_code(machine.error).message(),
                                 what_we_sent(machine)));
    case errc::protocol_violation:
    case errc::malformed_packet:
      return failure(Exit::protocol_error, fmt::format("protocol violation by the server: {}{}",
                                                       make_error_code(machine.error).message(), what_we_sent(machine)));
    case errc::local_io_error:
      return failure(Exit::local_error, fmt::format("\"{}\": {}{}", target.local, local_detail, what_we_sent(machine)));
    case errc::aborted:
      return failure(Exit::interrupted, "interrupted");
    default:  // the request itself could not be encoded (a name with NUL, or too long)
      return failure(Exit::usage, fmt::format("cannot send the request: {}", make_error_code(machine.error).message()));
  }
}

struct Link {
  asio::io_context io;
  asio::ip::udp::socket socket{io};
  asio::ip::udp::endpoint server;
};

// Resolves and opens the socket; an unknown host is a usage error, as a wrong argument is.
std::optional<Report> open_link(Link& link, const Target& target, const Settings& settings) {
  const auto family = settings.family == IpFamily::v4   ? net::Family::v4
                      : settings.family == IpFamily::v6 ? net::Family::v6
                                                        : net::Family::any;
  std::error_code ec;
  link.server = net::resolve_udp(net::EndpointSpec{target.server.host, target.server.port, family}, net::Use::connect, ec);
  if (ec) return failure(Exit::usage, fmt::format("cannot resolve \"{}\": {}", target.server.host, ec.message()));
  link.socket.open(link.server.protocol(), ec);
  if (ec) return failure(Exit::local_error, fmt::format("cannot open a UDP socket: {}", ec.message()));
  // Sized for the window asked for; the server can only lower it.
  if (settings.options && settings.window_size.value_or(1) > 1) {
    net::size_socket_buffers(link.socket, net::window_buffer_bytes(settings.block_size.value_or(default_block_size),
                                                                   *settings.window_size));
  }
  return std::nullopt;
}

// Runs the machine; fills what every outcome has. nullopt: the machine's outcome decides.
template <class Machine>
std::optional<Report> run(Link& link, Machine& machine, const Hooks& hooks, std::optional<std::uint64_t> total,
                          posix::FileSink* sink = nullptr) {
  detail::TransferDriver<Machine> driver(link.io, link.socket, link.server, machine, hooks, total, sink);
  const auto end = driver.run();
  if (end.socket_error) return failure(Exit::timed_out, fmt::format("network error: {}", end.socket_error.message()));
  if (end.interrupted) return failure(Exit::interrupted, "interrupted");
  return std::nullopt;
}

template <class Machine>
void finish(Report& outcome, const Machine& machine, Clock::time_point start) {
  outcome.negotiated = machine.negotiated();
  outcome.bytes = machine.counters().bytes;  // netascii: wire bytes, as the server counts them
  outcome.counters = machine.counters();
  outcome.round_trip = machine.smoothed_rtt();
  outcome.elapsed = Clock::now() - start;
}

void report_done(const Hooks& hooks, const Report& outcome, std::optional<std::uint64_t> total) {
  if (!hooks.progress || outcome.exit != Exit::success) return;
  hooks.progress(Progress{outcome.bytes, total, outcome.elapsed, true});
}

}  // namespace

std::chrono::milliseconds give_up_after(const Settings& settings) {
  return std::chrono::duration_cast<milliseconds>(give_up_time(config_for(settings)));
}

Report get(const Target& target, const Settings& settings, const Hooks& hooks) {
  const auto start = Clock::now();
  std::error_code ec;
  auto download = detail::Download::open(target.local, settings.mode, settings.max_size, ec);
  if (!download) return failure(Exit::local_error, fmt::format("cannot create \"{}\": {}", target.local, ec.message()));
  Link link;
  if (auto refused = open_link(link, target, settings)) return *refused;

  // A netascii size is ambiguous (disk or wire bytes) and tftpd-hpa refuses the whole request with ERROR 8
  // when it is asked for one, so a netascii get does not ask.
  const auto ask_tsize = settings.mode == Mode::octet ? std::optional<std::uint64_t>(0) : std::nullopt;
  Rrq request{target.remote, settings.mode, request_options(settings, ask_tsize)};
  auto machine = Receiver::client_read(std::move(request), download->sink(), config_for(settings), Clock::now());
  auto outcome = run(link, machine, hooks, std::nullopt, &download->sink());
  if (!outcome && !machine.outcome().completed()) {
    const auto local = download->failure() ? download->failure().message() : "cannot write";
    outcome = classify(machine.outcome(), target, settings, local);
  }
  if (!outcome) {
    outcome.emplace();
    if ((ec = download->deliver())) return failure(Exit::local_error, fmt::format("cannot write to stdout: {}", ec.message()));
  }
  finish(*outcome, machine, start);
  const auto tsize = machine.negotiated().tsize;
  if (outcome->exit == Exit::success && tsize && *tsize != outcome->bytes) {
    outcome->warning = fmt::format("the server announced {} bytes (tsize) but sent {}", *tsize, outcome->bytes);
  }
  report_done(hooks, *outcome, tsize);
  return *outcome;
}

Report put(const Target& target, const Settings& settings, const Hooks& hooks) {
  const auto start = Clock::now();
  std::error_code ec;
  auto source = detail::open_upload(target.local, settings.mode, settings.tsize && settings.options, ec);
  if (!source) return failure(Exit::local_error, fmt::format("cannot read \"{}\": {}", target.local, ec.message()));
  Link link;
  if (auto refused = open_link(link, target, settings)) return *refused;

  const auto size = source->tsize();
  Wrq request{target.remote, settings.mode, request_options(settings, size)};
  auto machine = Sender::client_write(std::move(request), *source, config_for(settings), Clock::now());
  auto outcome = run(link, machine, hooks, size);
  if (!outcome && !machine.outcome().completed()) {
    outcome = classify(machine.outcome(), target, settings, "cannot read");
  }
  if (!outcome) outcome.emplace();
  finish(*outcome, machine, start);
  report_done(hooks, *outcome, size);
  return *outcome;
}

}  // namespace tftp::client
