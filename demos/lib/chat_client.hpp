#pragma once
// The TCP chat client of the demos (tcp-chat-client), as a class so the tests drive it without a terminal.
//
// run() connects, sends the nickname and shows every line the server sends until the server closes.
// Lines typed by the user arrive through submit() from any thread (the program reads stdin on a thread of
// its own, so a blocked read never stops the socket): "/send PATH" sends that file as a JSON header frame
// and data frames; anything else, "/who" and "/quit" included, goes to the server as a text frame.
// end_of_input() acts as "/quit", so `echo hi | tcp-chat-client ...` says hi and leaves.

#include <deque>
#include <functional>
#include <string>
#include <string_view>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

namespace demos {

class ChatClient {
 public:
  using Print = std::function<void(std::string_view)>;

  ChatClient(asio::any_io_executor executor, Print print);

  // The exit status: 0 when the server closed after our /quit, 1 when it refused us or the connection
  // failed.
  asio::awaitable<int> run(asio::ip::tcp::endpoint server, std::string nickname);

  void submit(std::string line);
  void end_of_input();

 private:
  asio::awaitable<int> read_loop();
  asio::awaitable<void> input_loop();
  asio::awaitable<bool> send_text(std::string_view text);
  asio::awaitable<bool> send_file(std::string path);

  asio::any_io_executor executor_;
  asio::ip::tcp::socket socket_;
  asio::steady_timer signal_;  // cancelled to wake the input loop
  Print print_;
  std::deque<std::string> lines_;
  bool input_ended_ = false;
  bool quit_sent_ = false;
};

}  // namespace demos
