#pragma once
// The TFTP server driver: one io_context, one listening socket per --listen address (or per socket systemd
// passed), and per transfer one session with its own UDP socket (its own transfer ID, RFC 1350 section 4),
// one steady_timer and one reused pair of buffers. The sessions run the core's Sender (RRQ) and Receiver
// (WRQ); this layer only moves datagrams, arms timers, opens files beneath ROOT and logs.
//
// Decisions:
// - Refusals (ERROR 1/2/3/6/8, "server busy") are sent from the listening socket: no socket is opened for
//   a request that is not served.
// - A request from a client address:port whose transfer is still running is ignored (a retransmitted
//   RRQ/WRQ); once that transfer has completed (a Receiver dallying) the same address:port may start anew.
// - A packet from another address or port on a session socket gets ERROR 5 unless it is itself an ERROR
//   (two servers must not be able to bounce ERRORs), and the transfer goes on.
// - Until the client has shown that it receives what the server sends, a packet goes out at most
//   1 + initial_resends times and, where the session's port is easy to guess (single-port, a small
//   --port-range), the first window is small (TransferConfig, Reach); then the session ends quietly.
// - Every answer leaves from the local address its request was sent to (IP_PKTINFO / IPV6_RECVPKTINFO on
//   the listening sockets): a session socket binds that address with port 0 (or a port of --port-range),
//   and what goes out of a listening socket (refusals, ERROR 5, single-port sessions) carries it as the
//   source (sendmsg with IP_PKTINFO / IPV6_PKTINFO).
// - --max-sessions counts every open session socket; --max-sessions-per-client counts only transfers
//   still running, so a completed upload's dally does not hold its client back.

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>

#include "tftp/asio/server_config.hpp"
#include "tftp/asio/server_log.hpp"

namespace tftp::server {

class Server {
 public:
  // Opens ROOT and binds every listening socket; throws std::system_error when one cannot be had.
  // Nothing is received before start().
  Server(asio::io_context& io, const ServerConfig& config, ServerLog& log);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound addresses (port 0 in the configuration reads back as the chosen port).
  std::vector<asio::ip::udp::endpoint> local_endpoints() const;

  void start();
  // Stops taking requests at once; running transfers may go on for `grace`, then they are sent
  // ERROR 0 "server shutting down" and closed; then on_stopped runs and the server holds no more work
  // in the io_context. A second call may shorten the grace. Call from the io_context's thread (post it
  // from elsewhere). The io_context must not run handlers after the Server is destroyed.
  void shutdown(std::chrono::milliseconds grace, std::function<void()> on_stopped = {});
  // Sessions open now (running or dallying).
  std::size_t session_count() const noexcept;

  // Re-reads config.map_file (SIGHUP). A bad file keeps the rules in use; the reason ("FILE:LINE: why")
  // is logged and returned. Without a map file: nothing to do, empty string.
  std::string reload_map_file();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The whole program after argument parsing: binds, drops to config.user, re-reads the map file on SIGHUP,
// serves until SIGINT/SIGTERM,
// lets transfers finish within config.grace. Returns the exit status (0 after a signal); throws
// std::exception with a message for the user when it cannot start.
int run_server(const ServerConfig& config);

}  // namespace tftp::server
