#pragma once
// tftp-server assembled: the served directory (DirectoryContent) as the ServerEndpoint's content, the Asio
// driver around the endpoint (server_driver.hpp), and what they report written to the server's log.
// With --workers N the sessions are sharded over N threads, each with its own loop, endpoint and driver
// and its own SO_REUSEPORT listening sockets (the kernel keeps a client on one), sharing nothing on the
// packet path; one SharedAdmission keeps the limits exact over all of them. Hooks, signals, the metrics
// server and the origin run on the caller's loop (worker 0 also runs there). What a
// request gets is the endpoint's decision (tftp/server_endpoint.hpp); what a name means is the directory's
// (directory_content.hpp); this file only puts them together, with the limits the program raises itself to.

#include <chrono>
#include <functional>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>

#include "tftp/server/config.hpp"
#include "tftp/server/log.hpp"
#include "tftp/shared_admission.hpp"

namespace tftp::net {
class ServerDriver;
}

namespace tftp::server {

class DirectoryContent;
class OriginContent;
class MetricsServer;
class ServerMetrics;
class TransferHooks;

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
  // Sessions open now (running or dallying), over every worker.
  std::size_t session_count() const noexcept;
  // After the server's loop returned (on_stopped ran): waits for the other workers' threads to end.
  void join_workers();

  // Re-reads config.map_file (SIGHUP). A bad file keeps the rules in use; the reason ("FILE:LINE: why")
  // is logged and returned. Without a map file: nothing to do, empty string.
  std::string reload_map_file();
  // The port metrics are served on (--metrics with port 0 picks one); 0 without --metrics.
  std::uint16_t metrics_port() const noexcept;

 private:
  class Log;
  struct Worker;

  unsigned worker_count();
  std::string scrape();
  void worker_stopped(std::size_t index);

  asio::io_context& io_;
  ServerConfig config_;
  ServerLog& server_log_;
  std::unique_ptr<DirectoryContent> content_;
  std::unique_ptr<OriginContent> origin_;  // with --origin: in front of content_
  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<TransferHooks> hooks_;
  std::unique_ptr<SharedAdmission> admission_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::function<void()> on_stopped_;
  std::unique_ptr<MetricsServer> metrics_server_;
  std::uint64_t open_files_ = 0;   // the soft RLIMIT_NOFILE after raising it
  std::uint64_t spare_files_ = 0;  // of which not for sessions
};

// The whole program after argument parsing: binds, drops to config.user, re-reads the map file on SIGHUP,
// serves until SIGINT/SIGTERM,
// lets transfers finish within config.grace. Returns the exit status (0 after a signal); throws
// std::exception with a message for the user when it cannot start.
int run_server(const ServerConfig& config);

}  // namespace tftp::server
