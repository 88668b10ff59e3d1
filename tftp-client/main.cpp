// tftp-client: get and put files over TFTP. Argument parsing and printing only; the work is in
// tftp/client/client.hpp.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "tftp/client/client.hpp"
#include "tftp/client/summary.hpp"
#include "tftp/codec.hpp"
#include "tftp/version.hpp"

namespace {

using namespace tftp::client;
using Clock = std::chrono::steady_clock;

struct Cli {
  Settings settings;
  double timeout_s = 1.0;
  bool no_tsize = false;
  bool ipv4 = false;
  bool ipv6 = false;
  bool verbose = false;
  bool quiet = false;
  bool stats = false;
  bool json = false;
  std::optional<bool> progress;
  std::string mode = "octet";
  std::string max_size = "64G";
  std::vector<std::string> positionals;
};

void add_common_options(CLI::App& command, Cli& cli) {
  command.add_option("-b,--blksize", cli.settings.block_size, "block size to ask for (8-65464, default 1428); the server may refuse, then 512")
      ->check(CLI::Range(8, 65464))
      ->capture_default_str();
  command.add_option("-w,--windowsize", cli.settings.window_size, "blocks per window to ask for (RFC 7440; default 8; 1: lock-step); a server may grant fewer")
      ->check(CLI::Range(1, 65535));
  command.add_option("-t,--timeout", cli.timeout_s, "first retransmission timeout in seconds, then measured (0.01-255)")
      ->check(CLI::Range(0.01, 255.0))
      ->capture_default_str();
  command.add_option("-r,--retries", cli.settings.retries, "give up when the server was silent for 1 + N waits, from --timeout doubling up to 8 s")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  command.add_flag("!--no-tsize,--tsize{true}", cli.settings.tsize, "ask for (get) or announce (put) the size; on by default");
  command.add_flag("!--no-options", cli.settings.options, "a plain RFC 1350 request without options, for old servers");
  command.add_option("--max-size", cli.max_size, "get: the largest file kept, e.g. 512M (larger: ERROR 3 to the server, exit 4)")
      ->check([](const std::string& text) {
        return tftp::parse_size(text) ? std::string() : "a size like 4096, 512K, 10M, 2G";
      })
      ->capture_default_str();
  command.add_option("-m,--mode", cli.mode, "transfer mode")->check(CLI::IsMember({"octet", "netascii"}))->capture_default_str();
  auto* v4 = command.add_flag("-4", cli.ipv4, "IPv4 only");
  command.add_flag("-6", cli.ipv6, "IPv6 only")->excludes(v4);
  auto* verbose = command.add_flag("-v,--verbose", cli.verbose, "packet trace on stderr");
  command.add_flag("-q,--quiet", cli.quiet, "print nothing but errors")->excludes(verbose);
  command.add_flag("--progress,!--no-progress", cli.progress, "bytes, rate and ETA on stderr (default: when stderr is a terminal)");
  command.add_flag("--stats", cli.stats, "after the transfer, one line on stderr: bytes, time, rate, blksize, windowsize, "
                                         "retransmissions, timeouts, duplicates, round trip (also with -v)");
  command.add_flag("--json", cli.json, "after the transfer, success or not, one JSON object on stdout (on stderr when "
                                       "the data goes to stdout): operation, server, names, exit, result, bytes, "
                                       "seconds, blksize, windowsize, retransmissions, timeouts, duplicates, srtt_ms");
  command.add_option("args", cli.positionals, "see above")->required();
}

// Options are stored before --help is handled, so the stated give-up time is the one for the given -t and -r.
std::string footer(const Cli& cli) {
  Settings settings = cli.settings;
  settings.timeout = std::chrono::milliseconds(std::lround(cli.timeout_s * 1000));
  const auto seconds = std::chrono::duration<double>(give_up_after(settings)).count();
  return fmt::format(
      "LOCAL defaults to REMOTE's base name on get, REMOTE to LOCAL's on put; \"-\" is stdout/stdin.\n"
      "A get goes to a temporary file renamed onto LOCAL on success only; to stdout nothing is written\n"
      "unless the whole file arrived.\n"
      "A silent server: exit 3 after {:.1f} s of silence for -t {:g} -r {} (1 + r waits, each doubled up to 8 s);\n"
      "measured round trips only decide how often a packet is resent inside that time.\n"
      "Exit codes: {}.",
      seconds, cli.timeout_s, settings.retries, exit_code_summary());
}

std::string human(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  std::size_t unit = 0;
  while (bytes >= 1024 && unit + 1 < std::size(units)) bytes /= 1024, ++unit;
  return unit == 0 ? fmt::format("{:.0f} {}", bytes, units[unit]) : fmt::format("{:.1f} {}", bytes, units[unit]);
}

Hooks make_hooks(const Cli& cli) {
  Hooks hooks;
  if (cli.verbose) hooks.trace = [](std::string_view line) { fmt::print(stderr, "{}\n", line); };
  const bool progress = !cli.quiet && cli.progress.value_or(::isatty(STDERR_FILENO) != 0);
  if (!progress) return hooks;
  hooks.progress = [last = Clock::duration::min()](const Progress& p) mutable {
    if (!p.done && p.elapsed - last < std::chrono::milliseconds(200)) return;
    last = p.elapsed;
    const double seconds = std::chrono::duration<double>(p.elapsed).count();
    const double rate = seconds > 0 ? static_cast<double>(p.bytes) / seconds : 0.0;
    std::string line = fmt::format("{} {}/s", human(static_cast<double>(p.bytes)), human(rate));
    if (p.total && *p.total > 0) {
      const double fraction = static_cast<double>(p.bytes) / static_cast<double>(*p.total);
      line += fmt::format(" {:3.0f}% of {}", 100 * fraction, human(static_cast<double>(*p.total)));
      if (rate > 0 && !p.done) line += fmt::format(" ETA {:.0f} s", static_cast<double>(*p.total - std::min(*p.total, p.bytes)) / rate);
    }
    fmt::print(stderr, "\r{:<60}{}", line, p.done ? "\n" : "");
  };
  return hooks;
}

int run(Operation operation, Cli& cli) {
  auto target = resolve_target(operation, cli.positionals);
  if (!target) {
    fmt::print(stderr, "tftp-client: {}\n", target.error().message);
    return static_cast<int>(Exit::usage);
  }
  auto& resolved = *target;
  cli.settings.mode = resolved.mode.value_or(cli.mode == "netascii" ? tftp::Mode::netascii : tftp::Mode::octet);
  cli.settings.timeout = std::chrono::milliseconds(std::lround(cli.timeout_s * 1000));
  cli.settings.family = cli.ipv4 ? IpFamily::v4 : cli.ipv6 ? IpFamily::v6 : IpFamily::any;
  cli.settings.max_size = tftp::parse_size(cli.max_size);
  const auto outcome = operation == Operation::get ? get(resolved, cli.settings, make_hooks(cli))
                                                   : put(resolved, cli.settings, make_hooks(cli));
  if (cli.json) {
    // The summary must not mix with the file's bytes when they go to stdout.
    std::FILE* out = operation == Operation::get && resolved.local == "-" ? stderr : stdout;
    fmt::print(out, "{}\n", json_summary(operation, resolved, outcome));
    std::fflush(out);
  }
  if (outcome.exit != Exit::success) {
    fmt::print(stderr, "tftp-client: {}\n", outcome.message);
    if (cli.stats) fmt::print(stderr, "{}\n", stats_line(operation, outcome));
    return static_cast<int>(outcome.exit);
  }
  if (outcome.warning) fmt::print(stderr, "tftp-client: warning: {}\n", *outcome.warning);
  if (cli.verbose || cli.stats) fmt::print(stderr, "{}\n", stats_line(operation, outcome));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tftp-client: get and put files over TFTP (RFC 1350, 2347-2349, 7440, 3617 URLs)"};
  app.set_version_flag("--version", std::string("tftp-client ") + tftp::version);
  app.require_subcommand(1);
  Cli cli;
  auto* get_command = app.add_subcommand("get", "download: get [OPTIONS] HOST[:PORT] REMOTE [LOCAL] | get [OPTIONS] tftp://HOST[:PORT]/REMOTE[;mode=netascii] [LOCAL]");
  auto* put_command = app.add_subcommand("put", "upload: put [OPTIONS] HOST[:PORT] LOCAL [REMOTE] | put [OPTIONS] LOCAL tftp://HOST[:PORT]/REMOTE");
  add_common_options(*get_command, cli);
  add_common_options(*put_command, cli);
  for (auto* command : {&app, get_command, put_command}) command->footer([&cli] { return footer(cli); });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : static_cast<int>(Exit::usage);
  }
  return run(get_command->parsed() ? Operation::get : Operation::put, cli);
}
