#pragma once
// A program run as a child process by a test: a server under test, a peer server, a client run to its end.
// Its stdin, stdout and stderr are each the test's own, /dev/null or a pipe; piped output is read line by line
// or whole, every wait bounded by a deadline (poll on the pipes and a pidfd, never a sleep). The destructor
// ends a child that still runs (its whole process group when it has one: servers that fork workers).
#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

extern char** environ;

namespace tftp::test {

enum class Stdio { inherit, null, pipe };

struct Spawn {
  std::vector<std::string> argv;  // argv[0] is the program's path
  Stdio in = Stdio::null;
  Stdio out = Stdio::inherit;
  Stdio err = Stdio::inherit;
  std::filesystem::path directory;  // where it runs; empty: the test's working directory
  // A socket passed the systemd way: as fd 3, with LISTEN_FDS=1 and LISTEN_PID set to the child.
  int listen_fd = -1;
  // Its own process group, ended whole (a server that forks a worker per request).
  bool own_group = false;
};

class ChildProcess {
 public:
  explicit ChildProcess(Spawn spawn) : own_group_(spawn.own_group) {
    if (spawn.in == Stdio::pipe) std::signal(SIGPIPE, SIG_IGN);  // a child that exits early fails the test
    Pipe in = open_pipe(spawn.in);
    Pipe out = open_pipe(spawn.out);
    Pipe err = open_pipe(spawn.err);
    const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0) throw std::system_error(errno, std::generic_category(), "open /dev/null");

    // Everything the child needs is made before fork: it may only make async-signal-safe calls.
    std::vector<char*> argv;
    for (auto& arg : spawn.argv) argv.push_back(arg.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_storage;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string_view entry(*e);
      if (spawn.listen_fd < 0 || !(entry.starts_with("LISTEN_FDS=") || entry.starts_with("LISTEN_PID="))) {
        env_storage.emplace_back(entry);
      }
    }
    std::size_t pid_entry = 0;
    if (spawn.listen_fd >= 0) {
      env_storage.emplace_back("LISTEN_FDS=1");
      pid_entry = env_storage.size();
      env_storage.emplace_back("LISTEN_PID=" + std::string(20, '\0'));
    }
    std::vector<char*> env;
    for (auto& entry : env_storage) env.push_back(entry.data());
    env.push_back(nullptr);
    const std::string directory = spawn.directory.string();

    // The child reports a failed chdir or exec here; a successful exec closes it (close-on-exec) unwritten, so
    // once the constructor returned the program runs (and its process group, if any, exists).
    const Pipe started = open_pipe(Stdio::pipe);
    pid_ = ::fork();
    if (pid_ < 0) throw std::system_error(errno, std::generic_category(), "fork");
    if (pid_ == 0) {
      if (own_group_) ::setpgid(0, 0);
      const auto attach = [null](const Pipe& pipe, Stdio how, int fd, bool child_reads) {
        if (how == Stdio::null) ::dup2(null, fd);
        if (how == Stdio::pipe) ::dup2(child_reads ? pipe.read : pipe.write, fd);
      };
      attach(in, spawn.in, STDIN_FILENO, true);
      attach(out, spawn.out, STDOUT_FILENO, false);
      attach(err, spawn.err, STDERR_FILENO, false);
      if (spawn.listen_fd >= 0) {
        // dup2 onto itself would keep close-on-exec: clear it explicitly.
        if (spawn.listen_fd != 3) ::dup2(spawn.listen_fd, 3);
        ::fcntl(3, F_SETFD, 0);
        write_decimal(env_storage[pid_entry].data() + sizeof("LISTEN_PID=") - 1, ::getpid());
      }
      if (directory.empty() || ::chdir(directory.c_str()) == 0) ::execve(argv.front(), argv.data(), env.data());
      const int error = errno;
      static_cast<void>(::write(started.write, &error, sizeof error));
      ::_exit(127);
    }
    ::close(started.write);
    int exec_error = 0;
    const bool failed = ::read(started.read, &exec_error, sizeof exec_error) == sizeof exec_error;
    ::close(started.read);
    ::close(null);
    stdin_ = in.write;
    stdout_ = out.read;
    stderr_ = err.read;
    for (const int unused : {in.read, out.write, err.write}) {
      if (unused >= 0) ::close(unused);
    }
    pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    const int error = failed ? exec_error : pidfd_ < 0 ? errno : 0;
    if (error != 0) {
      end();  // no destructor runs after a throw
      const std::string what = (failed ? "cannot run " : "pidfd_open for ") + spawn.argv.front();
      throw std::system_error(error, std::generic_category(), what);
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() { end(); }

  pid_t pid() const noexcept { return pid_; }
  void signal(int number) const {
    if (!running()) return;
    ::kill(own_group_ ? -pid_ : pid_, number);
  }

  void write(std::string_view text) {
    while (!text.empty() && stdin_ >= 0) {
      const ssize_t n = ::write(stdin_, text.data(), text.size());
      if (n <= 0) return;
      text.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  void close_stdin() {
    if (stdin_ >= 0) ::close(stdin_);
    stdin_ = -1;
  }

  // The next line of stdout (error_line: of stderr) without its newline; nullopt at the end of the output or
  // when none came within `limit`.
  std::optional<std::string> line(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    return next_line(out_, limit);
  }
  std::optional<std::string> error_line(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    return next_line(err_, limit);
  }
  // What stdout (stderr) held that no line() (error_line()) call took yet: after wait(), the rest of it.
  const std::string& output() const noexcept { return out_.buffer; }
  const std::string& errors() const noexcept { return err_.buffer; }

  // Waits for the child to exit (reading its pipes meanwhile) and returns its status, 128 + N for signal N;
  // nullopt when it still runs after `limit`.
  std::optional<int> wait(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (running()) {
      if (std::chrono::steady_clock::now() >= deadline || !pump(deadline, true)) return std::nullopt;
    }
    while (pump(std::chrono::steady_clock::now(), false)) {  // what it wrote just before it exited
    }
    return status_;
  }
  // Sends a signal and waits for the exit.
  std::optional<int> stop(int number = SIGTERM, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    signal(number);
    return wait(limit);
  }

 private:
  struct Pipe {
    int read = -1;
    int write = -1;
  };
  struct Output {
    int* fd;
    std::string buffer;
  };

  static Pipe open_pipe(Stdio how) {
    Pipe pipe;
    if (how != Stdio::pipe) return pipe;
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
    return {fds[0], fds[1]};
  }

  static void write_decimal(char* out, pid_t value) noexcept {
    char digits[20];
    int n = 0;
    do {
      digits[n++] = static_cast<char>('0' + value % 10);
      value /= 10;
    } while (value > 0);
    while (n > 0) *out++ = digits[--n];
    *out = '\0';
  }

  bool running() const noexcept { return pid_ > 0 && !status_; }

  void end() noexcept {
    close_stdin();
    if (running()) {
      signal(SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      status_ = 128 + SIGKILL;
    }
    for (int* fd : {&stdout_, &stderr_, &pidfd_}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
  }

  std::optional<std::string> next_line(Output& output, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      if (const auto newline = output.buffer.find('\n'); newline != std::string::npos) {
        std::string text = output.buffer.substr(0, newline);
        output.buffer.erase(0, newline + 1);
        return text;
      }
      if (*output.fd < 0 || std::chrono::steady_clock::now() >= deadline || !pump(deadline, false)) {
        return std::nullopt;
      }
    }
  }

  // One wait for output or (with `for_exit`) the exit, until `deadline`: reads what came, reaps the child when
  // it exited. False when nothing came in time, or there is nothing left to wait for.
  bool pump(std::chrono::steady_clock::time_point deadline, bool for_exit) {
    std::vector<pollfd> fds;
    for (const int fd : {stdout_, stderr_}) {
      if (fd >= 0) fds.push_back({fd, POLLIN, 0});
    }
    if (for_exit && running()) fds.push_back({pidfd_, POLLIN, 0});
    if (fds.empty()) return false;
    using std::chrono::milliseconds;
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(std::max<long long>(left.count(), 0)));
    if (ready < 0 && errno == EINTR) return true;
    if (ready <= 0) return false;
    for (const auto& polled : fds) {
      if (polled.revents == 0) continue;
      if (polled.fd == pidfd_) {
        reap();
      } else {
        read_some(polled.fd == stdout_ ? out_ : err_);
      }
    }
    return true;
  }

  void read_some(Output& output) {
    char chunk[4096];
    const ssize_t n = ::read(*output.fd, chunk, sizeof chunk);
    if (n > 0) {
      output.buffer.append(chunk, static_cast<std::size_t>(n));
      return;
    }
    ::close(*output.fd);  // the end of the output (or a broken pipe)
    *output.fd = -1;
  }

  void reap() {
    int status = 0;
    if (::waitpid(pid_, &status, 0) != pid_) return;
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (own_group_) ::kill(-pid_, SIGKILL);  // workers it left behind
  }

  pid_t pid_ = -1;
  bool own_group_ = false;
  int stdin_ = -1;
  int stdout_ = -1;
  int stderr_ = -1;
  int pidfd_ = -1;
  Output out_{&stdout_, {}};
  Output err_{&stderr_, {}};
  std::optional<int> status_;
};

}  // namespace tftp::test
