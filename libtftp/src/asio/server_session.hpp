#pragma once
// One transfer of the server: its own UDP socket (the server's transfer ID) or, in single-port mode, the
// listening socket shared with every other session, one timer, one buffer pair sized for the negotiated
// block size (no receive buffer when the socket is shared: the listener's buffer is lent for each datagram),
// and the core machine (Sender for an RRQ, Receiver for a WRQ) with the file behind it. Private to the
// server driver.
//
// Loop: an input (a datagram from the client, or the timer) goes to the machine with the current time,
// everything poll_transmit produces is sent at once (a full socket buffer counts as a lost datagram; the
// machine retransmits), and the timer is re-armed from next_deadline(). Handlers hold a shared_ptr to
// the session, so closing it from inside a handler is safe.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <asio/steady_timer.hpp>

#include "datagram_batch.hpp"
#include "local_address.hpp"
#include "tftp/asio/file_io.hpp"
#include "tftp/asio/root.hpp"
#include "tftp/asio/server_log.hpp"
#include "tftp/options.hpp"
#include "tftp/transfer.hpp"

namespace tftp::server {

class Session;

// What a session tells the server.
class SessionHost {
 public:
  virtual ~SessionHost() = default;
  // The client has shown that it receives what the session sends (TransferConfig, Reach).
  virtual void client_answered(Session& session) = 0;
  // The transfer's outcome is final (completed or failed); the session may still dally.
  virtual void transfer_done(Session& session, const TransferRecord& record) = 0;
  // The socket is closed: forget the session.
  virtual void session_closed(Session& session) = 0;
  virtual ServerLog& log() = 0;
  // Whether a datagram from a stranger on a session socket gets ERROR 5: only a well-formed TFTP packet
  // other than an ERROR, and only as often as the server's rate allows.
  virtual bool may_answer_stranger(std::span<const std::byte> datagram) = 0;
};

struct SessionRequest {
  asio::ip::udp::endpoint client;
  std::string file;
  Direction direction = Direction::read;
  Mode mode = Mode::octet;
};

// The file side of an upload, kept alive as long as the Receiver writes through it.
struct Upload {
  ScopedFd directory;
  fileio::AtomicFile file;
  Mode mode = Mode::octet;
  std::optional<std::uint64_t> limit;
};

// The listening socket a single-port session sends from (it must outlive the session), and the local
// address the client's request was sent to: every datagram of the session leaves from it.
struct SharedSocket {
  asio::ip::udp::socket& socket;
  std::optional<net::LocalAddress> source;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  // Own socket: the session receives on it and answers strangers there with ERROR 5.
  Session(asio::ip::udp::socket socket, SessionRequest request, SessionHost& host);
  // Shared socket (single-port): the session only sends from it; the server demultiplexes and hands over
  // the client's datagrams through on_datagram.
  Session(SharedSocket shared, SessionRequest request, SessionHost& host);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start_read(fileio::FileSource source, const ServerAnswer& answer, const TransferConfig& config);
  void start_write(Upload upload, const ServerAnswer& answer, const TransferConfig& config);

  // A datagram from the client, already matched by address and port (shared socket only). The bytes are
  // only read during the call.
  void on_datagram(std::span<const std::byte> datagram);
  // Own socket: handles what the client has already sent to it, now, without waiting.
  void catch_up();

  const asio::ip::udp::endpoint& client() const noexcept { return request_.client; }
  const std::string& file() const noexcept { return request_.file; }
  // The outcome is not final yet (a dallying Receiver is no longer running).
  bool running() const noexcept { return !done_; }
  // Server shutdown: a running transfer is sent `error`; a finished one is closed.
  void abort(const Error& error);
  // A new request takes this session's place (its client never answered): it ends without a word to the
  // client and without a transfer line (the server logs the eviction), and an upload leaves nothing.
  void evict();
  // Closes the socket and tells the host to forget the session.
  void close();
  // Closes without telling the host (the server is going away).
  void detach() noexcept;

 private:
  void size_buffers(const Negotiated& negotiated);
  void begin();
  void receive();
  void on_readable(std::error_code ec);
  void read_queued();
  void from_client(std::span<const std::byte> datagram);
  void on_timer(std::error_code ec);
  void answer_stranger(std::span<const std::byte> datagram);
  void after_input();
  void flush();
  void rearm();
  void report(std::string result_override = {});
  void trace(const char* what, const asio::ip::udp::endpoint& peer, std::span<const std::byte> datagram);

  template <class F>
  decltype(auto) machine(F&& f) {
    return sender_ ? f(*sender_) : f(*receiver_);
  }

  std::optional<asio::ip::udp::socket> own_socket_;  // empty when the socket is shared
  asio::ip::udp::socket* socket_;                    // the one this session sends from
  std::optional<net::LocalAddress> reply_from_;      // shared socket: the address it sends from
  asio::steady_timer timer_;
  SessionRequest request_;
  SessionHost* host_;
  std::optional<net::DatagramBatch> rx_;  // own socket only
  std::vector<std::byte> tx_;
  asio::ip::udp::endpoint from_;
  std::optional<TimePoint> armed_;
  TimePoint started_;
  bool answered_ = false;  // the machine's answered() was reported to the host
  bool done_ = false;   // transfer_done was reported
  bool closed_ = false;

  std::optional<fileio::FileSource> source_;
  std::optional<Upload> upload_;
  std::optional<fileio::FileSink> sink_;
  std::optional<Sender> sender_;
  std::optional<Receiver> receiver_;
};

// "DATA 7 (512 bytes)", "ACK 3", "ERROR 1 file not found": for the packet trace and logs.
std::string describe_datagram(std::span<const std::byte> datagram);
// "ok", or why a transfer failed, for the log's result field.
std::string describe_outcome(const Outcome& outcome);

}  // namespace tftp::server
