#pragma once
// The server in-process on 127.0.0.1 port 0 (or ::1), its io_context on a thread, its log captured so
// that a test can wait (bounded) for "the transfer was logged" instead of sleeping. Plus a test client
// that downloads over a RawPeer, checking every packet on the way.
#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/files.hpp"
#include "support/pattern.hpp"
#include "support/raw_peer.hpp"
#include "support/temp_dir.hpp"
#include "tftp/server/server.hpp"

namespace tftp::test {

inline server::ServerConfig test_config(bool ipv6 = false) {
  server::ServerConfig config;
  config.listen = {server::ListenAddress{ipv6 ? "::1" : "127.0.0.1", 0}};
  config.timeout = std::chrono::milliseconds(1000);
  config.adaptive_timeout = false;  // a fixed timeout, so a test reacting at once never races a resend
  config.verbosity = server::Verbosity::verbose;
  return config;
}

class ServerHarness {
 public:
  explicit ServerHarness(server::ServerConfig config) : dir_(), config_(std::move(config)) {
    std::filesystem::create_directory(root());
    config_.root = root();
    log_ = std::make_unique<server::ServerLog>(config_.log_format, config_.verbosity,
                                               [this](std::string_view line) { add_line(line); });
  }
  ~ServerHarness() { stop(); }

  const std::filesystem::path root() const { return dir_.path() / "root"; }
  const std::filesystem::path outside() const { return dir_.path(); }

  void start() {
    server_ = std::make_unique<server::Server>(io_, config_, *log_);
    port_ = server_->local_endpoints().at(0).port();
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  void stop() {
    if (!thread_.joinable()) return;
    asio::post(io_, [this] { server_->shutdown(std::chrono::milliseconds(0)); });
    thread_.join();
  }
  std::uint16_t port() const { return port_; }
  // Sessions open in the server, over every worker.
  std::size_t session_count() const { return server_->session_count(); }
  // Where --metrics serves (0 without it).
  std::uint16_t metrics_port() const { return server_ ? server_->metrics_port() : 0; }

  // Waits until a log line contains every one of `parts`; false after `timeout`.
  bool wait_for_log(std::vector<std::string> parts, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] {
      for (const auto& line : lines_) {
        bool all = true;
        for (const auto& part : parts) all = all && line.find(part) != std::string::npos;
        if (all) return true;
      }
      return false;
    });
  }
  // Waits until `count` log lines contain `part`; false after `timeout`.
  bool wait_for_lines(const std::string& part, std::size_t count,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] {
      return static_cast<std::size_t>(std::count_if(lines_.begin(), lines_.end(), [&](const std::string& line) {
               return line.find(part) != std::string::npos;
             })) >= count;
    });
  }
  std::vector<std::string> lines() {
    std::lock_guard lock(mutex_);
    return lines_;
  }

 private:
  void add_line(std::string_view line) {
    {
      std::lock_guard lock(mutex_);
      lines_.emplace_back(line);
    }
    changed_.notify_all();
  }

  TempDir dir_;
  server::ServerConfig config_;
  std::unique_ptr<server::ServerLog> log_;
  asio::io_context io_;
  std::unique_ptr<server::Server> server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> lines_;
};

struct Download {
  Bytes bytes;
  std::optional<Error> error;
  std::optional<Oack> oack;
  std::uint64_t blocks = 0;
  std::uint64_t duplicates = 0;  // resent blocks, each acknowledged again
  std::uint16_t port = 0;  // the server port every packet came from
  std::set<std::string> addresses;  // the server addresses the packets came from
  std::string failure;  // what went wrong on the test side ("timeout", "unexpected ...")
};

// How download() takes a DATA block it already has.
enum class Repeats {
  // Only the block it acknowledged last may come again (the server's window was shorter than ours, slow
  // start, or our ACK was late): acknowledged again and counted. Any other block out of order ends the
  // download with failure "unexpected packet". For tests whose point is exactly what the server sends.
  strict,
  // Any block of the last window may come again, as when a busy machine delays an ACK past the server's
  // timeout and the server resends the whole window: each acknowledged again with the last block in order (as
  // an RFC 7440 receiver does) and counted. For tests whose point is the bytes, with many clients at once.
  counted,
};

// RRQ and a checking client: every DATA must come from the one session port and carry the expected block
// (or a repeat that `repeats` allows); ACKs the last block of each window (windowsize from the OACK, 1
// without).
inline Download download(const RawPeer& peer, std::uint16_t server_port, const std::string& name,
                         OptionList options = {}, Mode mode = Mode::octet, Repeats repeats = Repeats::strict) {
  Download result;
  peer.send(server_port, Rrq{name, mode, options});
  std::uint16_t session = 0;
  std::size_t block_size = default_block_size;
  std::uint16_t window = 1;
  std::uint16_t expected = 1;
  unsigned in_window = 0;
  for (;;) {
    auto datagram = peer.receive();
    if (!datagram) {
      result.failure = "timeout";
      return result;
    }
    if (session == 0) session = result.port = datagram->port;
    result.addresses.insert(datagram->address);
    if (datagram->port != session) {
      result.failure = "packet from a second port";
      return result;
    }
    auto packet = datagram->packet();
    if (auto* error = std::get_if<Error>(&packet)) {
      result.error = *error;
      return result;
    }
    if (auto* oack = std::get_if<Oack>(&packet)) {
      result.oack = *oack;
      if (auto* o = find_option(oack->options, "blksize")) block_size = *parse_decimal(o->value);
      if (auto* o = find_option(oack->options, "windowsize")) window = static_cast<std::uint16_t>(*parse_decimal(o->value));
      peer.send(session, Ack{0});
      continue;
    }
    auto* data = std::get_if<Data>(&packet);
    const auto behind = data != nullptr ? static_cast<std::uint16_t>(expected - data->block) : std::uint16_t{0};
    const std::uint64_t allowed = repeats == Repeats::strict ? 1U : window;
    if (behind >= 1 && behind <= std::min<std::uint64_t>(allowed, result.blocks)) {
      ++result.duplicates;
      peer.send(session, Ack{static_cast<std::uint16_t>(expected - 1)});
      in_window = 0;
      continue;
    }
    if (data == nullptr || data->block != expected) {
      result.failure = "unexpected packet";
      return result;
    }
    result.bytes.insert(result.bytes.end(), data->payload.begin(), data->payload.end());
    ++result.blocks;
    ++expected;
    const bool last = data->payload.size() < block_size;
    if (last || ++in_window == window) {
      peer.send(session, Ack{data->block});
      in_window = 0;
    }
    if (last) return result;
  }
}

struct Upload {
  std::optional<Error> error;
  std::string failure;
};

// WRQ and lock-step DATA of block_size bytes (the caller's options negotiate it), each ACK checked; an OACK
// counts as ACK 0.
inline Upload upload(const RawPeer& peer, std::uint16_t server_port, const std::string& name,
                     std::span<const std::byte> bytes, OptionList options = {}, Mode mode = Mode::octet,
                     std::size_t block_size = 512) {
  Upload result;
  peer.send(server_port, Wrq{name, mode, options});
  std::uint16_t session = 0;
  std::uint16_t block = 0;
  std::size_t offset = 0;
  bool last_sent = false;
  for (;;) {
    auto datagram = peer.receive();
    if (!datagram) {
      result.failure = "timeout";
      return result;
    }
    if (session == 0) session = datagram->port;
    auto packet = datagram->packet();
    if (auto* error = std::get_if<Error>(&packet)) {
      result.error = *error;
      return result;
    }
    const bool acked = std::holds_alternative<Oack>(packet) ? block == 0
                                                              : std::get_if<Ack>(&packet) != nullptr &&
                                                                    std::get<Ack>(packet).block == block;
    if (!acked) {
      result.failure = "unexpected packet";
      return result;
    }
    if (last_sent) return result;  // the final ACK
    const std::size_t n = std::min(block_size, bytes.size() - offset);
    ++block;
    peer.send(session, Data{block, bytes.subspan(offset, n)});
    offset += n;
    last_sent = n < block_size;
  }
}

}  // namespace tftp::test
