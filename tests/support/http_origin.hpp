#pragma once
// HTTP origins for the tests of fetches from --origin, each started by the test on 127.0.0.1 and ended with
// it: NginxOrigin serves a directory as a real server does (validators, keep-alive, 304), FaultOrigin runs
// fault_origin.py, which misbehaves on request (a slow first byte, a cut or stalled body, redirect loops; the
// behaviours are listed in the script). Both log every request to a file, read back by requests().
//
// nginx may be missing (Debian nginx-light): a test checks NginxOrigin::available() and skips with
// TFTP_SKIP_MISSING; FaultOrigin needs python3 on PATH, FaultOrigin::available(), and finds the script next
// to this header.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "support/child_process.hpp"
#include "support/files.hpp"
#include "support/temp_dir.hpp"

namespace tftp::test {

// A certificate and its key, for an https origin.
struct OriginTls {
  std::filesystem::path certificate;
  std::filesystem::path key;
};

// One request from an origin's log.
struct OriginRequest {
  std::string method;
  std::string path;
  std::string if_none_match;  // "-" when none was sent
  int status = 0;             // nginx only: the status it answered
  std::uint64_t bytes = 0;    // nginx only: body bytes it sent
  std::uint64_t connection = 0;  // nginx only: the connection's serial number (a reused one repeats)
};

namespace origin_detail {

using namespace std::chrono_literals;

inline std::optional<std::filesystem::path> find_program(std::string_view name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const auto candidate = std::filesystem::path(dir.empty() ? "." : dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

class Socket {
 public:
  Socket() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() { ::close(fd_); }
  int fd() const noexcept { return fd_; }

 private:
  int fd_;
};

inline sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

// A TCP port free on 127.0.0.1 a moment ago: the kernel's pick, released for the server to bind. Another
// process may take it meanwhile; the server then fails to bind and the caller picks again.
inline std::uint16_t free_port() {
  Socket socket;
  auto address = loopback(0);
  socklen_t size = sizeof address;
  if (::bind(socket.fd(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(socket.fd(), reinterpret_cast<sockaddr*>(&address), &size) != 0) {
    throw std::system_error(errno, std::generic_category(), "bind 127.0.0.1:0");
  }
  return ntohs(address.sin_port);
}

inline bool accepts_connections(std::uint16_t port) {
  Socket socket;
  const auto address = loopback(port);
  return ::connect(socket.fd(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
}

inline std::vector<std::string> lines_of(const std::filesystem::path& file) {
  std::vector<std::string> lines;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// "FIELD FIELD ... REST": `count` space-separated fields, then the rest of the line (which may hold spaces).
inline std::optional<std::vector<std::string>> split_fields(const std::string& line, std::size_t count) {
  std::vector<std::string> fields;
  std::size_t at = 0;
  while (fields.size() < count) {
    const auto space = line.find(' ', at);
    if (space == std::string::npos) return std::nullopt;
    fields.push_back(line.substr(at, space - at));
    at = space + 1;
  }
  fields.push_back(line.substr(at));
  return fields;
}

// A log line is written when the request is finished, which may be just after the client saw the whole
// response: whoever counts requests after a transfer waits for them, bounded.
template <class Origin>
std::size_t wait_for_gets(const Origin& origin, std::string_view path, std::size_t count,
                          std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    const std::size_t seen = origin.gets(path);
    if (seen >= count || std::chrono::steady_clock::now() >= deadline) return seen;
    std::this_thread::sleep_for(5ms);  // polling a file another process appends to, with a deadline
  }
}

template <class Origin>
std::size_t count_gets(const Origin& origin, std::string_view path) {
  std::size_t count = 0;
  for (const auto& request : origin.requests()) count += request.method == "GET" && request.path == path ? 1U : 0U;
  return count;
}

}  // namespace origin_detail

// A self-signed certificate for 127.0.0.1 (its own CA: a client given it as its CA file trusts the origin),
// made in `dir` with the openssl program; nullopt when there is none.
inline std::optional<OriginTls> self_signed_tls(const std::filesystem::path& dir) {
  const auto openssl = origin_detail::find_program("openssl");
  if (!openssl) return std::nullopt;
  OriginTls tls{dir / "origin.crt", dir / "origin.key"};
  ChildProcess made(Spawn{{openssl->string(), "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                           "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                           "-keyout", tls.key.string(), "-out", tls.certificate.string()},
                          Stdio::null, Stdio::null, Stdio::pipe});
  if (made.wait(std::chrono::seconds(30)) != 0) throw std::runtime_error("openssl req failed: " + made.errors());
  return tls;
}

// nginx in the foreground serving `root` on 127.0.0.1 (https with `tls`), with its configuration, logs, pid
// and temporary directories in a directory of its own.
class NginxOrigin {
 public:
  static constexpr const char* program = "/usr/sbin/nginx";
  static bool available() { return ::access(program, X_OK) == 0; }

  explicit NginxOrigin(std::filesystem::path root, std::optional<OriginTls> tls = std::nullopt)
      : root_(std::move(root)), tls_(std::move(tls)) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = origin_detail::free_port();
      if (start()) return;
    }
    throw std::runtime_error("nginx found no free port on 127.0.0.1: " + error_log());
  }

  std::uint16_t port() const noexcept { return port_; }
  std::string url() const { return (tls_ ? "https" : "http") + std::string("://127.0.0.1:") + std::to_string(port_) + "/"; }
  const std::filesystem::path& root() const noexcept { return root_; }

  // The access log: "METHOD URI STATUS BODY_BYTES CONNECTION IF-NONE-MATCH".
  std::vector<OriginRequest> requests() const {
    std::vector<OriginRequest> requests;
    for (const auto& line : origin_detail::lines_of(dir_ / "access.log")) {
      const auto fields = origin_detail::split_fields(line, 5);
      if (!fields) continue;
      const auto& f = *fields;
      const std::string if_none_match = f[5].empty() ? "-" : f[5];  // escape=none logs an absent header as ""
      requests.push_back(OriginRequest{f[0], f[1], if_none_match, std::stoi(f[2]), std::stoull(f[3]), std::stoull(f[4])});
    }
    return requests;
  }
  std::size_t gets(std::string_view path) const { return origin_detail::count_gets(*this, path); }
  // Waits until `count` GETs of `path` are in the log (or `limit` passed); the number seen.
  std::size_t wait_for_gets(std::string_view path, std::size_t count,
                            std::chrono::milliseconds limit = std::chrono::seconds(5)) const {
    return origin_detail::wait_for_gets(*this, path, count, limit);
  }

  std::string error_log() const {
    std::error_code ignored;
    return std::filesystem::exists(dir_ / "error.log", ignored) ? read_text(dir_ / "error.log") : std::string();
  }

 private:
  // True once it accepts connections; false when the port was taken meanwhile.
  bool start() {
    write_file(dir_ / "nginx.conf", config());
    std::filesystem::remove(dir_ / "nginx.pid");
    nginx_.reset();
    nginx_.emplace(Spawn{{program, "-p", dir_.path().string() + "/", "-c", (dir_ / "nginx.conf").string(), "-e",
                          (dir_ / "error.log").string()},
                         Stdio::null, Stdio::null, Stdio::pipe, {}, -1, true});
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      // Waiting for its exit paces the polls: bound to its port, nginx writes its pid file.
      if (nginx_->wait(std::chrono::milliseconds(10))) {
        const std::string log = error_log() + nginx_->errors();
        if (log.find("Address already in use") != std::string::npos) return false;
        throw std::runtime_error("nginx exited: " + log);
      }
      if (pid_written() && origin_detail::accepts_connections(port_)) return true;
    }
    throw std::runtime_error("nginx did not accept connections within 10 s: " + error_log());
  }

  bool pid_written() const {
    std::ifstream in(dir_ / "nginx.pid");
    long pid = 0;
    return static_cast<bool>(in >> pid) && pid == nginx_->pid();
  }

  std::string config() const {
    const std::string dir = dir_.path().string();
    std::string text;
    text += "daemon off;\nmaster_process on;\nworker_processes 1;\n";
    if (::geteuid() == 0) text += "user root;\n";  // the workers read our 0700 temporary directories
    text += "pid " + dir + "/nginx.pid;\nlock_file " + dir + "/nginx.lock;\n";
    text += "error_log " + dir + "/error.log warn;\n";
    text += "events { worker_connections 1024; }\n";
    text += "http {\n";
    text += "  log_format origin escape=none "
            "'$request_method $uri $status $body_bytes_sent $connection $http_if_none_match';\n";
    text += "  access_log " + dir + "/access.log origin;\n";  // unbuffered: a line per finished request
    for (const char* temp : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
      text += std::string("  ") + temp + "_temp_path " + dir + "/" + temp + ";\n";
    }
    text += "  default_type application/octet-stream;\n";
    text += "  keepalive_requests 100000;\n";
    text += "  server {\n";
    text += "    listen 127.0.0.1:" + std::to_string(port_) + (tls_ ? " ssl" : "") + ";\n";
    if (tls_) {
      text += "    ssl_certificate \"" + tls_->certificate.string() + "\";\n";
      text += "    ssl_certificate_key \"" + tls_->key.string() + "\";\n";
    }
    text += "    root \"" + root_.string() + "\";\n";
    text += "    location / { }\n";
    text += "  }\n}\n";
    return text;
  }

  std::filesystem::path root_;
  std::optional<OriginTls> tls_;
  TempDir dir_;
  std::uint16_t port_ = 0;
  std::optional<ChildProcess> nginx_;  // its own process group: the workers end with it
};

// tests/support/fault_origin.py on 127.0.0.1, on the port it picked and printed.
class FaultOrigin {
 public:
  // Next to this header: tests/ is an include directory given to the compiler as an absolute path.
  static std::filesystem::path script() { return std::filesystem::path(__FILE__).parent_path() / "fault_origin.py"; }
  static std::optional<std::filesystem::path> python() { return origin_detail::find_program("python3"); }
  static bool available() { return python().has_value(); }

  FaultOrigin()
      : server_(Spawn{{python().value_or("python3").string(), script().string(), "--log", (dir_ / "requests.log").string()},
                      Stdio::null, Stdio::pipe, Stdio::inherit}) {
    const auto line = server_.line(std::chrono::seconds(10));
    if (!line || line->empty() || line->find_first_not_of("0123456789") != std::string::npos) {
      throw std::runtime_error("fault_origin.py printed no port");
    }
    port_ = static_cast<std::uint16_t>(std::stoul(*line));
  }

  std::uint16_t port() const noexcept { return port_; }
  // "http://127.0.0.1:PORT/<behaviour>/": the behaviour with its arguments, e.g. "stall/10000/1000";
  // a file name is appended to it.
  std::string url(std::string_view behaviour) const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/" + std::string(behaviour) + "/";
  }

  // The log: "METHOD PATH IF-NONE-MATCH".
  std::vector<OriginRequest> requests() const {
    std::vector<OriginRequest> requests;
    for (const auto& line : origin_detail::lines_of(dir_ / "requests.log")) {
      const auto fields = origin_detail::split_fields(line, 2);
      if (fields) requests.push_back(OriginRequest{(*fields)[0], (*fields)[1], (*fields)[2]});
    }
    return requests;
  }
  std::size_t gets(std::string_view path) const { return origin_detail::count_gets(*this, path); }
  std::size_t wait_for_gets(std::string_view path, std::size_t count,
                            std::chrono::milliseconds limit = std::chrono::seconds(5)) const {
    return origin_detail::wait_for_gets(*this, path, count, limit);
  }

 private:
  TempDir dir_;
  ChildProcess server_;
  std::uint16_t port_ = 0;
};

}  // namespace tftp::test
