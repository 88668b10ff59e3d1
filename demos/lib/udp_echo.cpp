#include "udp_echo.hpp"

#include <array>
#include <variant>

#include <asio/buffer.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "tftp/asio/endpoint.hpp"

namespace demos {
namespace {

using asio::ip::udp;
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
// The largest UDP payload: a datagram is never cut short.
constexpr std::size_t max_datagram = 65535;

asio::awaitable<std::optional<std::string>> receive_from(udp::socket& socket, udp::endpoint peer) {
  std::string buffer(max_datagram, '\0');
  for (;;) {
    udp::endpoint from;
    const auto [error, n] = co_await socket.async_receive_from(asio::buffer(buffer), from, use_tuple);
    if (error) co_return std::nullopt;
    if (from == peer) co_return buffer.substr(0, n);
  }
}

}  // namespace

asio::awaitable<void> serve_echo(udp::socket& socket, std::function<void(std::string_view)> log) {
  std::string buffer(max_datagram, '\0');
  for (;;) {
    udp::endpoint from;
    const auto [error, n] = co_await socket.async_receive_from(asio::buffer(buffer), from, use_tuple);
    if (error == asio::error::operation_aborted || !socket.is_open()) co_return;
    // Other errors (an ICMP port unreachable reported on this socket, say) concern one peer only.
    if (error) continue;
    if (log) log(tftp::net::to_string(from) + " " + std::to_string(n) + " bytes");
    co_await socket.async_send_to(asio::buffer(buffer.data(), n), from, use_tuple);
  }
}

asio::awaitable<std::optional<std::string>> echo_round_trip(udp::socket& socket, udp::endpoint peer,
                                                            std::string payload, std::chrono::milliseconds timeout) {
  using namespace asio::experimental::awaitable_operators;
  const auto [error, n] = co_await socket.async_send_to(asio::buffer(payload), peer, use_tuple);
  static_cast<void>(n);
  if (error) co_return std::nullopt;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(timeout);
  auto result = co_await (receive_from(socket, peer) || timer.async_wait(asio::use_awaitable));
  if (result.index() != 0) co_return std::nullopt;
  co_return std::get<0>(std::move(result));
}

}  // namespace demos
