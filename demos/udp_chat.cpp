// udp-chat --bind ADDR:PORT --peer ADDR:PORT     full-duplex chat between two ends
// udp-chat --broadcast ADDR:PORT                 send stdin lines to a broadcast address (SO_BROADCAST)
// udp-chat --bind ADDR:PORT                      only listen; every datagram is shown with its sender
#include <string>

#include <CLI/CLI.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>
#include <fmt/core.h>

#include "console.hpp"
#include "udp_chat.hpp"

int main(int argc, char** argv) {
  CLI::App app{"UDP chat: stdin lines go to the peer, datagrams received are printed with their sender"};
  std::string bind = ":0";
  std::string peer;
  std::string broadcast;
  app.add_option("--bind", bind, "ADDR:PORT to receive on (default :0, any free port)");
  auto* peer_opt = app.add_option("--peer", peer, "ADDR:PORT to send to");
  app.add_option("--broadcast", broadcast, "broadcast ADDR:PORT to send to, e.g. 127.255.255.255:5000")->excludes(peer_opt);
  CLI11_PARSE(app, argc, argv);

  demos::UdpChatOptions options;
  const std::string target = broadcast.empty() ? peer : broadcast;
  options.broadcast = !broadcast.empty();
  if (!target.empty()) {
    auto endpoint = demos::udp_endpoint(target, tftp::net::Use::connect);
    if (const auto* error = std::get_if<std::string>(&endpoint)) {
      demos::print_error(*error);
      return 2;
    }
    options.peer = std::get<asio::ip::udp::endpoint>(endpoint);
  }
  auto local = demos::udp_endpoint(bind, tftp::net::Use::bind);
  if (const auto* error = std::get_if<std::string>(&local)) {
    demos::print_error(*error);
    return 2;
  }
  options.bind = std::get<asio::ip::udp::endpoint>(local);

  try {
    asio::io_context io;
    demos::UdpChat chat(io.get_executor(), options, demos::print_line);
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](std::error_code, int) { chat.close(); });
    demos::print_line("listening on " + tftp::net::to_string(chat.local_endpoint()));
    chat.start();
    // End of input ends a sending chat; a listener goes on until a signal.
    demos::read_stdin_lines([&](std::string line) { chat.send(std::move(line)); },
                            [&, sending = options.peer.has_value()] {
                              if (!sending) return;
                              asio::post(io, [&] {
                                chat.close();
                                signals.cancel();
                              });
                            });
    io.run();
    demos::exit_now(0);
  } catch (const std::system_error& e) {
    demos::print_error(fmt::format("udp-chat: {}", e.what()));
    return 1;
  }
}
