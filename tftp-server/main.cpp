// tftp-server: serve a directory over TFTP. Argument parsing and printing only; the work is in
// tftp/server/server.hpp.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "tftp/codec.hpp"
#include "tftp/server/hooks.hpp"
#include "tftp/server/server.hpp"
#include "tftp/version.hpp"

namespace {

using namespace tftp::server;
using tftp::parse_size;

// CLI11 validators built on the library's parsers, so the command line and the tests agree on the forms.
template <class Parse>
CLI::Validator form(Parse parse, std::string description) {
  return CLI::Validator(
      [parse, description](std::string& text) {
        return parse(text) ? std::string() : fmt::format("{} is not {}", text, description);
      },
      description);
}

struct Cli {
  ServerConfig config;
  std::vector<std::string> listen;
  std::string max_upload;
  std::string port_range;
  std::string blksize_max = "65464";
  std::string unique_root;
  std::string umask = "022";
  std::string log_format = "text";
  std::vector<std::string> refuse;
  std::string metrics;
  std::string on_transfer;
  double hook_timeout_s = 30.0;
  double timeout_s = 1.0;
  unsigned timeout_max_s = 10;
  double grace_s = 3.0;
  std::string cache_size = "1G";
  unsigned cache_ttl_s = 60;
  double origin_timeout_s = 10.0;
  bool verbose = false;
  bool quiet = false;
};

void add_options(CLI::App& app, Cli& cli) {
  auto& c = cli.config;
  app.add_option("ROOT", c.root, "directory to serve")->capture_default_str();
  app.add_option("-l,--listen", cli.listen,
                 "ADDR:PORT to serve on, repeatable: 127.0.0.1:6969, [::1]:6969, :6969 (any address).\n"
                 "Default: the sockets systemd passes (LISTEN_FDS), else [::]:69 dual-stack (0.0.0.0:69 without IPv6)")
      ->check(form(parse_listen_address, "ADDR:PORT"))
      ->allow_extra_args(false);  // one address per -l, so that ROOT after it stays ROOT
  app.add_flag("--create", c.allow_create, "a WRQ may create a new file (default: read-only, WRQ gets ERROR 2)");
  app.add_flag("--overwrite", c.allow_overwrite, "a WRQ may replace an existing file (otherwise ERROR 6)");
  app.add_option("--max-upload", cli.max_upload,
                 "largest upload, e.g. 10M, 2G; default 8G (larger, or larger than the free space: ERROR 3, nothing kept)")
      ->check(form(parse_size, "a size like 4096, 512K, 10M, 2G"));
  app.add_option("--blksize-max", cli.blksize_max,
                 "largest block size granted (RFC 2348): 8-65464, or mtu (what fits the interface's MTU); "
                 "with --single-port the default is mtu")
      ->check(form(parse_block_size_max, "8-65464 or mtu"))->capture_default_str();
  app.add_option("--windowsize-max", c.policy.max_window_size,
                 "largest window granted (RFC 7440); with --single-port the default is 8")
      ->check(CLI::Range(1, 65535))->capture_default_str();
  app.add_option("--refuse", cli.refuse,
                 "never grant this option, repeatable: blksize, tsize, timeout, windowsize (tftpd-hpa -r)")
      ->check(CLI::IsMember({"blksize", "tsize", "timeout", "windowsize"}, CLI::ignore_case))
      ->allow_extra_args(false);
  app.add_option("--timeout", cli.timeout_s, "first retransmission timeout in seconds, then measured; a client's RFC 2349 timeout is used as is (0.01-255)")
      ->check(CLI::Range(0.01, 255.0))->capture_default_str();
  app.add_option("--timeout-max", cli.timeout_max_s,
                 "largest timeout a client may ask for (RFC 2349 timeout option, 1-255); above it the option is ignored")
      ->check(CLI::Range(1, 255))->capture_default_str();
  app.add_option("--unanswered-resends", c.initial_resends,
                 "resends of a packet while the client has not shown it receives what is sent (bounds reflection)")
      ->check(CLI::Range(0, 100))->capture_default_str();
  app.add_option("--retries", c.retries, "a transfer is given up when its client was silent for 1 + N waits, from --timeout doubling up to 8 s")
      ->check(CLI::Range(0, 100))->capture_default_str();
  app.add_option("--max-sessions", c.max_sessions,
                 "sessions at once; at the limit the oldest never-answered one makes room, else ERROR 0 \"server busy\"")
      ->check(CLI::Range(1, 100000))->capture_default_str();
  c.workers = 0;
  app.add_option("--workers", c.workers,
                 "threads sharing the sessions, each with its own sockets (SO_REUSEPORT); 0: one per usable CPU")
      ->check(CLI::Range(0, 1024))->capture_default_str();
  app.add_option("--max-sessions-per-client", c.max_sessions_per_client,
                 "running transfers from one IPv4 address or IPv6 /64 (loopback exempt); raise it behind a NAT")
      ->check(CLI::Range(1, 100000))->capture_default_str();
  auto* port_range =
      app.add_option("--port-range", cli.port_range, "LO:HI, the UDP ports transfers answer from (for firewalls)")
          ->check(form(parse_port_range, "LO:HI with 1 <= LO <= HI <= 65535"));
  app.add_flag("--single-port", c.single_port, "every transfer answers from the listening port (one firewall rule)")
      ->excludes(port_range);
  app.add_option("-u,--user", c.user,
                 "drop to this user (and its groups) once the sockets are bound; started as root: nobody by default, "
                 "root keeps root");
  app.add_option("--umask", cli.umask, "umask for uploaded files, octal (new files get 0666 & ~MASK)")
      ->check(form(parse_umask, "an octal mask like 022"))->capture_default_str();
  app.add_option("--map-file", c.map_file, "tftpd-hpa remap rules applied to requested names (re-read on SIGHUP)")
      ->check(CLI::ExistingFile);
  app.add_flag("--lowercase", c.lowercase, "fold A-Z to a-z in requested names, after the map-file rules");
  app.add_option("--unique-root", cli.unique_root,
                 "ip: serve ROOT/<client address>/ to a client that has one (others: ROOT, but no other client's "
                 "directory); ip-strict: others get ROOT/default/ or nothing")
      ->check(form(parse_unique_root, "ip or ip-strict"));
  app.add_option("--grace", cli.grace_s, "seconds running transfers may go on after SIGINT/SIGTERM")
      ->check(CLI::Range(0.0, 3600.0))->capture_default_str();
  auto* verbose = app.add_flag("-v,--verbose", cli.verbose, "log every packet");
  app.add_flag("-q,--quiet", cli.quiet, "log warnings and errors only")->excludes(verbose);
  app.add_option("--log-format", cli.log_format, "log lines as text or JSON objects")
      ->check(CLI::IsMember({"text", "json"}))->capture_default_str();
  app.add_option("--metrics", cli.metrics,
                 "ADDR:PORT to serve Prometheus metrics on (GET /metrics), e.g. 127.0.0.1:9169; off by default")
      ->check(form([](std::string_view text) { return tftp::parse_host_port(text, tftp::address_form).has_value(); },
                   "ADDR:PORT"));
  app.add_option("--on-transfer", cli.on_transfer,
                 "program (and arguments, split on spaces; no shell) run after each transfer or refused request, with TFTP_CLIENT, "
                 "TFTP_FILE, TFTP_DIRECTION, TFTP_BYTES, TFTP_RESULT, TFTP_SECONDS, TFTP_BLKSIZE, TFTP_WINDOWSIZE, "
                 "TFTP_RETRANSMISSIONS in its environment");
  app.add_option("--hook-max", c.hook_max_running, "--on-transfer programs running at once (more wait, up to 256)")
      ->check(CLI::Range(1, 1024))->capture_default_str();
  app.add_option("--hook-timeout", cli.hook_timeout_s, "seconds an --on-transfer program may run before it is killed")
      ->check(CLI::Range(0.1, 3600.0))->capture_default_str();
  auto* origin = app.add_option("--origin", c.origins,
                                "http(s) URL a name ROOT lacks is fetched from (URL + name), through the cache; "
                                "repeatable: later ones are fallbacks when one cannot be reached or answers 5xx")
                     ->check(form([](std::string_view text) {
                       return text.starts_with("http://") || text.starts_with("https://");
                     }, "an http:// or https:// URL"))
                     ->allow_extra_args(false);
  app.add_flag("--origin-only", c.origin_only, "serve every name from --origin, none from ROOT (uploads still go to ROOT)")
      ->needs(origin);
  auto* cache_dir = app.add_option("--cache-dir", c.cache_dir, "where fetched files are kept (created if missing; survives restarts)");
  origin->needs(cache_dir);
  app.add_option("--cache-size", cli.cache_size, "bytes of fetched files kept (K, M, G), least recently used out first")
      ->check(form([](std::string_view text) { return parse_size(text).has_value(); }, "a size like 512M"))
      ->capture_default_str();
  app.add_option("--cache-ttl", cli.cache_ttl_s, "seconds a cached file is served before it is revalidated (ETag, Last-Modified)")
      ->check(CLI::Range(0U, 31'536'000U))->capture_default_str();
  app.add_option("--origin-ca", c.origin_ca, "CA bundle (PEM) for https origins; default: the system's")
      ->check(CLI::ExistingFile);
  app.add_option("--origin-timeout", cli.origin_timeout_s,
                 "seconds without a byte from the origin (connect, first byte, mid-file) before its clients get ERROR 0")
      ->check(CLI::Range(0.1, 300.0))->capture_default_str();
}

ServerConfig finish(Cli& cli, const CLI::App& app) {
  auto config = std::move(cli.config);
  // Single-port: the well-known port makes ACKs easy to forge, so the defaults draw less per forged ACK.
  if (config.single_port && app.get_option("--blksize-max")->count() == 0) cli.blksize_max = "mtu";
  if (config.single_port && app.get_option("--windowsize-max")->count() == 0) {
    config.policy.max_window_size = single_port_window_max;
  }
  for (const auto& text : cli.listen) config.listen.push_back(*parse_listen_address(text));
  if (!cli.max_upload.empty()) config.policy.max_upload = parse_size(cli.max_upload);
  if (!cli.port_range.empty()) config.port_range = parse_port_range(cli.port_range);
  const auto block_size_max = *parse_block_size_max(cli.blksize_max);
  config.block_size_from_mtu = block_size_max.from_mtu;
  if (!block_size_max.from_mtu) config.policy.max_block_size = block_size_max.value;
  if (!cli.unique_root.empty()) config.unique_root = *parse_unique_root(cli.unique_root);
  config.umask = *parse_umask(cli.umask);
  for (const auto& option : cli.refuse) refuse_option(config.policy.refused, option);
  config.timeout = std::chrono::milliseconds(std::lround(cli.timeout_s * 1000));
  config.policy.max_timeout_s = static_cast<std::uint8_t>(cli.timeout_max_s);
  config.grace = std::chrono::milliseconds(std::lround(cli.grace_s * 1000));
  config.verbosity = cli.verbose ? Verbosity::verbose : cli.quiet ? Verbosity::quiet : Verbosity::normal;
  config.log_format = cli.log_format == "json" ? LogFormat::json : LogFormat::text;
  if (!cli.metrics.empty()) config.metrics = *tftp::parse_host_port(cli.metrics, tftp::address_form);
  config.on_transfer = split_command(cli.on_transfer);
  config.hook_timeout = std::chrono::milliseconds(std::lround(cli.hook_timeout_s * 1000));
  config.cache_size = *parse_size(cli.cache_size);
  config.cache_ttl = std::chrono::seconds(cli.cache_ttl_s);
  config.origin_timeout = std::chrono::milliseconds(std::lround(cli.origin_timeout_s * 1000));
  return config;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tftp-server: serve ROOT over TFTP (RFC 1350, 2347-2349, 7440), read-only unless --create/--overwrite"};
  app.set_version_flag("--version", std::string("tftp-server ") + tftp::version);
  app.footer(
      "Names resolve beneath ROOT only: \"..\", control characters and symlinks leaving ROOT are refused.\n"
      "A leading slash or backslash names ROOT (\"/x\" is ROOT/x, as with tftpd-hpa -s and dnsmasq); a backslash\n"
      "is a path separator; trailing 0xFF bytes (some UEFI PXE firmware) are dropped.\n"
      "Uploads appear only when complete.\n"
      "Patience: a silent client is waited for 1 + --retries waits, from --timeout doubling up to 8 s (31 s by\n"
      "default); measured round trips only decide how often a packet is resent inside that time.\n"
      "SIGINT/SIGTERM: stop taking requests, let transfers finish within --grace, exit 0.");
  Cli cli;
  add_options(app, cli);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; a usage error exits 2 as usual for command-line tools.
    const int status = app.exit(e);
    return status == 0 ? 0 : 2;
  }
  try {
    return run_server(finish(cli, app));
  } catch (const std::exception& e) {
    fmt::print(stderr, "tftp-server: {}\n", e.what());
    return 1;
  }
}
