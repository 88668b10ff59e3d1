#pragma once
// --on-transfer CMD: after each finished or failed transfer, and after each request refused with an ERROR
// (a PXE client asking for a file that is not there is the failure an operator looks for first), CMD runs
// with the transfer in its environment (TFTP_CLIENT, TFTP_FILE, TFTP_DIRECTION, TFTP_BYTES, TFTP_RESULT,
// TFTP_SECONDS, TFTP_BLKSIZE, TFTP_WINDOWSIZE, TFTP_RETRANSMISSIONS, and PATH). A request that does not
// even parse names no file and runs no hook.
//
// What a client chose (the file name) is data only: CMD is split on whitespace into a program and its
// arguments once, at start, and run without a shell (posix_spawnp); the transfer reaches it only through
// environment variables. The hook gets /dev/null for stdin, stdout and stderr, no descriptor of the server,
// default signal handling, and a process group of its own. At most max_running hooks run at once and
// max_queued wait; beyond that a hook is skipped (and logged). One that runs longer than its time limit is
// killed with its process group (SIGKILL). A hook that fails, hangs or is skipped is logged and never delays
// or fails a transfer: they run beside the event loop (a pidfd and a timer each), never on it.

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include <asio/io_context.hpp>

#include "tftp/server/log.hpp"
#include "tftp/server_endpoint.hpp"

namespace tftp::server {

struct HookLimits {
  std::size_t max_running = 4;
  std::size_t max_queued = 256;
  std::chrono::milliseconds timeout{30'000};
};

// "prog arg1 arg2" split on spaces and tabs; empty words dropped.
std::vector<std::string> split_command(const std::string& command);

// The hook's environment for one transfer, as NAME=VALUE strings.
std::vector<std::string> hook_environment(const TransferRecord& record, const std::string& result);

class TransferHooks {
 public:
  TransferHooks(asio::io_context& io, std::vector<std::string> command, HookLimits limits, ServerLog& log);
  ~TransferHooks();
  TransferHooks(const TransferHooks&) = delete;
  TransferHooks& operator=(const TransferHooks&) = delete;

  void on_transfer(const TransferRecord& record, const std::string& result);
  // TFTP_RESULT is "refused: ERROR N message"; nothing moved, the RFC 1350 defaults stand.
  void on_refusal(const RequestRefused& refused);
  // Hooks waiting are dropped; running ones go on to their end or their time limit.
  void stop();
  std::size_t running() const noexcept { return running_.size(); }

 private:
  struct Running;
  void run(std::vector<std::string> environment, const std::string& file);
  void spawn(std::vector<std::string> environment);
  void finished(Running& hook, int status, bool killed);

  asio::io_context& io_;
  std::vector<std::string> command_;
  HookLimits limits_;
  ServerLog& log_;
  std::vector<std::shared_ptr<Running>> running_;
  std::deque<std::vector<std::string>> queued_;
  bool stopped_ = false;
};

}  // namespace tftp::server
