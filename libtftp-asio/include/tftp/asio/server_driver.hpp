#pragma once
// The Asio driver of a ServerEndpoint: it moves bytes and time and decides nothing the endpoint decides.
//
// It owns the listening sockets (bound here, or passed by systemd), a socket per session when the endpoint
// asks for one, one timer armed from the endpoint's next deadline, and the buffers datagrams are read into
// and written from (shared by every session: a session costs its machine and its file, not its buffers). It
// learns the local address of every request (IP_PKTINFO / IPV6_RECVPKTINFO) and hands it to the endpoint,
// binds a session socket to it, and sends listening-socket datagrams from it. What happens is reported to a
// ServerObserver (the program's log).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>

#include "tftp/server_endpoint.hpp"

namespace tftp::net {

struct ListenSpec {
  std::string host;  // numeric; empty: [::] dual-stack, or 0.0.0.0 where the host has no IPv6
  std::uint16_t port = 69;
};

struct ServerSockets {
  std::vector<ListenSpec> listen;  // empty: the sockets systemd passed (LISTEN_FDS), else port 69 on any
  // The ports session sockets bind to, LO..HI; unset: any port the kernel picks.
  std::optional<std::pair<std::uint16_t, std::uint16_t>> port_range;
  // Listening sockets are bound with SO_REUSEPORT: several drivers (a server's workers) bind the same
  // addresses, and the kernel spreads clients over them by address and port (a client stays on one).
  bool reuse_port = false;
  // Listening sockets already bound, to read as well (duplicates of another driver's, e.g. systemd's, which
  // cannot be bound again): requests go to whichever driver reads first. Taken over: closed by the driver.
  std::vector<int> adopt;
};

// What the driver reports; the program turns it into log lines.
class ServerObserver {
 public:
  virtual ~ServerObserver() = default;
  virtual void on_event(const EndpointEvent& event) = 0;
  virtual void on_listening(const asio::ip::udp::endpoint& local) = 0;
  // A session socket could not be had (the request was refused "server busy").
  virtual void on_socket_error(const std::error_code& ec) = 0;
  // The packet trace: every datagram received ("recv") and sent ("send"), when tracing() says so.
  virtual bool tracing() const = 0;
  virtual void on_packet(std::string_view direction, const SocketAddress& peer, std::span<const std::byte> bytes) = 0;
  virtual void on_shutdown(std::size_t sessions, std::chrono::milliseconds grace) = 0;
  virtual void on_stopped() = 0;
};

class ServerDriver {
 public:
  // Binds every listening socket (or adopts systemd's); throws std::system_error when one cannot be had.
  // Nothing is received before start().
  ServerDriver(asio::io_context& io, const ServerSockets& sockets, const EndpointConfig& config,
               ContentProvider& content, ServerObserver& observer, EndpointShard shard = {});
  ~ServerDriver();
  ServerDriver(const ServerDriver&) = delete;
  ServerDriver& operator=(const ServerDriver&) = delete;

  std::vector<asio::ip::udp::endpoint> local_endpoints() const;
  // The sockets another driver serves the same addresses with (a worker of the same server): the same
  // addresses and ports bound again with SO_REUSEPORT (this driver's must have been), or duplicates of
  // systemd's sockets. None in single-port mode on systemd's sockets: a transfer's packets would reach any
  // worker, and must reach the one that runs it.
  std::optional<ServerSockets> sibling_sockets() const;
  void start();
  // The endpoint's shutdown (ServerEndpoint::shutdown); listening sockets close at once, except in
  // single-port mode where the running transfers come in through them. on_stopped runs when the last
  // session is gone and the driver holds no more work in the io_context. Call from the io_context's thread.
  void shutdown(std::chrono::milliseconds grace, std::function<void()> on_stopped = {});
  const ServerEndpoint& endpoint() const;
  // A content provider's late answers (ServerEndpoint::on_read_opened, on_content_ready), handed over with
  // the time and followed by what they cause. From the io_context's thread, never from inside a call the
  // endpoint made into the provider.
  void read_opened(SessionId session, ReadOpening answer);
  void content_ready(SessionId session);
  // ServerEndpoint::evict_for, followed by what it causes. From the io_context's thread.
  void evict_for(SessionId session, const SocketAddress& for_client);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tftp::net
