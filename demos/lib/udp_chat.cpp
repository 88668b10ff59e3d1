#include "udp_chat.hpp"

#include <memory>

#include <asio/buffer.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include "chat_protocol.hpp"
#include "tftp/asio/endpoint.hpp"

namespace demos {
namespace {

using asio::ip::udp;
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

asio::awaitable<void> receive_loop(udp::socket& socket, UdpChat::Print print) {
  std::string buffer(65535, '\0');
  for (;;) {
    udp::endpoint from;
    const auto [error, n] = co_await socket.async_receive_from(asio::buffer(buffer), from, use_tuple);
    if (error == asio::error::operation_aborted || !socket.is_open()) co_return;
    if (error) {
      // Most likely ICMP port unreachable for an earlier send: the peer is not there yet.
      print("! " + error.message());
      continue;
    }
    print("[" + tftp::net::to_string(from) + "] " + printable(std::string_view(buffer.data(), n)));
  }
}

}  // namespace

UdpChat::UdpChat(asio::any_io_executor executor, const UdpChatOptions& options, Print print)
    : socket_(executor), peer_(options.peer), print_(std::move(print)) {
  socket_.open(options.bind.protocol());
  if (options.broadcast) socket_.set_option(asio::socket_base::broadcast(true));
  socket_.bind(options.bind);
}

udp::endpoint UdpChat::local_endpoint() const { return socket_.local_endpoint(); }

void UdpChat::start() { asio::co_spawn(socket_.get_executor(), receive_loop(socket_, print_), asio::detached); }

void UdpChat::send(std::string line) {
  asio::post(socket_.get_executor(), [this, line = std::make_shared<std::string>(std::move(line))] {
    if (!peer_) {
      print_("! no --peer or --broadcast address: this end only listens");
      return;
    }
    socket_.async_send_to(asio::buffer(*line), *peer_, [this, line](std::error_code error, std::size_t) {
      if (error && error != asio::error::operation_aborted) print_("! cannot send: " + error.message());
    });
  });
}

void UdpChat::close() {
  asio::post(socket_.get_executor(), [this] {
    std::error_code ec;
    socket_.close(ec);
  });
}

}  // namespace demos
