#pragma once
// The TCP chat server of the demos (tcp-chat-server), as a class so the tests run it on real sockets
// in-process.
//
// Group chat (default): a client's first text frame is its nickname (valid_nickname, unique: a clash is
// refused with an error frame and the connection is closed). It then gets a welcome line; the others get
// "* NAME joined". Every message goes to all other clients as "NAME: message"; "/who" lists who is
// online, "/quit" says goodbye and closes, leaving with "* NAME left". A file ('F' header, 'D' data) is
// stored under the files directory (IncomingFile) and announced to the others.
//
// Echo mode (--echo), the one-to-one server of the course notes: a welcome on connect, then every text
// frame X is answered with "Hello, X" to that client alone, "/quit" with a goodbye.
//
// Each client's outgoing bytes wait in a queue bounded by queue_limit: a client that stops reading is
// dropped when its queue is full, and the others go on (one slow reader must not stall or exhaust the
// server). A frame longer than the frame limit, or a frame that breaks the protocol, closes that client.
// At most max_connections are open at once (one more gets an error frame and is closed), a client that
// sends nothing for idle_timeout is dropped, and the files stored together stay within files_quota.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include <asio/any_io_executor.hpp>
#include <asio/ip/tcp.hpp>

namespace demos {

struct ChatServerConfig {
  bool echo = false;
  std::optional<std::filesystem::path> files;  // where files are stored; without it file sends are refused
  std::size_t queue_limit = 1024 * 1024;       // bytes queued for one client before it is dropped
  std::uint64_t max_file_size = std::uint64_t{1} << 30;
  std::uint64_t files_quota = std::uint64_t{4} << 30;  // all files stored by this server together
  std::size_t max_connections = 256;
  std::chrono::milliseconds idle_timeout = std::chrono::minutes(10);
  std::optional<int> send_buffer;               // SO_SNDBUF of accepted sockets; the tests make it small
  std::function<void(std::string_view)> log;    // one line per event; may be empty
};

class ChatServer {
 public:
  // Binds and listens at once (port 0 picks a free port); throws std::system_error when it cannot.
  ChatServer(asio::any_io_executor executor, const asio::ip::tcp::endpoint& listen, ChatServerConfig config);
  ~ChatServer();
  ChatServer(const ChatServer&) = delete;
  ChatServer& operator=(const ChatServer&) = delete;

  asio::ip::tcp::endpoint local_endpoint() const;
  void start();
  // Stops accepting and closes every connection; the coroutines then finish on their own.
  void stop();

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace demos
