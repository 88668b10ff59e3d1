#pragma once
// Drives one client transfer machine (Receiver for a get, Sender for a put) over one UDP socket and one
// timer on the calling thread, until the machine is done.
//
// Loop: feed the machine one input (a datagram or the timer) with the current time, send everything
// poll_transmit gives, report progress, re-arm the timer from next_deadline(). The machine does not check
// transfer IDs, so this does: the first reply from the server's address fixes the peer's port; any
// datagram from another address or port gets ERROR 5 and never reaches the machine.
//
// A get with a window reads what is queued behind the datagram that woke it a batch at a time
// (tftp/asio/datagram_batch.hpp): a window of DATA costs a few system calls, not a wake-up and a read each.
// Every datagram is still one input. The get's FileSink holds the large blocks of all of them (keep_held)
// and writes them, with one writev, only after the last was fed and its ACK went out: the server sends the
// next window while the client writes, and the buffers are reused only after that.
//
// A get ends when the Receiver's outcome is completed: the client does not dally after its final ACK
// (as tftp-hpa, atftp and curl do not). The file is already committed then; a server whose final ACK was
// lost retransmits its last DATA into a closed port and gives up on its own, without any harm to the file.

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include <csignal>
#include <optional>
#include <system_error>
#include <type_traits>
#include <vector>

#include "trace.hpp"
#include "tftp/client/client.hpp"
#include "tftp/asio/address.hpp"
#include "tftp/asio/datagram_batch.hpp"
#include "tftp/asio/deadline_timer.hpp"
#include "tftp/asio/endpoint.hpp"
#include "tftp/posix/file_io.hpp"
#include "tftp/transfer.hpp"

namespace tftp::client::detail {

// Datagrams per read: 16 was no faster at 65464 x 64. One byte more than the largest datagram, so that an
// over-long one shows as such and an ERROR without its NUL can be given one.
inline constexpr std::size_t receive_batch_count = 8;
inline constexpr std::size_t receive_datagram_size = max_packet_size + 1;

struct DriverEnd {
  std::error_code socket_error;  // a send or receive failed locally (the machine's outcome is still running)
  bool interrupted = false;      // SIGINT/SIGTERM: the machine was aborted with an ERROR to the peer
  std::optional<asio::ip::udp::endpoint> peer;
};

template <class Machine>
class TransferDriver {
 public:
  // sink: a get's, which keeps what it holds while a batch is fed; none for a put.
  TransferDriver(asio::io_context& io, asio::ip::udp::socket& socket, asio::ip::udp::endpoint server, Machine& machine,
          const Hooks& hooks, std::optional<std::uint64_t> total, posix::FileSink* sink = nullptr)
      : io_(io), socket_(socket), server_(server), machine_(machine), hooks_(hooks), total_(total), sink_(sink),
        timer_(io.get_executor()),
        signals_(io, SIGINT, SIGTERM), start_(Clock::now()), receive_buffer_(receive_datagram_size),
        batch_(receive_batch_count, receive_datagram_size),
        transmit_buffer_(transmit_buffer_size) {}

  DriverEnd run() {
    signals_.async_wait([this](const std::error_code& ec, int) {
      if (!ec) interrupt();
    });
    after_input();
    if (!done()) receive();
    io_.run();
    return end_;
  }

 private:
  bool done() const { return machine_.is_finished() || machine_.outcome().completed() || stopped_; }

  void stop() {
    stopped_ = true;
    io_.stop();
  }

  void receive() {
    socket_.async_receive_from(asio::buffer(receive_buffer_), from_, [this](const std::error_code& ec, std::size_t n) {
      on_receive(ec, n);
    });
  }

  void on_receive(const std::error_code& ec, std::size_t size) {
    if (ec == asio::error::operation_aborted || stopped_) return;
    // An ICMP error from an earlier datagram (e.g. to a stranger) says nothing about this transfer.
    if (ec && ec != asio::error::connection_refused) return fail_locally(ec);
    keep_held();
    if (!ec) on_datagram(with_error_terminated(std::span(receive_buffer_).first(size)));
    if (!done() && windowed()) read_queued();
    write_held();
    if (!done()) receive();
  }

  // A window of DATA is mostly queued behind the datagram that woke us; in lock-step nothing is, and a read
  // would only fail (a Sender gets one ACK per window).
  bool windowed() const {
    if constexpr (std::is_same_v<Machine, Receiver>) return machine_.negotiated().window_size > 1;
    return false;
  }

  void read_queued() {
    for (;;) {
      std::error_code ec;
      const std::size_t count = batch_.receive(socket_, ec);
      for (std::size_t i = 0; i < count && !done(); ++i) {
        from_ = net::to_asio(batch_.from(i));
        on_datagram(with_error_terminated(batch_.datagram(i)));
      }
      if (done()) return;
      if (ec && ec != asio::error::connection_refused) return fail_locally(ec);
      // A full batch, or a reported ICMP error, may have more queued behind it.
      if (count < batch_.capacity() && !ec) return;
      write_held();  // before the next read reuses the buffers
      keep_held();
    }
  }

  // A get's sink holds the blocks of the datagrams fed from now on...
  void keep_held() {
    if (sink_ != nullptr) sink_->keep_held(true);
  }

  // ...until one more drain of poll_transmit, where the Receiver lets it write them (after_transmit).
  void write_held() {
    if (sink_ == nullptr) return;
    sink_->keep_held(false);
    flush();
  }

  // Some servers end an ERROR's message without its NUL. The ERROR still says why the server stopped, so it
  // is taken as meant (exit 1 with its message) rather than answered as a malformed packet. Both buffers
  // have room for one byte after a datagram shorter than receive_datagram_size.
  static std::span<const std::byte> with_error_terminated(std::span<std::byte> bytes) {
    const auto size = bytes.size();
    if (peek_opcode(bytes) != Opcode::error || size < header_size || size == receive_datagram_size || parse(bytes)) {
      return bytes;
    }
    bytes = std::span<std::byte>(bytes.data(), size + 1);
    bytes[size] = std::byte{0};
    return parse(bytes) ? bytes : bytes.first(size);
  }

  void on_datagram(std::span<const std::byte> bytes) {
    trace("recv", bytes, from_);
    if (!accept_source(bytes)) return;
    machine_.on_datagram(bytes, Clock::now());
    after_input();
  }

  // Before the first reply only the server's address may answer (from any port: its transfer ID).
  bool accept_source(std::span<const std::byte> bytes) {
    if (end_.peer && from_ == *end_.peer) return true;
    if (!end_.peer && from_.address() == server_.address()) {
      end_.peer = from_;
      return true;
    }
    // Never answer an ERROR with an ERROR: two confused hosts would bounce them forever.
    if (peek_opcode(bytes) != Opcode::error) {
      const Error unknown{ErrorCode::unknown_transfer_id, "Unknown transfer ID"};
      const auto size = encode(unknown, transmit_buffer_);
      send(std::span<const std::byte>(transmit_buffer_.data(), *size), from_);
    }
    return false;
  }

  void on_timer() {
    machine_.on_timeout(Clock::now());
    after_input();
  }

  void interrupt() {
    end_.interrupted = true;
    machine_.abort(Error{ErrorCode::not_defined, "Transfer interrupted"});
    flush();
    stop();
  }

  void after_input() {
    flush();
    report_progress();
    if (done()) return stop();
    arm();
  }

  void flush() {
    while (auto size = machine_.poll_transmit(transmit_buffer_)) {
      send(std::span<const std::byte>(transmit_buffer_.data(), *size), end_.peer.value_or(server_));
    }
  }

  void send(std::span<const std::byte> bytes, const asio::ip::udp::endpoint& to) {
    if (stopped_) return;
    trace("send", bytes, to);
    std::error_code ec;
    socket_.send_to(asio::buffer(bytes.data(), bytes.size()), to, 0, ec);
    // A refused earlier datagram is reported on a later call; it does not stop this one.
    if (ec && ec != asio::error::connection_refused) fail_locally(ec);
  }

  void fail_locally(const std::error_code& ec) {
    end_.socket_error = ec;
    stop();
  }

  void arm() {
    timer_.arm(machine_.next_deadline(), [this] {
      if (!stopped_) on_timer();
    });
  }

  void report_progress() {
    if (!hooks_.progress) return;
    const auto bytes = machine_.counters().bytes;
    if (bytes == reported_) return;
    reported_ = bytes;
    Progress progress;
    progress.bytes = bytes;
    progress.total = total_ ? total_ : machine_.negotiated().tsize;
    progress.elapsed = Clock::now() - start_;
    // The last report (done) is get's or put's, once the file is in place.
    hooks_.progress(progress);
  }

  void trace(std::string_view direction, std::span<const std::byte> bytes, const asio::ip::udp::endpoint& peer) const {
    if (!hooks_.trace) return;
    const auto line = std::string(direction) + (direction == "send" ? " to " : " from ") + net::to_string(peer) + ": " +
                      describe_datagram(bytes);
    hooks_.trace(line);
  }

  asio::io_context& io_;
  asio::ip::udp::socket& socket_;
  asio::ip::udp::endpoint server_;
  Machine& machine_;
  const Hooks& hooks_;
  std::optional<std::uint64_t> total_;
  posix::FileSink* sink_;
  net::DeadlineTimer timer_;
  asio::signal_set signals_;
  Clock::time_point start_;
  std::vector<std::byte> receive_buffer_;
  net::DatagramBatch batch_;  // what is queued behind receive_buffer_'s datagram, with a window
  std::vector<std::byte> transmit_buffer_;
  asio::ip::udp::endpoint from_;
  DriverEnd end_;
  bool stopped_ = false;
  std::uint64_t reported_ = ~std::uint64_t{0};
};

}  // namespace tftp::client::detail
