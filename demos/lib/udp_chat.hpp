#pragma once
// udp-chat: the full-duplex UDP chat of the course notes. Receiving is a coroutine that never waits for
// sending: send() only queues a datagram (from any thread), so a user who types nothing, or a send that
// is slow, never delays what arrives. Every datagram received is shown as "[ADDR:PORT] text".
//
// With broadcast the socket gets SO_BROADCAST and the peer is a broadcast address (127.255.255.255 on
// loopback, x.y.z.255 on a LAN); receivers bound to that port, on the wildcard or the broadcast address,
// show the sender's address like any other datagram.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <asio/any_io_executor.hpp>
#include <asio/ip/udp.hpp>

namespace demos {

struct UdpChatOptions {
  asio::ip::udp::endpoint bind;
  std::optional<asio::ip::udp::endpoint> peer;  // without one, this end only listens
  bool broadcast = false;
};

class UdpChat {
 public:
  using Print = std::function<void(std::string_view)>;

  // Binds at once; throws std::system_error when it cannot.
  UdpChat(asio::any_io_executor executor, const UdpChatOptions& options, Print print);

  asio::ip::udp::endpoint local_endpoint() const;
  void start();
  // Thread-safe. The line goes to the peer as one datagram.
  void send(std::string line);
  // For an end that learns its peer after binding (the tests bind both ends to port 0 first).
  void set_peer(const asio::ip::udp::endpoint& peer) { peer_ = peer; }
  void close();

 private:
  asio::ip::udp::socket socket_;
  std::optional<asio::ip::udp::endpoint> peer_;
  Print print_;
};

}  // namespace demos
