#include "console.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include <unistd.h>

namespace demos {
namespace {

std::mutex output_mutex;

template <class Endpoint, class Resolve>
std::variant<Endpoint, std::string> endpoint(std::string_view text, tftp::net::Use use, Resolve resolve) {
  auto parsed = tftp::net::parse_endpoint(text);
  if (!parsed) return std::string(text) + ": " + std::string(tftp::net::describe(parsed.error()));
  std::error_code ec;
  auto result = resolve(*parsed, use, ec);
  if (ec) return std::string(text) + ": " + ec.message();
  return result;
}

void write_line(std::FILE* stream, std::string_view line) {
  const std::lock_guard lock(output_mutex);
  std::fwrite(line.data(), 1, line.size(), stream);
  std::fputc('\n', stream);
  std::fflush(stream);
}

}  // namespace

std::variant<asio::ip::udp::endpoint, std::string> udp_endpoint(std::string_view text, tftp::net::Use use) {
  return endpoint<asio::ip::udp::endpoint>(text, use, tftp::net::resolve_udp);
}

std::variant<asio::ip::tcp::endpoint, std::string> tcp_endpoint(std::string_view text, tftp::net::Use use) {
  return endpoint<asio::ip::tcp::endpoint>(text, use, tftp::net::resolve_tcp);
}

void print_line(std::string_view line) { write_line(stdout, line); }
void print_error(std::string_view line) { write_line(stderr, line); }

void read_stdin_lines(std::function<void(std::string)> on_line, std::function<void()> on_end) {
  std::thread([on_line = std::move(on_line), on_end = std::move(on_end)] {
    std::string pending;
    char buffer[4096];
    for (;;) {
      const ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      pending.append(buffer, static_cast<std::size_t>(n));
      for (auto newline = pending.find('\n'); newline != std::string::npos; newline = pending.find('\n')) {
        std::string line = pending.substr(0, newline);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        pending.erase(0, newline + 1);
        on_line(std::move(line));
      }
    }
    if (!pending.empty()) on_line(std::move(pending));
    on_end();
  }).detach();
}

void exit_now(int status) {
  std::fflush(stdout);
  std::fflush(stderr);
  std::_Exit(status);
}

}  // namespace demos
