// tcp-chat-server [--listen ADDR:PORT] [--files DIR] [--echo]
#include <filesystem>
#include <string>

#include <CLI/CLI.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <fmt/core.h>

#include "chat_server.hpp"
#include "console.hpp"

int main(int argc, char** argv) {
  CLI::App app{"TCP group chat over length-prefixed frames; --echo for the one-to-one \"Hello, <name>\" server"};
  std::string listen = "127.0.0.1:7000";
  std::string files;
  demos::ChatServerConfig config;
  app.add_option("--listen", listen, "ADDR:PORT to listen on (port 0: any free port)")->capture_default_str();
  app.add_option("--files", files, "directory where files sent with /send are stored (default: refuse files)")
      ->check(CLI::ExistingDirectory);
  app.add_flag("--echo", config.echo, "answer every message with \"Hello, <message>\" instead of relaying it");
  app.add_option("--queue-limit", config.queue_limit, "bytes queued for one client before it is dropped")
      ->capture_default_str();
  app.add_option("--max-connections", config.max_connections, "clients at once; one more is told and closed")
      ->capture_default_str();
  double idle_s = 600;
  app.add_option("--idle-timeout", idle_s, "seconds a client may send nothing before it is dropped")
      ->capture_default_str();
  app.add_option("--files-quota", config.files_quota, "bytes all stored files may take together")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto endpoint = demos::tcp_endpoint(listen, tftp::net::Use::bind);
  if (const auto* error = std::get_if<std::string>(&endpoint)) {
    demos::print_error(*error);
    return 2;
  }
  if (!files.empty()) config.files = std::filesystem::path(files);
  config.idle_timeout = std::chrono::milliseconds(static_cast<long long>(idle_s * 1000));
  config.log = demos::print_line;
  try {
    asio::io_context io;
    demos::ChatServer server(io.get_executor(), std::get<asio::ip::tcp::endpoint>(endpoint), config);
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](std::error_code, int) { server.stop(); });
    demos::print_line("listening on " + tftp::net::to_string(server.local_endpoint()) + (config.echo ? " (echo)" : ""));
    server.start();
    io.run();
    return 0;
  } catch (const std::system_error& e) {
    demos::print_error(fmt::format("tcp-chat-server: {}", e.what()));
    return 1;
  }
}
