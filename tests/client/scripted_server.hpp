#pragma once
// A TFTP "server" that does exactly what a test script says, on real UDP sockets bound to loopback port 0,
// so that the client can be shown packets no correct server sends. Every datagram the client sends to any of
// the script's sockets is recorded, also after the script has finished, until the test calls finish().
//
// Call order: construct with a script -> run the client against port() -> finish() -> assert on the record.
// The script runs on its own thread; its receive() waits at most a safety bound so that a broken client
// fails the test instead of hanging it (a bound, not a timing assertion).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/raw_peer.hpp"
#include "tftp/codec.hpp"
#include "tftp/packet.hpp"

namespace tftp::test {

// A datagram the client sent, and the script socket it arrived at (0 is the listening socket).
struct Arrival : Datagram {
  std::size_t socket = 0;
};

Bytes data_packet(std::uint16_t block, std::size_t size, std::uint8_t fill = 'x');

class ScriptedServer {
 public:
  using Script = std::function<void(ScriptedServer&)>;

  explicit ScriptedServer(Script script, Family family = Family::v4);
  ~ScriptedServer();
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  std::uint16_t port() const { return port_; }

  // Stops the recorder and returns everything the client sent, in arrival order.
  std::vector<Arrival> finish();

  // ---- for scripts ----
  // Opens another socket (a transfer ID); returns its index.
  std::size_t open_socket();
  std::uint16_t port_of_socket(std::size_t socket) const { return sockets_.at(socket)->port(); }
  // The next datagram that arrives at the given socket. When none comes within the safety bound, or the
  // test has finished, the script ends there (the record shows what did arrive).
  Arrival expect(std::size_t socket);
  void send(std::size_t socket, std::span<const std::byte> bytes, const sockaddr_storage& to);
  void send(std::size_t socket, const Packet& packet, const sockaddr_storage& to) { send(socket, encoded(packet), to); }

 private:
  void run(const Script& script);
  void record_until_stopped();
  std::optional<Arrival> receive(std::size_t socket);
  std::optional<Arrival> wait_for(std::optional<std::size_t> socket, std::chrono::milliseconds bound);

  Family family_;
  std::vector<std::unique_ptr<RawPeer>> sockets_;  // touched by the script's thread only, after construction
  std::uint16_t port_ = 0;
  int stop_fd_ = -1;
  std::mutex mutex_;
  std::vector<Arrival> record_;
  std::thread thread_;
  bool finished_ = false;
};

// Views on a record.
std::optional<Packet> parsed(const Datagram& datagram);
bool is_error(const Datagram& datagram, ErrorCode code);
std::size_t count_if_opcode(const std::vector<Arrival>& record, Opcode opcode);

}  // namespace tftp::test
