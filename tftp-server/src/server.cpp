#include "tftp/server/server.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <future>
#include <memory>
#include <system_error>
#include <thread>

#include <sched.h>
#include <unistd.h>

#include <asio/post.hpp>
#include <asio/signal_set.hpp>

#include "tftp/posix/process.hpp"
#include "tftp/asio/address.hpp"
#include "tftp/server/directory_content.hpp"
#include "tftp/asio/endpoint.hpp"
#include "tftp/asio/server_driver.hpp"
#include "tftp/server/hooks.hpp"
#include "tftp/server/metrics.hpp"
#include "tftp/server/origin_content.hpp"

namespace tftp::server {

namespace {

// The first window where ACKs are easy to forge: a window of 8 blocks of 1468 still goes out whole.
constexpr std::size_t guessable_port_first_window = 16 * 1024;

// Open files per session at most (an upload: its socket, its file, its directory; a download needs only its
// socket, as the readers of a file share its descriptor), for the rest of the server
// (listeners, epoll, timers, logs), and for each further worker (its loop's epoll, eventfd and timerfd, its
// listening sockets), for the RLIMIT_NOFILE the server raises itself to.
constexpr std::uint64_t files_per_session = 3;
constexpr std::uint64_t spare_files = 64;
constexpr std::uint64_t files_per_worker = 8;

TransferConfig transfer_config(const ServerConfig& config) {
  TransferConfig transfer;
  transfer.initial_timeout = config.timeout;
  transfer.min_timeout = std::min<Duration>(transfer.min_timeout, config.timeout);
  transfer.max_timeout = std::max<Duration>(transfer.max_timeout, config.timeout);
  transfer.max_retries = config.retries;
  transfer.adaptive = config.adaptive_timeout;
  transfer.unanswered_resends = config.initial_resends;
  // Where the port a client must answer to is known (the listening port, or one of a few), forging its ACKs
  // takes no guessing: the first window is then small (TransferConfig, Reach). A port per session out of
  // the ephemeral range is a 1 in ~28000 guess per forged ACK.
  if (config.single_port || (config.port_range && config.port_range->high - config.port_range->low < 1024)) {
    transfer.first_window_bytes = guessable_port_first_window;
  }
  return transfer;  // an upload dallies for the give-up time: a client as patient as we are is answered
}

EndpointConfig endpoint_config(const ServerConfig& config) {
  EndpointConfig endpoint;
  endpoint.transfer = transfer_config(config);
  endpoint.policy = config.policy;
  endpoint.block_size_from_mtu = config.block_size_from_mtu;
  endpoint.single_port = config.single_port;
  endpoint.writes_allowed = config.allow_create || config.allow_overwrite;
  endpoint.max_sessions = config.max_sessions;
  endpoint.max_sessions_per_client = config.max_sessions_per_client;
  return endpoint;
}

// --workers 0: a worker for each CPU this process may run on (its affinity mask: taskset, cgroup cpusets).
unsigned cpus_to_use() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return static_cast<unsigned>(CPU_COUNT(&set));
  return std::max(1U, std::thread::hardware_concurrency());
}

net::ServerSockets server_sockets(const ServerConfig& config) {
  net::ServerSockets sockets;
  for (const auto& address : config.listen) sockets.listen.push_back(net::ListenSpec{address.host, address.port});
  if (config.port_range) sockets.port_range = std::pair(config.port_range->low, config.port_range->high);
  return sockets;
}

std::string address_text(const SocketAddress& address) { return net::to_string(net::to_asio(address)); }

}  // namespace

// What the driver and the endpoint report: log lines, metrics, hooks.
// A worker's observer; hooks run on the server's own loop (the main thread), where they were made.
class Server::Log final : public net::ServerObserver {
 public:
  Log(ServerLog& log, const std::string& root, ServerMetrics& metrics, TransferHooks* hooks, asio::io_context& hooks_io)
      : log_(log), root_(root), metrics_(metrics), hooks_(hooks), hooks_io_(hooks_io) {}

  void count_evictions(const ServerEndpoint& endpoint) { endpoint_ = &endpoint; }

  void on_event(const EndpointEvent& event) override {
    std::visit([this](const auto& e) { write(e); }, event);
  }

  void on_listening(const asio::ip::udp::endpoint& local) override {
    log_.write(LogEvent{LogLevel::info, "listening", {}}.add("address", net::to_string(local)).add("root", root_));
  }

  void on_socket_error(const std::error_code& ec) override {
    log_.write(LogEvent{LogLevel::error, "session-socket", {}}.add("error", ec.message()));
  }

  bool tracing() const override { return log_.tracing(); }

  void on_packet(std::string_view direction, const SocketAddress& peer, std::span<const std::byte> bytes) override {
    log_.write(LogEvent{LogLevel::debug, "packet", {}}
                   .add("dir", std::string(direction))
                   .add("peer", address_text(peer))
                   .add("packet", describe_datagram(bytes)));
  }

  void on_shutdown(std::size_t sessions, std::chrono::milliseconds grace) override {
    log_.write(LogEvent{LogLevel::info, "shutdown", {}}
                   .add_number("sessions", std::to_string(sessions))
                   .add_number("grace_seconds", fmt::format("{:.3f}", std::chrono::duration<double>(grace).count())));
  }

  void on_stopped() override { log_.flush_suppressed(); }

 private:
  void write(const TransferEnded& ended) {
    const auto line = transfer_line(ended.record);
    auto event = transfer_event(line);
    if (ended.record.outcome.error == errc::unanswered) event.limited("unanswered");
    log_.write(event);
    metrics_.on_transfer(ended.record);
    if (hooks_ != nullptr) {
      asio::post(hooks_io_, [hooks = hooks_, record = ended.record, result = line.result] {
        hooks->on_transfer(record, result);
      });
    }
  }

  void write(const RequestRefused& refused) {
    if (hooks_ != nullptr) asio::post(hooks_io_, [hooks = hooks_, refused] { hooks->on_refusal(refused); });
    log_.write(LogEvent{LogLevel::warning, "refused", {}}
                   .add("client", address_text(refused.client))
                   .add("file", refused.file)
                   .add_number("code", std::to_string(static_cast<unsigned>(refused.error.code)))
                   .add("reason", refused.error.message)
                   .limited("refused"));
  }

  void write(const SessionEvicted& evicted) {
    const auto count = endpoint_ != nullptr ? endpoint_->counters().evictions : 0;
    log_.write(LogEvent{LogLevel::info, "evicted", {}}
                   .add("client", address_text(evicted.client))
                   .add("file", evicted.file)
                   .add("for", address_text(evicted.for_client))
                   .add_number("evictions", std::to_string(count))
                   .limited("evicted"));
  }

  void write(const StrangerAnswered& stranger) {
    LogEvent event{LogLevel::warning, "stranger", {}};
    if (stranger.client) event.add("client", address_text(*stranger.client));
    event.add("stranger", address_text(stranger.stranger));
    if (stranger.client) event.add("file", stranger.file);
    log_.write(event.limited("stranger"));
  }

  ServerLog& log_;
  std::string root_;
  ServerMetrics& metrics_;
  TransferHooks* hooks_;
  asio::io_context& hooks_io_;
  const ServerEndpoint* endpoint_ = nullptr;
};

// One thread's share of the sessions: its own loop, sockets, timers and buffers; worker 0 runs on the
// server's loop (the main thread).
struct Server::Worker {
  std::unique_ptr<asio::io_context> own_io;  // null for worker 0
  asio::io_context* io = nullptr;
  std::unique_ptr<Log> log;
  std::unique_ptr<net::ServerDriver> driver;
  std::thread thread;
  std::atomic<bool> running{false};  // its thread is in io.run(): its endpoint is read on that thread only
  bool stopped = false;              // its driver reported the end of the shutdown (main thread)
};

Server::Server(asio::io_context& io, const ServerConfig& config, ServerLog& log)
    : io_(io),
      config_(config),
      server_log_(log),
      content_(std::make_unique<DirectoryContent>(config, log)),
      origin_(config.origins.empty() ? nullptr : std::make_unique<OriginContent>(io, config, *content_, log)),
      metrics_(std::make_unique<ServerMetrics>()),
      hooks_(config.on_transfer.empty()
                 ? nullptr
                 : std::make_unique<TransferHooks>(
                       io, config.on_transfer, HookLimits{.max_running = config.hook_max_running, .timeout = config.hook_timeout},
                       log)) {
  const auto count = worker_count();
  admission_ = std::make_unique<SharedAdmission>(
      config.max_sessions, config.max_sessions_per_client,
      [this](SharedAdmission::Shard shard, SessionId session, const SocketAddress& for_client) {
        Worker& worker = *workers_.at(shard);
        asio::post(*worker.io, [&worker, session, for_client] { worker.driver->evict_for(session, for_client); });
      });
  ContentProvider& content = origin_ ? static_cast<ContentProvider&>(*origin_) : *content_;
  auto sockets = server_sockets(config);
  sockets.reuse_port = count > 1;
  for (unsigned index = 0; index < count; ++index) {
    auto worker = std::make_unique<Worker>();
    if (index > 0) worker->own_io = std::make_unique<asio::io_context>(1);
    worker->io = index > 0 ? worker->own_io.get() : &io_;
    worker->log = std::make_unique<Log>(log, content_->root_path(), *metrics_, hooks_.get(), io_);
    if (index > 0) {
      auto siblings = workers_.front()->driver->sibling_sockets();
      if (!siblings) throw std::logic_error("worker sockets");  // worker_count() rules this out
      sockets = std::move(*siblings);
    }
    worker->driver = std::make_unique<net::ServerDriver>(*worker->io, sockets, endpoint_config(config), content,
                                                         *worker->log, EndpointShard{admission_.get(), index, count});
    worker->log->count_evictions(worker->driver->endpoint());
    workers_.push_back(std::move(worker));
  }
  if (origin_) {
    origin_->connect(OriginContent::Inputs{
        [this](SessionId session, ReadOpening answer) { workers_.front()->driver->read_opened(session, std::move(answer)); },
        [this](SessionId session) { workers_.front()->driver->content_ready(session); }});
  }
  // Bound now, like the TFTP sockets, before privileges are dropped.
  if (config_.metrics) metrics_server_ = std::make_unique<MetricsServer>(io, *config_.metrics, [this] { return scrape(); });
  spare_files_ = spare_files + files_per_worker * (count - 1);
  open_files_ = posix::raise_open_files_limit(files_per_session * config_.max_sessions + spare_files_);
}

// --workers, except where sessions cannot be spread: the origin's fetches live on one loop, and a single
// port on systemd's socket would hand a transfer's packets to any worker.
unsigned Server::worker_count() {
  unsigned count = config_.workers == 0 ? cpus_to_use() : config_.workers;
  std::string why;
  if (count > 1 && origin_) why = "--origin serves from one worker";
  if (count > 1 && config_.single_port && config_.listen.empty() && std::getenv("LISTEN_FDS") != nullptr) {
    why = "--single-port on a socket systemd passed serves from one worker";
  }
  if (!why.empty()) {
    server_log_.write(LogEvent{LogLevel::info, "workers", {}}.add_number("workers", "1").add("note", why));
    count = 1;
  }
  return count;
}

Server::~Server() {
  if (metrics_server_) metrics_server_->stop();
  for (auto& worker : workers_) {
    if (worker->own_io) worker->own_io->stop();
    if (worker->thread.joinable()) worker->thread.join();
  }
}

// Summed over the workers, each read on its own thread (worker 0's is this one); a worker whose thread
// has left its loop is read here.
std::string Server::scrape() {
  EndpointSnapshot total;
  for (auto& worker : workers_) {
    if (!worker->own_io) {
      total += snapshot(worker->driver->endpoint());
      continue;
    }
    auto promise = std::make_shared<std::promise<EndpointSnapshot>>();
    auto future = promise->get_future();
    asio::post(*worker->io, [&worker = *worker, promise] { promise->set_value(snapshot(worker.driver->endpoint())); });
    while (future.wait_for(std::chrono::milliseconds(20)) != std::future_status::ready) {
      if (!worker->running.load(std::memory_order_acquire)) break;
    }
    total += future.wait_for(std::chrono::seconds(0)) == std::future_status::ready ? future.get()
                                                                                    : snapshot(worker->driver->endpoint());
  }
  auto text = metrics_->render(total);
  if (origin_) render_origin_metrics(text, origin_->counters(), config_.cache_size);
  return text;
}

std::uint16_t Server::metrics_port() const noexcept { return metrics_server_ ? metrics_server_->port() : 0; }

std::vector<asio::ip::udp::endpoint> Server::local_endpoints() const {
  return workers_.front()->driver->local_endpoints();
}

void Server::start() {
  // Uploads of a server that was killed (SIGKILL, power) where O_TMPFILE could not be used.
  if (const auto removed = content_->remove_stale_uploads(); removed > 0) {
    server_log_.write(LogEvent{LogLevel::warning, "stale-uploads", {}}.add_number("removed", std::to_string(removed)));
  }
  const std::uint64_t for_sessions = open_files_ > spare_files_ ? open_files_ - spare_files_ : 0;
  const std::uint64_t holds = for_sessions / files_per_session;
  server_log_.write(LogEvent{holds < config_.max_sessions ? LogLevel::warning : LogLevel::info, "limits", {}}
                        .add_number("max_sessions", std::to_string(config_.max_sessions))
                        .add_number("open_files", std::to_string(open_files_))
                        .add_number("sessions_it_holds", std::to_string(holds))
                        .add_number("downloads_it_holds", std::to_string(for_sessions))
                        .add_number("workers", std::to_string(workers_.size())));
  for (auto& worker : workers_) {
    worker->driver->start();
    if (!worker->own_io) continue;
    worker->running.store(true, std::memory_order_release);
    worker->thread = std::thread([&worker = *worker] {
      worker.io->run();
      worker.running.store(false, std::memory_order_release);
    });
  }
  if (metrics_server_) {
    metrics_server_->start();
    const auto host = config_.metrics->host.empty() ? std::string("0.0.0.0") : config_.metrics->host;
    server_log_.write(LogEvent{LogLevel::info, "metrics", {}}.add(
        "address", net::to_string(asio::ip::udp::endpoint(asio::ip::make_address(host), metrics_server_->port()))));
  }
}

void Server::shutdown(std::chrono::milliseconds grace, std::function<void()> on_stopped) {
  if (hooks_) hooks_->stop();
  if (on_stopped) on_stopped_ = std::move(on_stopped);
  for (std::size_t index = 0; index < workers_.size(); ++index) {
    Worker& worker = *workers_[index];
    // Back on this thread once the worker's last session is gone.
    auto stopped = [this, index] {
      asio::post(io_, [this, index] { worker_stopped(index); });
    };
    if (!worker.own_io) {
      worker.driver->shutdown(grace, stopped);
    } else {
      asio::post(*worker.io, [&worker, grace, stopped] { worker.driver->shutdown(grace, stopped); });
    }
  }
}

void Server::worker_stopped(std::size_t index) {
  if (std::exchange(workers_[index]->stopped, true)) return;
  if (!std::all_of(workers_.begin(), workers_.end(), [](const auto& worker) { return worker->stopped; })) return;
  if (metrics_server_) metrics_server_->stop();
  if (origin_) origin_->stop();  // the transfers that read the fetches are over
  if (on_stopped_) std::exchange(on_stopped_, nullptr)();
}

std::size_t Server::session_count() const noexcept { return admission_->total(); }

void Server::join_workers() {
  for (auto& worker : workers_) {
    if (worker->thread.joinable()) worker->thread.join();
  }
}

std::string Server::reload_map_file() { return content_->reload_map_file(); }

int run_server(const ServerConfig& config) {
  asio::io_context io;
  ServerLog log(config.log_format, config.verbosity);
  Server server(io, config, log);
  // Root is kept only when asked for: started as root without --user the server drops to nobody once its
  // sockets are bound and ROOT is open, as tftpd-hpa does.
  const bool root = ::geteuid() == 0;
  const std::string user = config.user.value_or(root ? "nobody" : "");
  if (root && user == "root") {
    log.write(LogEvent{LogLevel::warning, "privileges", {}}
                  .add("user", "root")
                  .add("note", "--user root: the server keeps root for its whole life"));
  } else if (!user.empty()) {
    if (!config.origins.empty() && root) posix::give_directory_to(config.cache_dir, user);  // it writes there
    posix::drop_privileges(user);
    log.write(LogEvent{LogLevel::info, "privileges", {}}.add("user", user));
  }
  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::signal_set hangup(io, SIGHUP);
  // The first signal starts the grace; a second one ends the transfers at once. The wait is renewed
  // before shutting down, so that the server's stop cancels it and io.run() returns.
  bool signalled = false;
  std::function<void(std::error_code, int)> on_signal = [&](std::error_code ec, int) {
    if (ec) return;
    signals.async_wait(on_signal);
    server.shutdown(signalled ? std::chrono::milliseconds(0) : config.grace, [&] {
      signals.cancel();
      hangup.cancel();
    });
    signalled = true;
  };
  signals.async_wait(on_signal);
  std::function<void(std::error_code, int)> on_hangup = [&](std::error_code ec, int) {
    if (ec) return;
    static_cast<void>(server.reload_map_file());
    hangup.async_wait(on_hangup);
  };
  hangup.async_wait(on_hangup);
  server.start();
  io.run();
  server.join_workers();
  log.write(LogEvent{LogLevel::info, "stopped", {}});
  return 0;
}

}  // namespace tftp::server
