// tcp-chat-client --nick NAME ADDR:PORT
#include <string>

#include <CLI/CLI.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <fmt/core.h>

#include "chat_client.hpp"
#include "chat_protocol.hpp"
#include "console.hpp"

int main(int argc, char** argv) {
  CLI::App app{"TCP chat client: stdin lines are messages; /who, /quit, /send PATH"};
  std::string server = "127.0.0.1:7000";
  std::string nickname;
  app.add_option("server", server, "ADDR:PORT of tcp-chat-server")->capture_default_str();
  app.add_option("--nick,-n", nickname, "nickname: 1-32 of A-Z a-z 0-9 _ -")
      ->required()
      ->check([](const std::string& name) { return demos::valid_nickname(name) ? std::string() : "not a valid nickname"; });
  CLI11_PARSE(app, argc, argv);

  auto endpoint = demos::tcp_endpoint(server, tftp::net::Use::connect);
  if (const auto* error = std::get_if<std::string>(&endpoint)) {
    demos::print_error(*error);
    return 2;
  }
  asio::io_context io;
  demos::ChatClient client(io.get_executor(), demos::print_line);
  int status = 1;
  asio::co_spawn(io, client.run(std::get<asio::ip::tcp::endpoint>(endpoint), nickname),
                 [&](std::exception_ptr error, int result) { status = error ? 1 : result; });
  demos::read_stdin_lines([&](std::string line) { client.submit(std::move(line)); }, [&] { client.end_of_input(); });
  io.run();
  demos::exit_now(status);
}
