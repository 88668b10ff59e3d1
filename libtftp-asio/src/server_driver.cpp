#include "tftp/asio/server_driver.hpp"

#include <fcntl.h>

#include <cerrno>
#include <unordered_map>
#include <utility>

#include <asio/ip/v6_only.hpp>

#include "local_address.hpp"
#include "system.hpp"
#include "tftp/asio/address.hpp"
#include "tftp/asio/datagram_batch.hpp"
#include "tftp/asio/deadline_timer.hpp"
#include "tftp/asio/endpoint.hpp"
#include "tftp/asio/socket_buffers.hpp"
#include "tftp/codec.hpp"

namespace tftp::net {

namespace {

using asio::ip::udp;

// Single-port mode: one buffer takes every client's DATA, so it holds any UDP datagram; otherwise a
// listening socket only takes requests, and one byte over max_request_size shows an over-long one as such.
std::size_t listener_buffer_size(bool single_port) { return single_port ? 65536 : max_request_size + 1; }

// Datagrams read per system call on a listening socket, and calls per wake-up: a boot storm's requests must
// not wait behind thousands of running transfers until the kernel drops them (their clients would time
// out while the established ones go on), and a flood still yields to the other sockets every 256.
constexpr std::size_t listener_batch_count = 8;
constexpr unsigned listener_batches_per_wake = 32;

// Session sockets share one batch: enough to learn in lock-step that the queue is empty, and to take a
// window of DATA in fewer calls. One byte more than the largest DATA, so an over-long one shows as such.
constexpr std::size_t session_batch_count = 4;
constexpr std::size_t session_datagram_size = max_packet_size + 1;

// A boot storm's requests arrive at once: room for some 20,000 before the kernel drops any (the default,
// about 208 KiB, holds some 200; each small datagram costs about 800 bytes of buffer). Memory is taken only
// while requests wait. In single-port mode every window of every transfer arrives there too.
constexpr std::size_t listener_socket_buffer = std::size_t{16} << 20;
constexpr std::size_t single_port_socket_buffer = std::size_t{16} << 20;

}  // namespace

struct ServerDriver::Impl final : EndpointHost {
  struct Listener {
    Impl* owner = nullptr;  // null once the driver is gone: a late handler must not touch it
    ListenerId id = 0;
    udp::socket socket;
    udp::endpoint local;
    DatagramBatch batch;  // with each datagram's local address
  };

  struct SessionSocket {
    Impl* owner = nullptr;  // null once closed
    SessionId id = 0;
    udp::socket socket;
  };

  Impl(asio::io_context& io, const ServerSockets& sockets, const EndpointConfig& config, ContentProvider& content,
       ServerObserver& observer, EndpointShard shard)
      : io_(io),
        sockets_(sockets),
        observer_(observer),
        endpoint_(config, content, *this, shard),
        session_batch_(session_batch_count, session_datagram_size),
        tx_(transmit_buffer_size),
        timer_(io.get_executor()) {
    for (const int fd : sockets_.adopt) {
      udp::socket socket(io_);
      socket.assign(protocol_of(fd), fd);
      add_listener(std::move(socket));
      adopted_ = true;
    }
    if (listeners_.empty() && sockets_.listen.empty()) {
      for (auto& socket : adopt_systemd_sockets(io_)) add_listener(std::move(socket));
      adopted_ = !listeners_.empty();
    }
    if (listeners_.empty()) {
      auto specs = sockets_.listen;
      if (specs.empty()) specs.push_back(ListenSpec{});
      for (const auto& spec : specs) bind_listener(spec);
    }
  }

  ~Impl() override {
    for (auto& listener : listeners_) {
      listener->owner = nullptr;
      std::error_code ignored;
      listener->socket.close(ignored);
    }
    for (auto& [id, session] : session_sockets_) {
      session->owner = nullptr;
      std::error_code ignored;
      session->socket.close(ignored);
    }
  }

  bool single_port() const noexcept { return endpoint_.config().single_port; }

  // ---- Listening sockets -------------------------------------------------------------------------

  void bind_listener(const ListenSpec& spec) {
    udp::socket socket(io_);
    udp::endpoint endpoint;
    std::error_code ec;
    if (spec.host.empty()) {
      socket.open(udp::v6(), ec);
      if (!ec) {
        socket.set_option(asio::ip::v6_only(false), ec);
        endpoint = udp::endpoint(udp::v6(), spec.port);
      } else {
        socket.open(udp::v4());
        endpoint = udp::endpoint(udp::v4(), spec.port);
      }
    } else {
      const auto ip = asio::ip::make_address(spec.host, ec);
      if (ec) throw std::system_error(ec, "listen address " + spec.host);
      endpoint = udp::endpoint(ip, spec.port);
      socket.open(endpoint.protocol());
    }
    if (sockets_.reuse_port) set_reuse_port(socket);
    socket.bind(endpoint, ec);
    if (ec) throw std::system_error(ec, "cannot listen on " + to_string(endpoint));
    add_listener(std::move(socket));
  }

  void add_listener(udp::socket socket) {
    socket.non_blocking(true);
    size_socket_buffers(socket, single_port() ? single_port_socket_buffer : listener_socket_buffer);
    std::error_code ec;
    report_local_addresses(socket, ec);
    if (ec) throw std::system_error(ec, "IP_PKTINFO on the listening socket");
    auto listener = std::make_shared<Listener>(Listener{
        this, static_cast<ListenerId>(listeners_.size()), std::move(socket), {},
        DatagramBatch(listener_batch_count, listener_buffer_size(single_port()), true)});
    listener->local = listener->socket.local_endpoint();
    listeners_.push_back(std::move(listener));
  }

  void start() {
    for (auto& listener : listeners_) {
      observer_.on_listening(listener->local);
      receive(listener);
    }
  }

  // Wait for the socket, then read what it holds in this handler, a batch at a time (tftp/asio/datagram_batch.hpp).
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
        const auto from = listener.batch.from(i);
        const auto bytes = listener.batch.datagram(i);
        catch_up(from, bytes);
        input(Received{SocketRef::listener(listener.id), from, listener.batch.local(i), bytes});
      }
      if (count == listener.batch.capacity()) continue;
      // An ICMP error an earlier answer drew says nothing about what is queued behind it: read once more.
      if (!ec || std::exchange(error_seen, true)) break;
    }
  }

  // Two sockets keep no order between them: a transfer's last ACK, sent before a new request from the same
  // client port, may still be queued on the session's socket. It is read first, so that the endpoint sees
  // the finished download before it judges the request a retransmission of its own.
  void catch_up(const SocketAddress& client, std::span<const std::byte> bytes) {
    if (single_port()) return;
    const auto opcode = peek_opcode(bytes);
    if (opcode != Opcode::rrq && opcode != Opcode::wrq) return;
    const auto session = endpoint_.session_of(client);
    if (!session) return;
    const auto it = session_sockets_.find(*session);
    if (it != session_sockets_.end()) read_queued(it->second);
  }

  bool receiving() const noexcept { return !stopping_ || single_port(); }

  // ---- Session sockets ---------------------------------------------------------------------------

  static void receive(const std::shared_ptr<SessionSocket>& session) {
    session->socket.async_wait(udp::socket::wait_read, [session](std::error_code ec) {
      if (ec == asio::error::operation_aborted || session->owner == nullptr) return;
      session->owner->read_queued(session);
      if (session->owner != nullptr) receive(session);
    });
  }

  void read_queued(std::shared_ptr<SessionSocket> session) {  // owned here: the input may close it
    std::error_code ec;
    bool error_seen = false;
    for (;;) {
      const std::size_t count = session_batch_.receive(session->socket, ec);
      for (std::size_t i = 0; i < count && session->owner != nullptr; ++i) {
        reading_ = session.get();
        input(Received{SocketRef::session(session->id), session_batch_.from(i), std::nullopt,
                       session_batch_.datagram(i)});
        reading_ = nullptr;
      }
      if (session->owner == nullptr) return;
      if (count == session_batch_.capacity()) continue;
      // An error (an ICMP error reported late) says nothing about the transfer; datagrams may be queued
      // behind it, so read once more.
      if (!ec || std::exchange(error_seen, true)) break;
    }
  }

  // A session socket answers from the address the request was sent to: on a wildcard listener that is the
  // request's local address, bound here, else what the listener is bound to.
  bool open_session_socket(SessionId id, ListenerId listener_id, const std::optional<LocalAddress>& local,
                           const Negotiated& negotiated) override {
    const Listener& listener = *listeners_.at(listener_id);
    std::error_code ec;
    udp::socket socket(io_);
    const auto listening = listener.local.address();
    if (local && listening.is_unspecified()) socket = bind_session_socket(listener, to_asio(local->ip), ec);
    if (!socket.is_open() || ec) socket = bind_session_socket(listener, listening, ec);
    if (ec) {
      observer_.on_socket_error(ec);
      return false;
    }
    if (negotiated.window_size > 1) {
      size_socket_buffers(socket, window_buffer_bytes(negotiated.block_size, negotiated.window_size));
    }
    auto session = std::make_shared<SessionSocket>(SessionSocket{this, id, std::move(socket)});
    session_sockets_.emplace(id, session);
    receive(session);
    return true;
  }

  udp::socket bind_session_socket(const Listener& listener, const asio::ip::address& address, std::error_code& ec) {
    udp::socket socket(io_);
    socket.open(listener.local.protocol(), ec);
    if (ec) return socket;
    if (address.is_v6() && address.is_unspecified()) socket.set_option(asio::ip::v6_only(false), ec);
    if (!sockets_.port_range) {
      socket.bind(udp::endpoint(address, 0), ec);
    } else {
      const auto [low, high] = *sockets_.port_range;
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
    if (ec) {
      std::error_code ignored;
      socket.close(ignored);
    }
    return socket;
  }

  void close_session_socket(SessionId id) override {
    const auto it = session_sockets_.find(id);
    if (it == session_sockets_.end()) return;
    it->second->owner = nullptr;
    std::error_code ignored;
    it->second->socket.close(ignored);
    session_sockets_.erase(it);
  }

  // The MTU of the interface the replies leave by: the one the request arrived on, else the listening
  // address's, else the one the kernel routes the client through.
  std::optional<unsigned> path_mtu(ListenerId listener_id, const std::optional<LocalAddress>& local,
                                   const SocketAddress& client) override {
    if (local && local->interface != 0) {
      if (const auto mtu = interface_mtu(local->interface)) return mtu;
    }
    const auto listening = listeners_.at(listener_id)->local.address();
    const auto address = listening.is_unspecified() ? source_address_for(to_asio(client))
                                                    : std::optional<asio::ip::address>(listening);
    if (!address) return std::nullopt;
    return interface_mtu(*address);
  }

  // ---- The endpoint's loop -----------------------------------------------------------------------

  void input(const Received& datagram) {
    if (observer_.tracing()) observer_.on_packet("recv", datagram.remote, datagram.bytes);
    endpoint_.on_datagram(datagram, Clock::now());
    after_input();
  }

  void after_input() {
    while (const auto transmit = endpoint_.poll_transmit(tx_)) send(*transmit);
    while (auto event = endpoint_.poll_event()) observer_.on_event(*event);
    rearm();
    if (stopping_ && endpoint_.idle()) stopped();
  }

  // A full socket buffer or an ICMP error counts as a lost datagram: the endpoint retransmits.
  void send(const Transmit& transmit) {
    const auto bytes = std::span<const std::byte>(tx_).first(transmit.size);
    if (observer_.tracing()) observer_.on_packet("send", transmit.destination, bytes);
    std::error_code ignored;
    if (transmit.socket.kind == SocketRef::Kind::listener) {
      auto& listener = *listeners_.at(transmit.socket.id);
      if (listener.socket.is_open()) send_from(listener.socket, bytes, transmit.destination, transmit.source, ignored);
      return;
    }
    // Mostly the answer to what was just read from the same socket: no look-up then.
    SessionSocket* socket = reading_ != nullptr && reading_->id == transmit.socket.id ? reading_ : nullptr;
    if (socket == nullptr) {
      const auto it = session_sockets_.find(transmit.socket.id);
      if (it == session_sockets_.end()) return;
      socket = it->second.get();
    }
    send_from(socket->socket, bytes, transmit.destination, std::nullopt, ignored);
  }

  void rearm() {
    timer_.arm(endpoint_.next_deadline(), [this] {
      endpoint_.on_timeout(Clock::now());
      after_input();
    });
  }

  // ---- Shutdown ----------------------------------------------------------------------------------

  void shutdown(std::chrono::milliseconds grace, std::function<void()> on_stopped) {
    if (on_stopped) on_stopped_ = std::move(on_stopped);
    if (!stopping_) {
      stopping_ = true;
      if (!single_port()) close_listeners();
      observer_.on_shutdown(endpoint_.session_count(), grace);
    }
    endpoint_.shutdown(Clock::now(), grace);
    after_input();
  }

  void close_listeners() {
    for (auto& listener : listeners_) {
      std::error_code ignored;
      listener->socket.close(ignored);
    }
  }

  void stopped() {
    if (stopped_) return;
    stopped_ = true;
    observer_.on_stopped();
    close_listeners();  // single-port: the transfers are over, so is the socket they came in by
    timer_.cancel();
    if (on_stopped_) std::exchange(on_stopped_, nullptr)();
  }

  asio::io_context& io_;
  ServerSockets sockets_;
  ServerObserver& observer_;
  ServerEndpoint endpoint_;
  std::vector<std::shared_ptr<Listener>> listeners_;
  std::unordered_map<SessionId, std::shared_ptr<SessionSocket>> session_sockets_;
  DatagramBatch session_batch_;
  SessionSocket* reading_ = nullptr;  // the session socket whose datagram is being handled (open while set)
  std::vector<std::byte> tx_;
  DeadlineTimer timer_;
  unsigned next_port_ = 0;
  bool adopted_ = false;  // the listening sockets were bound by someone else (systemd, another driver)
  bool stopping_ = false;
  bool stopped_ = false;
  std::function<void()> on_stopped_;
};

ServerDriver::ServerDriver(asio::io_context& io, const ServerSockets& sockets, const EndpointConfig& config,
                           ContentProvider& content, ServerObserver& observer, EndpointShard shard)
    : impl_(std::make_unique<Impl>(io, sockets, config, content, observer, shard)) {}

ServerDriver::~ServerDriver() = default;

std::vector<asio::ip::udp::endpoint> ServerDriver::local_endpoints() const {
  std::vector<asio::ip::udp::endpoint> endpoints;
  for (const auto& listener : impl_->listeners_) endpoints.push_back(listener->local);
  return endpoints;
}

std::optional<ServerSockets> ServerDriver::sibling_sockets() const {
  ServerSockets sockets;
  sockets.port_range = impl_->sockets_.port_range;
  if (!impl_->adopted_) {
    sockets.reuse_port = true;
    for (const auto& listener : impl_->listeners_) {
      const auto address = listener->local.address();
      // [::] dual-stack is asked for as the empty host, so that it is bound dual-stack again.
      const bool any6 = address.is_v6() && address.is_unspecified();
      sockets.listen.push_back(ListenSpec{any6 ? std::string() : address.to_string(), listener->local.port()});
    }
    return sockets;
  }
  if (impl_->single_port()) return std::nullopt;
  for (const auto& listener : impl_->listeners_) {
    const int fd = ::fcntl(listener->socket.native_handle(), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "sharing a listening socket");
    sockets.adopt.push_back(fd);
  }
  return sockets;
}

void ServerDriver::start() { impl_->start(); }

void ServerDriver::shutdown(std::chrono::milliseconds grace, std::function<void()> on_stopped) {
  impl_->shutdown(grace, std::move(on_stopped));
}

const ServerEndpoint& ServerDriver::endpoint() const { return impl_->endpoint_; }

void ServerDriver::read_opened(SessionId session, ReadOpening answer) {
  impl_->endpoint_.on_read_opened(session, std::move(answer), Clock::now());
  impl_->after_input();
}

void ServerDriver::evict_for(SessionId session, const SocketAddress& for_client) {
  impl_->endpoint_.evict_for(session, for_client, Clock::now());
  impl_->after_input();
}

void ServerDriver::content_ready(SessionId session) {
  impl_->endpoint_.on_content_ready(session, Clock::now());
  impl_->after_input();
}

}  // namespace tftp::net
