// udp-echo serve ADDR:PORT       echo every datagram back to its sender
// udp-echo send ADDR:PORT        send each stdin line, print each reply; exit 1 if any reply is missing
#include <chrono>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/use_future.hpp>
#include <fmt/core.h>

#include "console.hpp"
#include "udp_echo.hpp"

namespace {

using asio::ip::udp;

int serve(const udp::endpoint& address) {
  asio::io_context io;
  udp::socket socket(io, address);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code, int) { socket.close(); });
  demos::print_line("listening on " + tftp::net::to_string(socket.local_endpoint()));
  asio::co_spawn(io, demos::serve_echo(socket, demos::print_line), [&](std::exception_ptr) { signals.cancel(); });
  io.run();
  return 0;
}

int send(const udp::endpoint& peer, std::chrono::milliseconds timeout) {
  asio::io_context io;
  udp::socket socket(io, peer.protocol());
  int status = 0;
  for (std::string line; std::getline(std::cin, line);) {
    auto reply = asio::co_spawn(io, demos::echo_round_trip(socket, peer, line, timeout), asio::use_future);
    io.restart();
    io.run();
    if (auto text = reply.get()) {
      demos::print_line(*text);
    } else {
      demos::print_error(fmt::format("! no reply within {} ms", timeout.count()));
      status = 1;
    }
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"UDP echo: a server that returns every datagram, and a client that sends stdin lines"};
  app.require_subcommand(1);
  std::string address;
  auto* serve_cmd = app.add_subcommand("serve", "echo datagrams received at ADDR:PORT");
  serve_cmd->add_option("address", address, "ADDR:PORT to bind (port 0: any free port)")->required();
  int timeout_ms = 2000;
  auto* send_cmd = app.add_subcommand("send", "send stdin lines to ADDR:PORT and print the replies");
  send_cmd->add_option("address", address, "ADDR:PORT of the echo server")->required();
  send_cmd->add_option("--timeout", timeout_ms, "milliseconds to wait for each reply")->check(CLI::Range(1, 600000));
  CLI11_PARSE(app, argc, argv);

  const auto use = serve_cmd->parsed() ? tftp::net::Use::bind : tftp::net::Use::connect;
  auto endpoint = demos::udp_endpoint(address, use);
  if (const auto* error = std::get_if<std::string>(&endpoint)) {
    demos::print_error(*error);
    return 2;
  }
  try {
    const auto& target = std::get<udp::endpoint>(endpoint);
    return serve_cmd->parsed() ? serve(target) : send(target, std::chrono::milliseconds(timeout_ms));
  } catch (const std::system_error& e) {
    demos::print_error(fmt::format("udp-echo: {}", e.what()));
    return 1;
  }
}
