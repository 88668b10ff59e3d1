#include "tftp/server/server.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <system_error>

#include <unistd.h>

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

// Open files per session (its socket, the file, an upload's directory) and for the rest of the server
// (listeners, epoll, timers, logs), for the RLIMIT_NOFILE the server raises itself to.
constexpr std::uint64_t files_per_session = 3;
constexpr std::uint64_t spare_files = 64;

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

net::ServerSockets server_sockets(const ServerConfig& config) {
  net::ServerSockets sockets;
  for (const auto& address : config.listen) sockets.listen.push_back(net::ListenSpec{address.host, address.port});
  if (config.port_range) sockets.port_range = std::pair(config.port_range->low, config.port_range->high);
  return sockets;
}

std::string address_text(const SocketAddress& address) { return net::to_string(net::to_asio(address)); }

}  // namespace

// What the driver and the endpoint report: log lines, metrics, hooks.
class Server::Log final : public net::ServerObserver {
 public:
  Log(ServerLog& log, const std::string& root, ServerMetrics& metrics, TransferHooks* hooks)
      : log_(log), root_(root), metrics_(metrics), hooks_(hooks) {}

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
    if (hooks_ != nullptr) hooks_->on_transfer(ended.record, line.result);
  }

  void write(const RequestRefused& refused) {
    if (hooks_ != nullptr) hooks_->on_refusal(refused);
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
  const ServerEndpoint* endpoint_ = nullptr;
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
                       log)),
      log_(std::make_unique<Log>(log, content_->root_path(), *metrics_, hooks_.get())),
      driver_(std::make_unique<net::ServerDriver>(io, server_sockets(config), endpoint_config(config),
                                                  origin_ ? static_cast<ContentProvider&>(*origin_) : *content_, *log_)) {
  log_->count_evictions(driver_->endpoint());
  if (origin_) {
    origin_->connect(OriginContent::Inputs{
        [this](SessionId session, ReadOpening answer) { driver_->read_opened(session, std::move(answer)); },
        [this](SessionId session) { driver_->content_ready(session); }});
  }
  // Bound now, like the TFTP sockets, before privileges are dropped.
  if (config_.metrics) metrics_server_ = std::make_unique<MetricsServer>(io, *config_.metrics, [this] { return scrape(); });
  open_files_ = posix::raise_open_files_limit(files_per_session * config_.max_sessions + spare_files);
}

Server::~Server() {
  if (metrics_server_) metrics_server_->stop();
}

std::string Server::scrape() {
  auto text = metrics_->render(driver_->endpoint());
  if (origin_) render_origin_metrics(text, origin_->counters(), config_.cache_size);
  return text;
}

std::uint16_t Server::metrics_port() const noexcept { return metrics_server_ ? metrics_server_->port() : 0; }

std::vector<asio::ip::udp::endpoint> Server::local_endpoints() const { return driver_->local_endpoints(); }

void Server::start() {
  // Uploads of a server that was killed (SIGKILL, power) where O_TMPFILE could not be used.
  if (const auto removed = content_->remove_stale_uploads(); removed > 0) {
    server_log_.write(LogEvent{LogLevel::warning, "stale-uploads", {}}.add_number("removed", std::to_string(removed)));
  }
  const std::uint64_t holds = open_files_ > spare_files ? (open_files_ - spare_files) / files_per_session : 0;
  server_log_.write(LogEvent{holds < config_.max_sessions ? LogLevel::warning : LogLevel::info, "limits", {}}
                        .add_number("max_sessions", std::to_string(config_.max_sessions))
                        .add_number("open_files", std::to_string(open_files_))
                        .add_number("sessions_it_holds", std::to_string(holds)));
  driver_->start();
  if (metrics_server_) {
    metrics_server_->start();
    const auto host = config_.metrics->host.empty() ? std::string("0.0.0.0") : config_.metrics->host;
    server_log_.write(LogEvent{LogLevel::info, "metrics", {}}.add(
        "address", net::to_string(asio::ip::udp::endpoint(asio::ip::make_address(host), metrics_server_->port()))));
  }
}

void Server::shutdown(std::chrono::milliseconds grace, std::function<void()> on_stopped) {
  if (hooks_) hooks_->stop();
  driver_->shutdown(grace, [this, on_stopped = std::move(on_stopped)] {
    if (metrics_server_) metrics_server_->stop();
    if (origin_) origin_->stop();  // the transfers that read the fetches are over
    if (on_stopped) on_stopped();
  });
}

std::size_t Server::session_count() const noexcept { return driver_->endpoint().session_count(); }

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
  log.write(LogEvent{LogLevel::info, "stopped", {}});
  return 0;
}

}  // namespace tftp::server
