#pragma once
// Everything tftp-server can be told, and the parsers for the command-line forms that are not plain
// numbers. The parsers never throw: they answer nullopt for text they do not accept.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tftp/address.hpp"
#include "tftp/options.hpp"

namespace tftp::server {

inline constexpr std::uint64_t default_max_upload = std::uint64_t{8} << 30;

// --windowsize-max with --single-port unless given (and --blksize-max mtu): what one forged ACK can draw.
inline constexpr std::uint16_t single_port_window_max = 8;

// "127.0.0.1:6969", "[::1]:6969", ":6969" (any address): tftp::parse_host_port's address_form. host is empty
// for "any": the server then binds [::] dual-stack, or 0.0.0.0 where the host has no IPv6. Hosts are numeric
// addresses; port 0 picks one.
using ListenAddress = HostPort;
std::optional<ListenAddress> parse_listen_address(std::string_view text);

// "LO:HI", 1 <= LO <= HI <= 65535: the ports transfer sessions answer from.
struct PortRange {
  std::uint16_t low = 0;
  std::uint16_t high = 0;
  friend bool operator==(const PortRange&, const PortRange&) = default;
};
std::optional<PortRange> parse_port_range(std::string_view text);

// Sizes: tftp::parse_size (codec.hpp).

// Octal "022", "0027", "7": 0 to 0777.
std::optional<unsigned> parse_umask(std::string_view text);

// --blksize-max: a number 8-65464, or "mtu" (the largest block that fits the MTU of the interface a
// request is answered from; see block_size_for_mtu in server_names.hpp).
struct BlockSizeMax {
  bool from_mtu = false;
  std::uint16_t value = tftp::max_block_size;  // when !from_mtu
  friend bool operator==(const BlockSizeMax&, const BlockSizeMax&) = default;
};
std::optional<BlockSizeMax> parse_block_size_max(std::string_view text);

// --unique-root: "ip" (dnsmasq's tftp-unique-root: ROOT/<client>/ when it exists, else ROOT, where a name may
// not start with another client's directory) or "ip-strict" (ROOT/<client>/, else ROOT/default/ when it
// exists, else nothing). dnsmasq's "mac" form needs the DHCP server's lease table.
enum class UniqueRoot { none, ip, ip_strict };
std::optional<UniqueRoot> parse_unique_root(std::string_view text);

enum class LogFormat { text, json };
enum class Verbosity { quiet, normal, verbose };

struct ServerConfig {
  std::vector<ListenAddress> listen;  // empty: the sockets systemd passed (LISTEN_FDS), else port 69 on any
  std::string root = ".";
  bool allow_create = false;     // a WRQ may create a file (otherwise ERROR 2)
  bool allow_overwrite = false;  // a WRQ may replace a file (otherwise ERROR 6)
  // blksize/windowsize limits and max_upload (policy.max_upload) for negotiation.
  // A client's timeout option above max_timeout_s (--timeout-max) is ignored (RFC 2349 lets the server).
  // --max-upload defaults to 8 GiB: above any firmware or boot image a lab uploads, below what a disk takes
  // without filling up; an upload announcing more than the file system has free is refused as well.
  ServerPolicy policy{.max_block_size = tftp::max_block_size,
                      .max_window_size = 64,
                      .max_timeout_s = 10,
                      .max_upload = default_max_upload};
  std::chrono::milliseconds timeout{1000};  // retransmission timeout unless the client negotiates one
  unsigned retries = 5;                     // retransmissions of one packet before giving up
  // Measure round trips and adapt the timeout (RFC 6298); off: `timeout` with backoff (tests want it fixed).
  bool adaptive_timeout = true;
  // How often a packet goes out again while the client has not shown that it receives what the server sends
  // (TransferConfig, Reach: for a download an ACK of DATA beyond the first window, for an upload its first
  // DATA): a spoofed request makes the server send each packet at most 1 + initial_resends times.
  unsigned initial_resends = 2;
  std::size_t max_sessions = 1000;
  // Threads the sessions are sharded over (server.hpp); 0: one per CPU the process may use. The program's
  // default is 0; a Server made in a program or test has one unless told.
  unsigned workers = 1;
  // Running transfers per client: an IPv4 address or an IPv6 /64. What one host needs; a NAT in front of
  // many clients needs more.
  std::size_t max_sessions_per_client = 8;
  std::optional<PortRange> port_range;
  // Drop to this user after binding; unset and started as root: nobody. "root" keeps root (a warning).
  std::optional<std::string> user;
  unsigned umask = 022;
  Verbosity verbosity = Verbosity::normal;
  LogFormat log_format = LogFormat::text;
  std::chrono::milliseconds grace{3000};  // after SIGINT/SIGTERM, how long running transfers may go on
  // tftpd-hpa remap rules (remap.hpp), applied to every requested name before confinement; SIGHUP re-reads.
  std::optional<std::string> map_file;
  // How a requested name becomes a file, in this order (server_names.hpp): trailing 0xFF bytes dropped,
  // map-file rules, lower case (lowercase), leading separators dropped, then confinement beneath
  // ROOT/<client address>/ when unique_root finds that directory there, else beneath ROOT.
  bool lowercase = false;  // ASCII A-Z to a-z (dnsmasq's tftp-lowercase)
  UniqueRoot unique_root = UniqueRoot::none;
  // Cap blksize per request by the MTU of the interface the answer leaves by (policy.max_block_size
  // is then not used).
  bool block_size_from_mtu = false;
  // Every transfer answers from the listening socket, demultiplexed by client address and port (dnsmasq's
  // tftp-single-port): one firewall/NAT rule. port_range is then unused.
  bool single_port = false;
  // --metrics ADDR:PORT: Prometheus text exposition at /metrics (metrics.hpp); unset: no metrics server.
  std::optional<HostPort> metrics;
  // --on-transfer CMD (hooks.hpp): a program and its arguments run after each transfer; empty: none.
  std::vector<std::string> on_transfer;
  std::size_t hook_max_running = 4;
  std::chrono::milliseconds hook_timeout{30'000};
  // --origin URL (repeatable, http or https): a name not in ROOT (every name with origin_only) is fetched
  // from URL + name through the cache in cache_dir (origin_content.hpp); later URLs are fallbacks for an
  // origin that cannot be reached or answers 5xx. Empty: ROOT only.
  std::vector<std::string> origins;
  bool origin_only = false;
  std::string cache_dir;                           // required with origins; survives restarts
  std::uint64_t cache_size = std::uint64_t{1} << 30;  // bytes of complete files kept, least recently used out first
  std::chrono::seconds cache_ttl{60};              // a cached file is revalidated (ETag, Last-Modified) after this
  std::string origin_ca;                           // a CA bundle for https origins; empty: the system's
  // No byte from the origin for this long (connect, first byte, or mid-body) fails the fetch: the clients
  // waiting get ERROR 0 "origin unavailable" well before a boot ROM gives up.
  std::chrono::milliseconds origin_timeout{10'000};
};

}  // namespace tftp::server
