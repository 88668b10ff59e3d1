#include "chat_client.hpp"

#include <array>
#include <filesystem>
#include <fstream>
#include <variant>

#include <asio/connect.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "chat_protocol.hpp"
#include "framed_stream.hpp"
#include "json_header.hpp"

namespace demos {
namespace {

constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

}  // namespace

ChatClient::ChatClient(asio::any_io_executor executor, Print print)
    : executor_(executor), socket_(executor), signal_(executor), print_(std::move(print)) {
  signal_.expires_at(std::chrono::steady_clock::time_point::max());
}

void ChatClient::submit(std::string line) {
  asio::post(executor_, [this, line = std::move(line)]() mutable {
    lines_.push_back(std::move(line));
    signal_.cancel_one();
  });
}

void ChatClient::end_of_input() {
  asio::post(executor_, [this] {
    input_ended_ = true;
    signal_.cancel_one();
  });
}

asio::awaitable<int> ChatClient::run(asio::ip::tcp::endpoint server, std::string nickname) {
  using namespace asio::experimental::awaitable_operators;
  const auto [error] = co_await socket_.async_connect(server, use_tuple);
  if (error) {
    print_("! cannot connect to the server: " + error.message());
    co_return 1;
  }
  if (!co_await send_text(nickname)) co_return 1;
  // The reader decides when we are done; the input loop only ends early when a write fails.
  const auto result = co_await (read_loop() || input_loop());
  std::error_code ec;
  socket_.close(ec);
  co_return result.index() == 0 ? std::get<0>(result) : 1;
}

asio::awaitable<int> ChatClient::read_loop() {
  FrameReader reader(socket_);
  bool last_was_error = false;  // the server's last word before closing was a refusal
  for (;;) {
    const auto [error, payload] = co_await reader.read();
    if (error == asio::error::eof) break;
    if (error) {
      print_("! connection lost: " + error.message());
      co_return 1;
    }
    const auto message = decode_message(payload);
    if (!message || (message->type != MessageType::text && message->type != MessageType::error)) {
      print_("! the server sent a frame this client does not know");
      co_return 1;
    }
    const auto text = printable(as_text(message->body));
    if (message->type == MessageType::error) {
      print_("! " + text);
    } else {
      print_(text);
    }
    last_was_error = message->type == MessageType::error;
  }
  print_("* connection closed");
  co_return quit_sent_ && !last_was_error ? 0 : 1;
}

asio::awaitable<void> ChatClient::input_loop() {
  for (;;) {
    if (lines_.empty()) {
      if (input_ended_ && !quit_sent_) lines_.emplace_back("/quit");
      if (lines_.empty()) {
        co_await signal_.async_wait(use_tuple);
        // The reader finished and the || in run() cancelled us; the timer alone cannot tell that apart.
        const auto cancelled = (co_await asio::this_coro::cancellation_state).cancelled();
        if (cancelled != asio::cancellation_type::none) co_return;
        continue;
      }
    }
    const std::string line = std::move(lines_.front());
    lines_.pop_front();
    if (quit_sent_) continue;
    bool sent = false;
    if (line.starts_with("/send ")) {
      sent = co_await send_file(line.substr(6));
    } else {
      sent = co_await send_text(line);
    }
    if (!sent) co_return;
    if (line == "/quit") quit_sent_ = true;
  }
}

asio::awaitable<bool> ChatClient::send_text(std::string_view text) {
  if (text.size() > max_body) {
    print_("! the line is too long to send");
    co_return true;
  }
  const auto payload = encode_message(MessageType::text, text);
  const auto error = co_await write_frame(socket_, payload);
  if (error) print_("! cannot send: " + error.message());
  co_return !error;
}

asio::awaitable<bool> ChatClient::send_file(std::string path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  std::ifstream in(path, std::ios::binary);
  if (ec || !in) {
    print_("! cannot read " + path + (ec ? ": " + ec.message() : std::string()));
    co_return true;
  }
  const FileHeader header{std::filesystem::path(path).filename().string(), size};
  const auto json = emit_file_header(header);
  if (!json) {
    print_("! cannot send " + path + ": the file name is not valid UTF-8");
    co_return true;
  }
  print_("* sending " + header.name + " (" + std::to_string(size) + " bytes)");
  const auto header_frame = encode_message(MessageType::file_header, *json);
  auto error = co_await write_frame(socket_, header_frame);
  std::array<char, file_chunk> chunk{};
  for (std::uint64_t left = size; !error && left > 0;) {
    const auto want = static_cast<std::streamsize>(std::min<std::uint64_t>(left, chunk.size()));
    if (!in.read(chunk.data(), want)) {
      // The header promised size bytes; the only honest way out of a file that shrank is to hang up.
      print_("! " + path + " changed while it was being sent");
      co_return false;
    }
    left -= static_cast<std::uint64_t>(want);
    const auto data_frame =
        encode_message(MessageType::file_data, std::string_view(chunk.data(), static_cast<std::size_t>(want)));
    error = co_await write_frame(socket_, data_frame);
  }
  if (error) print_("! cannot send: " + error.message());
  co_return !error;
}

}  // namespace demos
