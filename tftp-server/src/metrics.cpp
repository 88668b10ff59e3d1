#include "tftp/server/metrics.hpp"

#include "tftp/server/origin_content.hpp"

#include <httplib.h>

#include <fmt/format.h>

#include <chrono>
#include <future>
#include <initializer_list>
#include <stdexcept>
#include <thread>

#include <asio/post.hpp>

namespace tftp::server {

namespace {

constexpr std::array<std::string_view, 8> results = {"completed",      "timed_out", "unanswered", "declined",
                                                     "client_error",   "protocol_error", "io_error", "aborted"};
constexpr std::array<std::string_view, 2> directions = {"read", "write"};

std::size_t result_index(std::string_view result) {
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (results[i] == result) return i;
  }
  return results.size() - 1;
}

// Values as Prometheus reads them: integers as such, other numbers with enough digits.
std::string number(double value) { return fmt::format("{}", value); }

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void sample(std::string& out, std::string_view name, std::string_view labels, std::uint64_t value) {
  if (labels.empty()) {
    out += fmt::format("{} {}\n", name, value);
  } else {
    out += fmt::format("{}{{{}}} {}\n", name, labels, value);
  }
}

// A family of one unlabelled sample.
struct Single {
  std::string_view name;
  std::string_view type;
  std::string_view help;
  std::uint64_t value;
};

void singles(std::string& out, std::initializer_list<Single> list) {
  for (const auto& single : list) {
    family(out, single.name, single.type, single.help);
    sample(out, single.name, "", single.value);
  }
}

}  // namespace

void Histogram::observe(double value) {
  std::size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += value;
  ++count_;
}

void Histogram::render(std::string& out, std::string_view name) const {
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, number(bounds_[i]), cumulative);
  }
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, count_);
  out += fmt::format("{}_sum {}\n{}_count {}\n", name, number(sum_), name, count_);
}

std::string_view transfer_result(const Outcome& outcome) noexcept {
  if (outcome.completed()) return "completed";
  switch (outcome.error) {
    case errc::timed_out: return "timed_out";
    case errc::unanswered: return "unanswered";
    case errc::options_declined: return "declined";
    case errc::peer_error: return "client_error";
    case errc::local_io_error:
    case errc::buffer_too_small: return "io_error";
    case errc::aborted: return "aborted";
    default: return "protocol_error";
  }
}

ServerMetrics::ServerMetrics()
    : duration_({0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}),
      round_trip_({0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2}) {}

EndpointSnapshot snapshot(const ServerEndpoint& endpoint) {
  return EndpointSnapshot{endpoint.counters(),
                          {endpoint.running(Direction::read), endpoint.running(Direction::write)},
                          endpoint.config().max_sessions,
                          endpoint.config().max_sessions_per_client};
}

namespace {

void add(RequestResults& to, const RequestResults& from) {
  to.served += from.served;
  to.refused += from.refused;
  to.repeated += from.repeated;
  to.ignored += from.ignored;
}

void add(EndpointCounters& to, const EndpointCounters& from) {
  add(to.rrq, from.rrq);
  add(to.wrq, from.wrq);
  for (auto field : {&EndpointCounters::requests, &EndpointCounters::read_requests, &EndpointCounters::write_requests,
                     &EndpointCounters::malformed_requests, &EndpointCounters::repeated_requests,
                     &EndpointCounters::ignored_requests, &EndpointCounters::sessions, &EndpointCounters::refused,
                     &EndpointCounters::busy, &EndpointCounters::evictions, &EndpointCounters::strangers,
                     &EndpointCounters::strangers_answered, &EndpointCounters::completed, &EndpointCounters::failed}) {
    to.*field += from.*field;
  }
  for (std::size_t code = 0; code < to.refused_by_code.size(); ++code) to.refused_by_code[code] += from.refused_by_code[code];
}

}  // namespace

// Counters and sessions add up; the limits are the server's, the same in every worker.
EndpointSnapshot& EndpointSnapshot::operator+=(const EndpointSnapshot& other) {
  add(counters, other.counters);
  for (std::size_t d = 0; d < running.size(); ++d) {
    running[d].sessions += other.running[d].sessions;
    running[d].counters += other.running[d].counters;
  }
  max_sessions = other.max_sessions;
  max_sessions_per_client = other.max_sessions_per_client;
  return *this;
}

void ServerMetrics::on_transfer(const TransferRecord& record) {
  const std::lock_guard lock(mutex_);
  auto& finished = finished_[record.direction == Direction::read ? 0 : 1];
  ++finished.by_result[result_index(transfer_result(record.outcome))];
  finished.counters += record.counters;
  duration_.observe(std::chrono::duration<double>(record.elapsed).count());
  if (record.round_trip) round_trip_.observe(std::chrono::duration<double>(*record.round_trip).count());
}

std::string ServerMetrics::render(const EndpointSnapshot& endpoints) const {
  const std::lock_guard lock(mutex_);
  const auto& c = endpoints.counters;
  const auto& running = endpoints.running;
  std::string out;
  out.reserve(8192);

  family(out, "tftp_requests_total", "counter",
         "RRQ and WRQ datagrams received on listening sockets, by what became of them.");
  for (const auto& [opcode, by] : {std::pair{"rrq", &c.rrq}, std::pair{"wrq", &c.wrq}}) {
    for (const auto& [result, count] : {std::pair{"served", by->served}, std::pair{"refused", by->refused},
                                        std::pair{"repeated", by->repeated}, std::pair{"ignored", by->ignored}}) {
      sample(out, "tftp_requests_total", fmt::format("opcode=\"{}\",result=\"{}\"", opcode, result), count);
    }
  }
  singles(out, {
      {"tftp_requests_malformed_total", "counter", "Requests that did not parse (answered with ERROR 4).",
       c.malformed_requests},
      {"tftp_busy_total", "counter", "Requests refused with ERROR 0 \"server busy\" (a session limit).", c.busy},
      {"tftp_sessions_opened_total", "counter", "Transfers started.", c.sessions},
      {"tftp_evictions_total", "counter",
       "Sessions whose client never answered, ended to make room for a new request.", c.evictions},
      {"tftp_strangers_total", "counter", "Datagrams from an address or port without a transfer.", c.strangers},
      {"tftp_strangers_answered_total", "counter", "ERROR 5 replies to strangers (rate-limited).",
       c.strangers_answered},
  });
  family(out, "tftp_refusals_total", "counter", "Requests answered with an ERROR instead of a transfer, by code.");
  for (std::size_t code = 0; code < c.refused_by_code.size(); ++code) {
    sample(out, "tftp_refusals_total", fmt::format("code=\"{}\"", code), c.refused_by_code[code]);
  }

  family(out, "tftp_transfers_total", "counter", "Finished transfers by direction and result.");
  for (std::size_t d = 0; d < directions.size(); ++d) {
    for (std::size_t r = 0; r < results.size(); ++r) {
      sample(out, "tftp_transfers_total", fmt::format("direction=\"{}\",result=\"{}\"", directions[d], results[r]),
             finished_[d].by_result[r]);
    }
  }
  // Packet counts include the transfers still running.
  const auto total = [&](std::size_t d, auto field) { return finished_[d].counters.*field + running[d].counters.*field; };
  family(out, "tftp_transfer_bytes_total", "counter", "File bytes moved (sent for read, received for write).");
  for (std::size_t d = 0; d < directions.size(); ++d) {
    sample(out, "tftp_transfer_bytes_total", fmt::format("direction=\"{}\"", directions[d]),
           total(d, &TransferCounters::bytes));
  }
  family(out, "tftp_data_packets_sent_total", "counter", "DATA packets sent (downloads), retransmissions included.");
  sample(out, "tftp_data_packets_sent_total", "", total(0, &TransferCounters::data_sent));
  family(out, "tftp_ack_packets_sent_total", "counter", "ACK packets sent (uploads), re-ACKs included.");
  sample(out, "tftp_ack_packets_sent_total", "", total(1, &TransferCounters::acks_sent));
  family(out, "tftp_retransmissions_total", "counter", "Datagrams sent again (timeouts, gaps, re-ACKs).");
  family(out, "tftp_timeouts_total", "counter", "Retransmission timeouts that expired.");
  family(out, "tftp_duplicates_total", "counter", "Duplicate ACKs (downloads) and DATA (uploads) received.");
  for (const auto& [name, field] : {std::pair{"tftp_retransmissions_total", &TransferCounters::retransmissions},
                                    std::pair{"tftp_timeouts_total", &TransferCounters::timeouts},
                                    std::pair{"tftp_duplicates_total", &TransferCounters::duplicates}}) {
    for (std::size_t d = 0; d < directions.size(); ++d) {
      sample(out, name, fmt::format("direction=\"{}\"", directions[d]), total(d, field));
    }
  }

  family(out, "tftp_sessions", "gauge", "Sessions open now (running, or an upload dallying for a lost final ACK).");
  for (std::size_t d = 0; d < directions.size(); ++d) {
    sample(out, "tftp_sessions", fmt::format("direction=\"{}\"", directions[d]), running[d].sessions);
  }
  family(out, "tftp_max_sessions", "gauge", "The --max-sessions limit.");
  sample(out, "tftp_max_sessions", "", endpoints.max_sessions);
  family(out, "tftp_max_sessions_per_client", "gauge", "The --max-sessions-per-client limit.");
  sample(out, "tftp_max_sessions_per_client", "", endpoints.max_sessions_per_client);

  family(out, "tftp_transfer_duration_seconds", "histogram", "Duration of finished transfers.");
  duration_.render(out, "tftp_transfer_duration_seconds");
  family(out, "tftp_round_trip_seconds", "histogram", "Smoothed round trip of each finished transfer that measured one.");
  round_trip_.render(out, "tftp_round_trip_seconds");
  return out;
}

void render_origin_metrics(std::string& out, const OriginCounters& c, std::uint64_t cache_size) {
  family(out, "tftp_origin_requests_total", "counter", "GET requests sent to --origin, plain or conditional (revalidation).");
  sample(out, "tftp_origin_requests_total", "kind=\"fetch\"", c.fetches - c.revalidations);
  sample(out, "tftp_origin_requests_total", "kind=\"revalidation\"", c.revalidations);
  singles(out, {
      {"tftp_origin_failures_total", "counter",
       "Fetches that ended without a usable answer (unreachable, timed out, 5xx, broken mid-file).", c.fetch_failures},
      {"tftp_origin_bytes_total", "counter", "Body bytes received from the origin.", c.bytes_fetched},
      {"tftp_cache_hits_total", "counter", "Reads served from a complete cached file (fresh or revalidated).", c.hits},
      {"tftp_cache_joined_total", "counter", "Reads that followed a fetch already running for their file.", c.joined},
      {"tftp_cache_evictions_total", "counter", "Cached files removed to stay within --cache-size.", c.evictions},
      {"tftp_cache_bytes", "gauge", "Bytes of complete files in the cache.", c.cached_bytes},
      {"tftp_cache_files", "gauge", "Complete files in the cache.", c.cached_files},
      {"tftp_cache_max_bytes", "gauge", "The --cache-size limit.", cache_size},
  });
}

struct MetricsServer::Impl {
  Impl(asio::io_context& context, std::function<std::string()> renderer) : io(context), render(std::move(renderer)) {}
  asio::io_context& io;
  std::function<std::string()> render;
  httplib::Server http;
  std::thread thread;
};

MetricsServer::MetricsServer(asio::io_context& io, const HostPort& address, std::function<std::string()> render)
    : impl_(std::make_unique<Impl>(io, std::move(render))) {
  // One thread answers scrapes; each one is rendered on the event loop, which a scrape waits for (never the
  // other way round), so a slow or stalled scraper cannot delay a transfer.
  impl_->http.new_task_queue = [] { return new httplib::ThreadPool(1); };
  impl_->http.set_read_timeout(5, 0);
  impl_->http.set_write_timeout(5, 0);
  impl_->http.Get("/metrics", [impl = impl_.get()](const httplib::Request&, httplib::Response& response) {
    auto rendered = std::make_shared<std::promise<std::string>>();
    auto text = rendered->get_future();
    asio::post(impl->io, [impl, rendered] { rendered->set_value(impl->render()); });
    if (text.wait_for(std::chrono::seconds(2)) != std::future_status::ready) {
      response.status = 503;
      return;
    }
    response.set_content(text.get(), "text/plain; version=0.0.4; charset=utf-8");
  });
  const std::string host = address.host.empty() ? "0.0.0.0" : address.host;
  const int port = address.port == 0 ? impl_->http.bind_to_any_port(host) : impl_->http.bind_to_port(host, address.port)
                                                                              ? address.port
                                                                              : -1;
  if (port <= 0) throw std::runtime_error(fmt::format("cannot serve metrics on {}:{}", host, address.port));
  port_ = static_cast<std::uint16_t>(port);
}

MetricsServer::~MetricsServer() { stop(); }

void MetricsServer::start() {
  if (impl_->thread.joinable()) return;
  impl_->thread = std::thread([impl = impl_.get()] { impl->http.listen_after_bind(); });
}

void MetricsServer::stop() {
  impl_->http.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace tftp::server
