#include "tftp/asio/server.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <stdexcept>
#include <system_error>

#include <sys/statvfs.h>
#include <unistd.h>

#include <asio/ip/v6_only.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include "datagram_batch.hpp"
#include "local_address.hpp"
#include "server_session.hpp"
#include "server_system.hpp"
#include "tftp/asio/admission.hpp"
#include "tftp/asio/endpoint.hpp"
#include "tftp/asio/remap.hpp"
#include "tftp/asio/server_names.hpp"
#include "tftp/asio/socket_buffers.hpp"
#include "tftp/codec.hpp"

namespace tftp::server {

namespace {

using asio::ip::udp;

// The first window where ACKs are easy to forge: a window of 8 blocks of 1468 still goes out whole.
constexpr std::size_t guessable_port_first_window = 16 * 1024;

TransferConfig transfer_config(const ServerConfig& config) {
  TransferConfig transfer;
  transfer.initial_timeout = config.timeout;
  transfer.min_timeout = std::min<Duration>(transfer.min_timeout, config.timeout);
  transfer.max_timeout = std::max<Duration>(transfer.max_timeout, config.timeout);
  transfer.max_retries = config.retries;
  transfer.adaptive = config.adaptive_timeout;
  transfer.unanswered_resends = config.initial_resends;
  // Where the port a client must answer to is known (the listening port, or one of a few), forging its ACKs
  // takes no guessing: the first window is then small (TransferConfig, Reach). A port per session out of
  // the ephemeral range is a 1 in ~28000 guess per forged ACK.
  if (config.single_port || (config.port_range && config.port_range->high - config.port_range->low < 1024)) {
    transfer.first_window_bytes = guessable_port_first_window;
  }
  return transfer;  // an upload dallies for the give-up time: a client as patient as we are is answered
}

Error busy() { return Error{ErrorCode::not_defined, "server busy"}; }

// Single-port mode: one buffer takes every client's DATA, so it holds any UDP datagram; the other sockets
// only take requests, and one byte over max_request_size shows an over-long one as such.
std::size_t listener_buffer_size(bool single_port) { return single_port ? 65536 : max_request_size + 1; }

// Datagrams read per system call on a listening socket, and calls per wake-up.
constexpr std::size_t listener_batch_count = 8;
constexpr unsigned listener_batches_per_wake = 4;

// A boot storm's requests arrive at once: room for a few thousand before the kernel drops any (the default,
// about 208 KiB, holds some 200). In single-port mode every window of every transfer arrives there too.
constexpr std::size_t listener_socket_buffer = std::size_t{4} << 20;
constexpr std::size_t single_port_socket_buffer = std::size_t{8} << 20;

// What --max-sessions-per-client counts: an IPv4 address (also on the dual-stack socket), or an IPv6 /64, the
// prefix one host or one site holds (an attacker with a /64 has 2^64 addresses to rotate through). Loopback
// clients are this host's own programs (the kernel drops 127/8 and ::1 sources arriving from outside): they
// count only against --max-sessions, so local tools and load generators work with the defaults.
std::optional<asio::ip::address> client_key(const asio::ip::address& address) {
  if (address.is_loopback()) return std::nullopt;
  if (address.is_v4()) return address;
  const auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) {
    const auto v4 = asio::ip::make_address_v4(asio::ip::v4_mapped, v6);
    if (v4.is_loopback()) return std::nullopt;
    return v4;
  }
  auto bytes = v6.to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), std::uint8_t{0});
  return asio::ip::address_v6(bytes);
}

// ERROR 5 replies to strangers, all sessions together: a burst, then this many per second.
constexpr double stranger_replies_per_second = 50;

// --unique-root ip-strict: the tree for clients without a directory of their own.
constexpr const char* strict_default_directory = "default";

// Open files per session (its socket, the file, an upload's directory) and for the rest of the server
// (listeners, epoll, timers, logs), for the RLIMIT_NOFILE the server raises itself to.
constexpr std::uint64_t files_per_session = 3;
constexpr std::uint64_t spare_files = 64;

// The largest netascii file whose wire size is counted for tsize (about 4 ms of the event loop).
constexpr std::uint64_t netascii_tsize_limit = std::uint64_t{1} << 20;

// Without an interface to ask (the address went away), the common Ethernet MTU.
constexpr unsigned fallback_mtu = 1500;

}  // namespace

struct Server::Impl final : SessionHost {
  struct Listener {
    Impl* owner = nullptr;  // null once the server is gone: a late handler must not touch it
    udp::socket socket;
    udp::endpoint local;
    net::DatagramBatch batch;  // with each datagram's local address
  };

  // Where a datagram on a listening socket came from and which local address it was sent to: every answer
  // to it leaves from that address.
  struct Arrival {
    Listener& listener;
    udp::endpoint client;
    std::optional<net::LocalAddress> local;
  };

  Impl(asio::io_context& io, const ServerConfig& config, ServerLog& log)
      : io_(io), config_(config), log_(log), root_(config.root), grace_timer_(io),
        transfer_(transfer_config(config)),
        admission_(AdmissionLimits{config.max_sessions, config.max_sessions_per_client}) {
    if (config_.map_file) {
      auto loaded = RemapRules::load(*config_.map_file);
      if (auto* error = std::get_if<RemapError>(&loaded)) throw std::runtime_error(error->to_string());
      rules_ = std::make_shared<const RemapRules>(std::get<RemapRules>(std::move(loaded)));
    }
    if (config_.listen.empty()) {
      for (auto& socket : adopt_systemd_sockets(io_)) add_listener(std::move(socket));
    }
    if (listeners_.empty()) {
      auto addresses = config_.listen;
      if (addresses.empty()) addresses.push_back(ListenAddress{"", default_server_port});
      for (const auto& address : addresses) bind_listener(address);
    }
    open_files_ = raise_open_files_limit(files_per_session * config_.max_sessions + spare_files);
  }

  ~Impl() override {
    for (auto& listener : listeners_) {
      listener->owner = nullptr;
      std::error_code ignored;
      listener->socket.close(ignored);
    }
    for (auto& [client, session] : sessions_) session->detach();
  }

  // ---- Listening sockets -------------------------------------------------------------------------

  void bind_listener(const ListenAddress& address) {
    udp::socket socket(io_);
    udp::endpoint endpoint;
    std::error_code ec;
    if (address.host.empty()) {
      // [::] dual-stack where the host has IPv6, 0.0.0.0 otherwise.
      socket.open(udp::v6(), ec);
      if (!ec) {
        socket.set_option(asio::ip::v6_only(false), ec);
        endpoint = udp::endpoint(udp::v6(), address.port);
      } else {
        socket.open(udp::v4());
        endpoint = udp::endpoint(udp::v4(), address.port);
      }
    } else {
      const auto ip = asio::ip::make_address(address.host, ec);
      if (ec) throw std::system_error(ec, "listen address " + address.host);
      endpoint = udp::endpoint(ip, address.port);
      socket.open(endpoint.protocol());
    }
    socket.bind(endpoint, ec);
    if (ec) throw std::system_error(ec, "cannot listen on " + net::to_string(endpoint));
    add_listener(std::move(socket));
  }

  void add_listener(udp::socket socket) {
    socket.non_blocking(true);
    net::size_socket_buffers(socket, config_.single_port ? single_port_socket_buffer : listener_socket_buffer);
    std::error_code ec;
    net::report_local_addresses(socket, ec);
    if (ec) throw std::system_error(ec, "IP_PKTINFO on the listening socket");
    auto listener = std::make_shared<Listener>(Listener{
        this, std::move(socket), {},
        net::DatagramBatch(listener_batch_count, listener_buffer_size(config_.single_port), true)});
    listener->local = listener->socket.local_endpoint();
    listeners_.push_back(std::move(listener));
  }

  void start() {
    if (config_.allow_create || config_.allow_overwrite) {
      // Uploads of a server that was killed (SIGKILL, power) where O_TMPFILE could not be used.
      if (const auto removed = fileio::remove_stale_temporaries(root_.fd()); removed > 0) {
        log_.write(LogEvent{LogLevel::warning, "stale-uploads", {}}.add_number("removed", std::to_string(removed)));
      }
    }
    const std::uint64_t holds = open_files_ > spare_files ? (open_files_ - spare_files) / files_per_session : 0;
    log_.write(LogEvent{holds < config_.max_sessions ? LogLevel::warning : LogLevel::info, "limits", {}}
                   .add_number("max_sessions", std::to_string(config_.max_sessions))
                   .add_number("open_files", std::to_string(open_files_))
                   .add_number("sessions_it_holds", std::to_string(holds)));
    for (auto& listener : listeners_) {
      log_.write(LogEvent{LogLevel::info, "listening", {}}
                     .add("address", net::to_string(listener->local))
                     .add("root", root_.path()));
      receive(listener);
    }
  }

  // Wait for the socket, then read what it holds in this handler, a batch at a time (datagram_batch.hpp).
  static void receive(const std::shared_ptr<Listener>& listener) {
    listener->socket.async_wait(udp::socket::wait_read, [listener](std::error_code ec) {
      if (ec == asio::error::operation_aborted || listener->owner == nullptr) return;
      if (!ec) listener->owner->read_queued(*listener);
      // The socket may have been closed while reading (single-port: the last transfer ended on a datagram);
      // a wait on a closed socket fails at once, and re-arming it would spin forever.
      if (listener->owner != nullptr && listener->owner->receiving() && listener->socket.is_open()) {
        receive(listener);
      }
    });
  }

  // A bounded number of batches, so that a flood on one socket cannot hold off the timers and the other
  // sockets; what is left is read on the next wake-up.
  void read_queued(Listener& listener) {
    std::error_code ec;
    bool error_seen = false;
    for (unsigned round = 0; round < listener_batches_per_wake; ++round) {
      const std::size_t count = listener.batch.receive(listener.socket, ec);
      for (std::size_t i = 0; i < count; ++i) {
        if (!listener.socket.is_open()) return;
        on_request(Arrival{listener, listener.batch.from(i), listener.batch.local(i)}, listener.batch.datagram(i));
      }
      if (count == listener.batch.capacity()) continue;
      // An ICMP error an earlier answer drew says nothing about what is queued behind it: read once more.
      if (!ec || std::exchange(error_seen, true)) break;
    }
  }

  // A single-port listener goes on receiving after shutdown: the running transfers come in through it.
  bool receiving() const noexcept { return !stopping_ || config_.single_port; }

  // ---- Requests ----------------------------------------------------------------------------------

  void on_request(const Arrival& from, std::span<const std::byte> datagram) {
    const auto opcode = peek_opcode(datagram);
    const bool request = opcode == Opcode::rrq || opcode == Opcode::wrq;
    if (config_.single_port && !request) {
      demultiplex(from, datagram);
      return;
    }
    trace(from.client, datagram);
    if (!request || stopping_) return;  // stray DATA/ACK/ERROR: not for us
    auto parsed = parse(datagram);
    if (!parsed) {
      refuse(from, "", Error{ErrorCode::illegal_operation, parsed.error_code().message()});
      return;
    }
    if (const auto found = sessions_.find(from.client); found != sessions_.end()) {
      // Two sockets keep no order between them: the transfer's last ACK, sent before this request, may still
      // be queued on the session's socket. Read it first, so that a finished download ends before this
      // request is judged a retransmission of its own.
      const auto session = found->second;
      session->catch_up();
    }
    if (const auto it = sessions_.find(from.client); it != sessions_.end()) {
      // A retransmitted request: its transfer is already answering it.
      if (it->second->running()) return;
      it->second->close();  // a completed upload dallying: the client has moved on
    }
    if (auto* rrq = std::get_if<Rrq>(&*parsed)) {
      if (resolve_name(from, rrq->filename, false)) serve_read(from, *rrq);
    } else {
      auto& wrq = std::get<Wrq>(*parsed);
      if (resolve_name(from, wrq.filename, true)) serve_write(from, wrq);
    }
  }

  // Single-port mode: a packet from a client address:port with a session goes to it; another port of an
  // address with a transfer gets ERROR 5 from this socket, as a session socket answers a stranger. An
  // ERROR is never answered (two servers must not bounce ERRORs), and neither is a datagram that is no
  // TFTP packet at all.
  void demultiplex(const Arrival& from, std::span<const std::byte> datagram) {
    if (const auto it = sessions_.find(from.client); it != sessions_.end()) {
      it->second->on_datagram(datagram);
      return;
    }
    trace(from.client, datagram);
    // Only a host with a transfer here is told (one that lost track of its port, e.g. behind a NAT that
    // changed it). This port is well known: answering anyone would reflect 24 bytes for each spoofed 4-byte
    // ACK at whatever address the spoofer names.
    if (!has_transfer(from.client.address()) || !may_answer_stranger(datagram)) return;
    std::array<std::byte, 64> out{};
    const auto size = encode(Error{ErrorCode::unknown_transfer_id, "Unknown transfer ID"}, out);
    if (!size) return;
    std::error_code ignored;
    net::send_from(from.listener.socket, std::span(out).first(*size), from.client, from.local, ignored);
    log_.write(LogEvent{LogLevel::warning, "stranger", {}}.add("stranger", net::to_string(from.client)).limited("stranger"));
  }

  // Whether any session here belongs to this address (endpoints order by address, then port).
  bool has_transfer(const asio::ip::address& address) const {
    const auto it = sessions_.lower_bound(udp::endpoint(address, 0));
    return it != sessions_.end() && it->first.address() == address;
  }

  // The name steps of server_names.hpp, in their order; false when the request has been refused.
  bool resolve_name(const Arrival& from, std::string& name, bool is_put) {
    strip_pxe_garbage(name);
    if (!remap(from, name, is_put)) return false;
    if (config_.lowercase) fold_to_lower_case(name);
    strip_leading_separators(name);
    return true;
  }

  // ROOT, or ROOT/<client address>/ under --unique-root when that directory is there. A client without one
  // is served from ROOT (ip), where the other clients' directories are, so a name that starts with an
  // address is refused; or from ROOT/default/ (ip-strict), or not at all. `holder` keeps a per-client root
  // open while the caller uses it.
  const Root* root_for(const Arrival& from, const std::string& file, std::optional<Root>& holder) {
    if (config_.unique_root == UniqueRoot::none) return &root_;
    auto found = root_.subdirectory(client_directory_name(from.client.address()));
    if (auto* refusal = std::get_if<Refusal>(&found)) {
      refuse(from, file, Error{refusal->code, "per-client directory: " + refusal->message});
      return nullptr;
    }
    if (auto* root = std::get_if<Root>(&found)) return &holder.emplace(std::move(*root));
    if (config_.unique_root == UniqueRoot::ip_strict) {
      auto fallback = root_.subdirectory(strict_default_directory);
      if (auto* root = std::get_if<Root>(&fallback)) return &holder.emplace(std::move(*root));
      refuse(from, file, Error{ErrorCode::access_violation, "no directory for this client"});
      return nullptr;
    }
    if (names_client_directory(file)) {
      refuse(from, file, Error{ErrorCode::access_violation, "another client's directory"});
      return nullptr;
    }
    return &root_;
  }

  // The negotiation limits for this client: with --blksize-max mtu, blksize fits the MTU of the interface
  // the answers leave by: the one the request arrived on (IP_PKTINFO), else the listening address's, else
  // the one the kernel routes the client through.
  ServerPolicy policy_for(const Arrival& from) const {
    if (!config_.block_size_from_mtu) return config_.policy;
    auto policy = config_.policy;
    std::optional<unsigned> mtu;
    if (from.local && from.local->interface != 0) mtu = interface_mtu(from.local->interface);
    if (!mtu) {
      const auto local = from.listener.local.address().is_unspecified() ? source_address_for(from.client)
                                                                        : std::optional(from.listener.local.address());
      if (local) mtu = interface_mtu(*local);
    }
    const bool ipv6 = from.client.address().is_v6() && !from.client.address().to_v6().is_v4_mapped();
    policy.max_block_size = block_size_for_mtu(mtu.value_or(fallback_mtu), ipv6);
    return policy;
  }

  // The map file's rules, before confinement: their result goes through the same checks as any name. A
  // result with leading slashes means the same file as without (tftpd-hpa runs chrooted to ROOT).
  bool remap(const Arrival& from, std::string& name, bool is_put) {
    if (!rules_) return true;
    auto mapped = rules_->apply(name, RemapContext{is_put, from.client.address()});
    if (auto* refused = std::get_if<Refused>(&mapped)) {
      refuse(from, name, Error{ErrorCode::access_violation, refused->message});
      return false;
    }
    auto& result = std::get<std::string>(mapped);
    const auto start = result.find_first_not_of('/');
    result.erase(0, start == std::string::npos ? result.size() : start);
    if (result != name && config_.verbosity == Verbosity::verbose) {
      log_.write(LogEvent{LogLevel::debug, "remapped", {}}.add("from", name).add("to", result));
    }
    name = std::move(result);
    return true;
  }

  std::string reload_map_file() {
    if (!config_.map_file) return {};
    auto loaded = RemapRules::load(*config_.map_file);
    if (auto* error = std::get_if<RemapError>(&loaded)) {
      log_.write(LogEvent{LogLevel::error, "map-file", {}}.add("error", error->to_string()).add("kept", "previous rules"));
      return error->to_string();
    }
    rules_ = std::make_shared<const RemapRules>(std::get<RemapRules>(std::move(loaded)));
    log_.write(LogEvent{LogLevel::info, "map-file", {}}.add("file", *config_.map_file).add("rules", std::to_string(rules_->size())));
    return {};
  }

  // A request that may open a session, and the session it takes the place of, if any.
  struct Admitted {
    std::optional<udp::endpoint> evict;
  };

  // The limits (admission.hpp); nullopt when the request was refused with "server busy".
  std::optional<Admitted> admit(const Arrival& from, const std::string& file) {
    const auto decision = admission_.decide(client_key(from.client.address()));
    if (decision.verdict != Admission<udp::endpoint, asio::ip::address>::Verdict::busy) {
      return Admitted{decision.evict};
    }
    refuse(from, file, busy());
    return std::nullopt;
  }

  // Ends the session a new request takes the place of: silently, since its client never answered.
  void make_room(const Admitted& admitted, const Arrival& from) {
    if (!admitted.evict) return;
    const auto it = sessions_.find(*admitted.evict);
    if (it == sessions_.end()) return;
    const auto victim = it->second;
    ++evictions_;
    log_.write(LogEvent{LogLevel::info, "evicted", {}}
                   .add("client", net::to_string(victim->client()))
                   .add("file", victim->file())
                   .add("for", net::to_string(from.client))
                   .add_number("evictions", std::to_string(evictions_))
                   .limited("evicted"));
    victim->evict();
  }

  void serve_read(const Arrival& from, const Rrq& rrq) {
    const auto admitted = admit(from, rrq.filename);
    if (!admitted) return;
    std::optional<Root> client_root;
    const Root* root = root_for(from, rrq.filename, client_root);
    if (root == nullptr) return;
    auto opened = root->open_for_read(rrq.filename);
    if (auto* refusal = std::get_if<Refusal>(&opened)) {
      refuse(from, rrq.filename, Error{refusal->code, refusal->message});
      return;
    }
    fileio::FileSource source(fileio::Fd(std::get<ScopedFd>(opened).release()), rrq.mode);
    // The netascii size is known only by reading the file once, on the one thread that serves everyone: pay
    // for that only when asked, and only for a small file (a 256 MiB file took a second); a larger one's OACK
    // leaves tsize out, as RFC 2349 allows.
    if (rrq.mode == Mode::netascii && find_option(rrq.options, "tsize") != nullptr &&
        source.file_size().value_or(netascii_tsize_limit + 1) <= netascii_tsize_limit) {
      static_cast<void>(source.count_netascii());
    }
    const auto answer = negotiate(policy_for(from), rrq.options, Direction::read, source.tsize());
    if (answer.refusal) {
      refuse(from, rrq.filename, *answer.refusal);
      return;
    }
    auto session = open_session(from, *admitted, {from.client, rrq.filename, Direction::read, rrq.mode});
    if (session) session->start_read(std::move(source), answer, transfer_);
  }

  void serve_write(const Arrival& from, const Wrq& wrq) {
    if (!config_.allow_create && !config_.allow_overwrite) {
      refuse(from, wrq.filename, Error{ErrorCode::access_violation, "uploads are disabled"});
      return;
    }
    const auto admitted = admit(from, wrq.filename);
    if (!admitted) return;
    std::optional<Root> client_root;
    const Root* root = root_for(from, wrq.filename, client_root);
    if (root == nullptr) return;
    auto opened = root->open_for_upload(wrq.filename);
    if (auto* refusal = std::get_if<Refusal>(&opened)) {
      refuse(from, wrq.filename, Error{refusal->code, refusal->message});
      return;
    }
    auto& target = std::get<UploadTarget>(opened);
    if (const auto room = refuse_beyond_free_space(target.directory.get(), wrq)) {
      refuse(from, wrq.filename, *room);
      return;
    }
    if (target.exists && !config_.allow_overwrite) {
      refuse(from, wrq.filename, Error{ErrorCode::file_exists, "file already exists"});
      return;
    }
    if (!target.exists && !config_.allow_create) {
      refuse(from, wrq.filename, Error{ErrorCode::access_violation, "creating files is not allowed"});
      return;
    }
    const auto answer = negotiate(policy_for(from), wrq.options, Direction::write, std::nullopt);
    if (answer.refusal) {
      refuse(from, wrq.filename, *answer.refusal);
      return;
    }
    std::error_code ec;
    // Synced before the final ACK: a client told "done" must not lose the file to a power cut.
    const fileio::AtomicFile::Options options{.overwrite = config_.allow_overwrite,
                                              .mode = static_cast<mode_t>(0666U & ~config_.umask),
                                              .sync = true};
    auto file = fileio::AtomicFile::create(target.directory.get(), target.leaf, options, ec);
    if (ec) {
      refuse(from, wrq.filename, fileio::error_for(ec));
      return;
    }
    auto session = open_session(from, *admitted, {from.client, wrq.filename, Direction::write, wrq.mode});
    if (session) {
      session->start_write(Upload{std::move(target.directory), std::move(file), wrq.mode, config_.policy.max_upload},
                           answer, transfer_);
    }
  }

  // An upload announcing (tsize) more than the file system has free for us is refused before any data.
  static std::optional<Error> refuse_beyond_free_space(int directory, const Wrq& wrq) {
    const auto* tsize = find_option(wrq.options, "tsize");
    const auto announced = tsize != nullptr ? parse_decimal(tsize->value) : std::nullopt;
    struct statvfs fs {};
    if (!announced || ::fstatvfs(directory, &fs) != 0) return std::nullopt;
    const std::uint64_t free = std::uint64_t{fs.f_bavail} * fs.f_frsize;
    if (*announced <= free) return std::nullopt;
    return Error{ErrorCode::disk_full, "Disk full: " + std::to_string(*announced) + " bytes announced, " +
                                           std::to_string(free) + " free"};
  }

  std::shared_ptr<Session> open_session(const Arrival& from, const Admitted& admitted, SessionRequest request) {
    make_room(admitted, from);
    if (config_.single_port) {
      return add_session(from.client, std::make_shared<Session>(SharedSocket{from.listener.socket, from.local}, std::move(request), *this));
    }
    std::error_code ec;
    auto socket = session_socket(from, ec);
    if (ec) {
      log_.write(LogEvent{LogLevel::error, "session-socket", {}}.add("error", ec.message()));
      refuse(from, request.file, busy());
      return nullptr;
    }
    return add_session(from.client, std::make_shared<Session>(std::move(socket), std::move(request), *this));
  }

  std::shared_ptr<Session> add_session(const udp::endpoint& client, std::shared_ptr<Session> session) {
    sessions_.emplace(client, session);
    admission_.opened(client, client_key(client.address()));
    return session;
  }

  // A session socket answers from the address the request was sent to: on a wildcard listener that is the
  // request's local address (IP_PKTINFO), bound here, else what the kernel would pick by routing.
  udp::socket session_socket(const Arrival& from, std::error_code& ec) {
    const auto listening = from.listener.local.address();
    if (from.local && listening.is_unspecified()) {
      auto socket = session_socket_on(from.listener, from.local->address, ec);
      if (!ec) return socket;
    }
    return session_socket_on(from.listener, listening, ec);
  }

  udp::socket session_socket_on(const Listener& listener, const asio::ip::address& address, std::error_code& ec) {
    udp::socket socket(io_);
    socket.open(listener.local.protocol(), ec);
    if (ec) return socket;
    if (address.is_v6() && address.is_unspecified()) socket.set_option(asio::ip::v6_only(false), ec);
    if (!config_.port_range) {
      socket.bind(udp::endpoint(address, 0), ec);
    } else {
      const auto [low, high] = *config_.port_range;
      const unsigned count = unsigned{high} - low + 1;
      for (unsigned tried = 0; tried < count; ++tried) {
        const auto port = static_cast<std::uint16_t>(low + (next_port_ + tried) % count);
        socket.bind(udp::endpoint(address, port), ec);
        if (!ec) {
          next_port_ = (next_port_ + tried + 1) % count;
          break;
        }
      }
    }
    if (!ec) socket.non_blocking(true, ec);
    return socket;
  }

  void refuse(const Arrival& from, const std::string& file, const Error& error) {
    log_.write(LogEvent{LogLevel::warning, "refused", {}}
                   .add("client", net::to_string(from.client))
                   .add("file", file)
                   .add_number("code", std::to_string(static_cast<unsigned>(error.code)))
                   .add("reason", error.message)
                   .limited("refused"));
    std::array<std::byte, 1024> out{};
    const auto size = encode(error, out);
    if (!size) return;
    std::error_code ignored;
    net::send_from(from.listener.socket, std::span(out).first(*size), from.client, from.local, ignored);
  }

  void trace(const udp::endpoint& peer, std::span<const std::byte> datagram) {
    if (!log_.tracing()) return;
    log_.write(LogEvent{LogLevel::debug, "packet", {}}
                   .add("dir", "recv")
                   .add("peer", net::to_string(peer))
                   .add("packet", describe_datagram(datagram)));
  }

  // ---- SessionHost --------------------------------------------------------------------------------

  void client_answered(Session& session) override { admission_.answered(session.client()); }

  void transfer_done(Session& session, const TransferRecord& record) override {
    admission_.finished(session.client());
    auto event = transfer_event(record);
    if (record.unanswered) event.limited("unanswered");
    log_.write(event);
  }

  // A flood of junk or of forged packets to a session port must not become a flood of ERRORs.
  bool may_answer_stranger(std::span<const std::byte> datagram) override {
    const auto parsed = parse(datagram);
    if (!parsed || std::holds_alternative<Error>(*parsed)) return false;  // never answer an ERROR with one
    return stranger_replies_.take(TokenBucket::Clock::now());
  }

  void session_closed(Session& session) override {
    const auto it = sessions_.find(session.client());
    if (it != sessions_.end() && it->second.get() == &session) {
      sessions_.erase(it);
      admission_.closed(session.client());
    }
    if (stopping_ && sessions_.empty()) stopped();
  }

  ServerLog& log() override { return log_; }

  // ---- Shutdown ----------------------------------------------------------------------------------

  void shutdown(std::chrono::milliseconds grace, std::function<void()> on_stopped) {
    if (on_stopped) on_stopped_ = std::move(on_stopped);
    if (!stopping_) {
      stopping_ = true;
      if (!config_.single_port) close_listeners();
      log_.write(LogEvent{LogLevel::info, "shutdown", {}}
                     .add_number("sessions", std::to_string(sessions_.size()))
                     .add_number("grace_seconds", fmt::format("{:.3f}", std::chrono::duration<double>(grace).count())));
    }
    // Completed uploads that dally only wait for a lost final ACK to be asked again: not worth a grace.
    std::vector<std::shared_ptr<Session>> dallying;
    for (auto& [client, session] : sessions_) {
      if (!session->running()) dallying.push_back(session);
    }
    for (auto& session : dallying) session->close();
    if (sessions_.empty()) {
      stopped();
      return;
    }
    const auto deadline = std::chrono::steady_clock::now() + grace;
    if (grace_armed_ && deadline >= grace_timer_.expiry()) return;
    grace_armed_ = true;
    grace_timer_.expires_at(deadline);
    grace_timer_.async_wait([this](std::error_code ec) {
      if (ec) return;
      std::vector<std::shared_ptr<Session>> left;
      for (auto& [client, session] : sessions_) left.push_back(session);
      for (auto& session : left) session->abort(Error{ErrorCode::not_defined, "server shutting down"});
    });
  }

  void close_listeners() {
    for (auto& listener : listeners_) {
      std::error_code ignored;
      listener->socket.close(ignored);
    }
  }

  void stopped() {
    log_.flush_suppressed();
    close_listeners();  // single-port: the transfers are over, so is the socket they came in by
    grace_timer_.cancel();
    if (on_stopped_) std::exchange(on_stopped_, nullptr)();
  }

  asio::io_context& io_;
  ServerConfig config_;
  ServerLog& log_;
  Root root_;
  std::shared_ptr<const RemapRules> rules_;  // null without --map-file; replaced whole on SIGHUP
  asio::steady_timer grace_timer_;
  TransferConfig transfer_;
  std::vector<std::shared_ptr<Listener>> listeners_;
  std::map<udp::endpoint, std::shared_ptr<Session>> sessions_;
  Admission<udp::endpoint, asio::ip::address> admission_;  // per-client keys: client_key()
  std::uint64_t evictions_ = 0;
  std::uint64_t open_files_ = 0;  // the soft RLIMIT_NOFILE after raising it
  TokenBucket stranger_replies_{stranger_replies_per_second, stranger_replies_per_second};
  unsigned next_port_ = 0;
  bool stopping_ = false;
  bool grace_armed_ = false;
  std::function<void()> on_stopped_;
};

Server::Server(asio::io_context& io, const ServerConfig& config, ServerLog& log)
    : impl_(std::make_unique<Impl>(io, config, log)) {}

Server::~Server() = default;

std::vector<asio::ip::udp::endpoint> Server::local_endpoints() const {
  std::vector<asio::ip::udp::endpoint> endpoints;
  for (const auto& listener : impl_->listeners_) endpoints.push_back(listener->local);
  return endpoints;
}

void Server::start() { impl_->start(); }

void Server::shutdown(std::chrono::milliseconds grace, std::function<void()> on_stopped) {
  impl_->shutdown(grace, std::move(on_stopped));
}

std::size_t Server::session_count() const noexcept { return impl_->sessions_.size(); }

std::string Server::reload_map_file() { return impl_->reload_map_file(); }

int run_server(const ServerConfig& config) {
  asio::io_context io;
  ServerLog log(config.log_format, config.verbosity);
  Server server(io, config, log);
  // Root is kept only when asked for: started as root without --user the server drops to nobody once its
  // sockets are bound and ROOT is open, as tftpd-hpa does.
  const bool root = ::geteuid() == 0;
  const std::string user = config.user.value_or(root ? "nobody" : "");
  if (root && user == "root") {
    log.write(LogEvent{LogLevel::warning, "privileges", {}}
                  .add("user", "root")
                  .add("note", "--user root: the server keeps root for its whole life"));
  } else if (!user.empty()) {
    drop_privileges(user);
    log.write(LogEvent{LogLevel::info, "privileges", {}}.add("user", user));
  }
  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::signal_set hangup(io, SIGHUP);
  // The first signal starts the grace; a second one ends the transfers at once. The wait is renewed
  // before shutting down, so that the server's stop cancels it and io.run() returns.
  bool signalled = false;
  std::function<void(std::error_code, int)> on_signal = [&](std::error_code ec, int) {
    if (ec) return;
    signals.async_wait(on_signal);
    server.shutdown(signalled ? std::chrono::milliseconds(0) : config.grace, [&] {
      signals.cancel();
      hangup.cancel();
    });
    signalled = true;
  };
  signals.async_wait(on_signal);
  std::function<void(std::error_code, int)> on_hangup = [&](std::error_code ec, int) {
    if (ec) return;
    static_cast<void>(server.reload_map_file());
    hangup.async_wait(on_hangup);
  };
  hangup.async_wait(on_hangup);
  server.start();
  io.run();
  log.write(LogEvent{LogLevel::info, "stopped", {}});
  return 0;
}

}  // namespace tftp::server
