#pragma once
// Prometheus metrics of the server (text exposition format 0.0.4): the endpoint's counters and sessions, and
// what finished transfers add up to. Names follow Prometheus conventions (tftp_..._total for counters, base
// units: seconds, bytes); no label takes a value a client chooses (no file names, no addresses): labels are
// an opcode, a direction, a result from a fixed set, an ERROR code 0-8.
//
// ServerMetrics is fed by every worker at each transfer's end (a lock per transfer, none per packet) and
// rendered on the server's loop (a scrape is posted there by MetricsServer) from the endpoints' counters,
// each read on its own worker's thread and summed (EndpointSnapshot). MetricsServer serves GET /metrics
// with cpp-httplib on its own thread.

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <asio/io_context.hpp>

#include "tftp/address.hpp"
#include "tftp/server_endpoint.hpp"

namespace tftp::server {

// A Prometheus histogram with fixed upper bounds.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1) {}
  void observe(double value);
  // The _bucket, _sum and _count lines of `name`.
  void render(std::string& out, std::string_view name) const;

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;  // per bucket (not cumulative); the last is +Inf
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

struct OriginCounters;

// The --origin cache's families (tftp_origin_..., tftp_cache_...), appended to a scrape.
void render_origin_metrics(std::string& out, const OriginCounters& counters, std::uint64_t cache_size);

// How a transfer ended, as a label value from a fixed set.
std::string_view transfer_result(const Outcome& outcome) noexcept;

// What a scrape reads of an endpoint, so that the workers' endpoints add up.
struct EndpointSnapshot {
  EndpointCounters counters;
  std::array<SessionTotals, 2> running;  // read, write
  std::size_t max_sessions = 0;
  std::size_t max_sessions_per_client = 0;
  EndpointSnapshot& operator+=(const EndpointSnapshot& other);
};
EndpointSnapshot snapshot(const ServerEndpoint& endpoint);

class ServerMetrics {
 public:
  ServerMetrics();
  void on_transfer(const TransferRecord& record);
  std::string render(const EndpointSnapshot& endpoints) const;

 private:
  static constexpr std::size_t result_count = 8;
  struct Finished {
    std::array<std::uint64_t, result_count> by_result{};
    TransferCounters counters;
  };
  mutable std::mutex mutex_;  // the workers' transfers end on their own threads
  std::array<Finished, 2> finished_;  // by direction: read, write
  Histogram duration_;
  Histogram round_trip_;
};

class MetricsServer {
 public:
  // Binds ADDR:PORT (port 0: any free port) now, before privileges are dropped; serves once started.
  // render runs on `io`'s thread for each scrape. Throws std::runtime_error when it cannot bind.
  MetricsServer(asio::io_context& io, const HostPort& address, std::function<std::string()> render);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  void start();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::uint16_t port_ = 0;
};

}  // namespace tftp::server
