#include "tftp/server/hooks.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>

#include "tftp/asio/address.hpp"
#include "tftp/asio/endpoint.hpp"

namespace tftp::server {

namespace {

constexpr const char* hook_path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Without a pidfd (kernels before 5.3) a finished hook is noticed by polling.
constexpr std::chrono::milliseconds poll_interval{100};

int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  static_cast<void>(pid);
  errno = ENOSYS;
  return -1;
#endif
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exit {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("signal {}", WTERMSIG(status));
  return "unknown";
}

}  // namespace

std::vector<std::string> split_command(const std::string& command) {
  std::vector<std::string> words;
  std::string word;
  for (const char c : command) {
    if (c == ' ' || c == '\t') {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
    } else {
      word += c;
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

std::vector<std::string> hook_environment(const TransferRecord& record, const std::string& result) {
  const double seconds = std::chrono::duration<double>(record.elapsed).count();
  return {
      hook_path,
      "TFTP_CLIENT=" + net::to_string(net::to_asio(record.client)),
      "TFTP_FILE=" + record.file,  // a TFTP name holds no NUL, so it is one variable whatever bytes it has
      std::string("TFTP_DIRECTION=") + (record.direction == Direction::read ? "read" : "write"),
      "TFTP_BYTES=" + std::to_string(record.counters.bytes),
      "TFTP_RESULT=" + result,
      fmt::format("TFTP_SECONDS={:.3f}", seconds),
      "TFTP_BLKSIZE=" + std::to_string(record.negotiated.block_size),
      "TFTP_WINDOWSIZE=" + std::to_string(record.negotiated.window_size),
      "TFTP_RETRANSMISSIONS=" + std::to_string(record.counters.retransmissions),
  };
}

struct TransferHooks::Running {
  pid_t pid = -1;
  std::string file;
  std::optional<asio::posix::stream_descriptor> pidfd;
  asio::steady_timer limit;
  asio::steady_timer poll;
  bool killed = false;
  bool done = false;

  explicit Running(asio::io_context& io) : limit(io), poll(io) {}
};

TransferHooks::TransferHooks(asio::io_context& io, std::vector<std::string> command, HookLimits limits, ServerLog& log)
    : io_(io), command_(std::move(command)), limits_(limits), log_(log) {}

TransferHooks::~TransferHooks() {
  // The server is going away: what still runs is stopped, and reaped so that no zombie is left.
  for (auto& hook : running_) {
    if (hook->done) continue;
    ::kill(-hook->pid, SIGKILL);
    int status = 0;
    ::waitpid(hook->pid, &status, 0);
  }
}

void TransferHooks::on_transfer(const TransferRecord& record, const std::string& result) {
  if (stopped_ || command_.empty()) return;
  run(hook_environment(record, result), record.file);
}

void TransferHooks::on_refusal(const RequestRefused& refused) {
  if (stopped_ || command_.empty() || refused.malformed) return;
  TransferRecord record;
  record.client = refused.client;
  record.file = refused.file;
  record.direction = refused.direction;
  const auto result = fmt::format("refused: ERROR {} {}", static_cast<unsigned>(refused.error.code), refused.error.message);
  run(hook_environment(record, result), record.file);
}

void TransferHooks::run(std::vector<std::string> environment, const std::string& file) {
  if (running_.size() < limits_.max_running) {
    spawn(std::move(environment));
    return;
  }
  if (queued_.size() < limits_.max_queued) {
    queued_.push_back(std::move(environment));
    return;
  }
  log_.write(LogEvent{LogLevel::warning, "hook-skipped", {}}
                 .add("file", file)
                 .add("reason", fmt::format("{} running and {} waiting", running_.size(), queued_.size()))
                 .limited("hook"));
}

void TransferHooks::stop() {
  stopped_ = true;
  queued_.clear();
}

void TransferHooks::spawn(std::vector<std::string> environment) {
  auto argv_strings = command_;
  auto argv = pointers(argv_strings);
  auto envp = pointers(environment);
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawnattr_init(&attributes);
  for (const int fd : {0, 1, 2}) {
    ::posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0);
  }
  ::posix_spawn_file_actions_addclosefrom_np(&actions, 3);  // no socket or file of the server
  sigset_t none;
  sigset_t defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (const int signal : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&defaults, signal);
  ::posix_spawnattr_setsigmask(&attributes, &none);
  ::posix_spawnattr_setsigdefault(&attributes, &defaults);
  ::posix_spawnattr_setpgroup(&attributes, 0);
  ::posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  const int error = ::posix_spawnp(&pid, argv[0], &actions, &attributes, argv.data(), envp.data());
  ::posix_spawn_file_actions_destroy(&actions);
  ::posix_spawnattr_destroy(&attributes);
  std::string file;
  for (const auto& entry : environment) {
    if (entry.rfind("TFTP_FILE=", 0) == 0) file = entry.substr(10);
  }
  if (error != 0) {
    log_.write(LogEvent{LogLevel::error, "hook-failed", {}}
                   .add("command", command_.front())
                   .add("file", file)
                   .add("reason", std::strerror(error))
                   .limited("hook"));
    return;
  }

  auto hook = std::make_shared<Running>(io_);
  hook->pid = pid;
  hook->file = std::move(file);
  running_.push_back(hook);
  hook->limit.expires_after(limits_.timeout);
  hook->limit.async_wait([hook](std::error_code ec) {
    if (ec || hook->done) return;
    hook->killed = true;
    ::kill(-hook->pid, SIGKILL);  // its whole process group: a shell's children too
  });
  const auto reap = [this, hook] {
    int status = 0;
    if (hook->done || ::waitpid(hook->pid, &status, WNOHANG) != hook->pid) return false;
    finished(*hook, status, hook->killed);
    return true;
  };
  const int pidfd = open_pidfd(pid);
  if (pidfd >= 0) {
    hook->pidfd.emplace(io_, pidfd);
    hook->pidfd->async_wait(asio::posix::stream_descriptor::wait_read, [reap](std::error_code ec) {
      if (!ec) reap();
    });
    return;
  }
  // No pidfd: poll.
  auto poll = std::make_shared<std::function<void()>>();
  *poll = [hook, reap, poll] {
    if (reap()) return;
    hook->poll.expires_after(poll_interval);
    hook->poll.async_wait([poll](std::error_code ec) {
      if (!ec) (*poll)();
    });
  };
  (*poll)();
}

void TransferHooks::finished(Running& hook, int status, bool killed) {
  hook.done = true;
  hook.limit.cancel();
  hook.poll.cancel();
  if (hook.pidfd) {
    std::error_code ignored;
    hook.pidfd->close(ignored);
  }
  if (killed) {
    log_.write(LogEvent{LogLevel::warning, "hook-killed", {}}
                   .add("command", command_.front())
                   .add("file", hook.file)
                   .add_number("limit_seconds", fmt::format("{:.3f}", std::chrono::duration<double>(limits_.timeout).count()))
                   .limited("hook"));
  } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    log_.write(LogEvent{LogLevel::warning, "hook-failed", {}}
                   .add("command", command_.front())
                   .add("file", hook.file)
                   .add("reason", describe_status(status))
                   .limited("hook"));
  } else if (log_.tracing()) {
    log_.write(LogEvent{LogLevel::debug, "hook", {}}.add("command", command_.front()).add("file", hook.file));
  }
  running_.erase(std::remove_if(running_.begin(), running_.end(), [&](const auto& h) { return h.get() == &hook; }),
                 running_.end());
  if (!queued_.empty() && !stopped_) {
    auto next = std::move(queued_.front());
    queued_.pop_front();
    spawn(std::move(next));
  }
}

}  // namespace tftp::server
