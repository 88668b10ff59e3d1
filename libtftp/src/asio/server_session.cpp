#include "server_session.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "tftp/asio/endpoint.hpp"
#include "tftp/asio/socket_buffers.hpp"
#include "tftp/codec.hpp"

namespace tftp::server {

namespace {

// Room for an OACK or ERROR, which never exceed a request's size much (an OACK echoes requested names).
constexpr std::size_t control_room = 1024;

std::string_view opcode_name(Opcode op) {
  switch (op) {
    case Opcode::rrq: return "RRQ";
    case Opcode::wrq: return "WRQ";
    case Opcode::data: return "DATA";
    case Opcode::ack: return "ACK";
    case Opcode::error: return "ERROR";
    case Opcode::oack: return "OACK";
  }
  return "?";
}

}  // namespace

std::string describe_datagram(std::span<const std::byte> datagram) {
  const auto parsed = parse(datagram);
  if (!parsed) return fmt::format("malformed ({} bytes)", datagram.size());
  return std::visit(
      [&](const auto& packet) -> std::string {
        using T = std::decay_t<decltype(packet)>;
        if constexpr (std::is_same_v<T, Data>) {
          return fmt::format("DATA {} ({} bytes)", packet.block, packet.payload.size());
        } else if constexpr (std::is_same_v<T, Ack>) {
          return fmt::format("ACK {}", packet.block);
        } else if constexpr (std::is_same_v<T, Error>) {
          return fmt::format("ERROR {} {}", static_cast<unsigned>(packet.code), packet.message);
        } else if constexpr (std::is_same_v<T, Oack>) {
          std::string text = "OACK";
          for (const auto& option : packet.options) text += fmt::format(" {}={}", option.name, option.value);
          return text;
        } else {
          return fmt::format("{} {}", opcode_name(*peek_opcode(datagram)), packet.filename);
        }
      },
      *parsed);
}

std::string describe_outcome(const Outcome& outcome) {
  if (outcome.completed()) return "ok";
  if (outcome.error == errc::options_declined) return make_error_code(outcome.error).message();
  if (outcome.received) {
    return fmt::format("client sent ERROR {}: {}", static_cast<unsigned>(outcome.received->code),
                       outcome.received->message);
  }
  const std::string why = make_error_code(outcome.error).message();
  if (outcome.sent) {
    return fmt::format("{}; sent ERROR {}: {}", why, static_cast<unsigned>(outcome.sent->code), outcome.sent->message);
  }
  return why;
}

Session::Session(asio::ip::udp::socket socket, SessionRequest request, SessionHost& host)
    : own_socket_(std::move(socket)),
      socket_(&*own_socket_),
      timer_(socket_->get_executor()),
      request_(std::move(request)),
      host_(&host),
      started_(Clock::now()) {}

Session::Session(SharedSocket shared, SessionRequest request, SessionHost& host)
    : socket_(&shared.socket),
      reply_from_(shared.source),
      timer_(shared.socket.get_executor()),
      request_(std::move(request)),
      host_(&host),
      started_(Clock::now()) {}

void Session::size_buffers(const Negotiated& negotiated) {
  // One byte more than the largest DATA, so that an over-long one is seen as such and not cut to fit.
  // Two datagrams per receive call: enough to learn that the queue is empty in lock-step; four for a
  // window of DATA (datagram_batch.hpp).
  if (own_socket_) {
    rx_.emplace(negotiated.window_size > 1 ? 4 : 2, std::max(header_size + negotiated.block_size + 1, control_room));
  }
  tx_.resize(std::max(header_size + negotiated.block_size, control_room));
  if (negotiated.window_size > 1) {
    net::size_socket_buffers(*socket_, net::window_buffer_bytes(negotiated.block_size, negotiated.window_size));
  }
}

void Session::start_read(fileio::FileSource source, const ServerAnswer& answer, const TransferConfig& config) {
  size_buffers(answer.negotiated);
  source_.emplace(std::move(source));
  sender_.emplace(Sender::serve_read(answer, *source_, config, started_));
  begin();
}

void Session::start_write(Upload upload, const ServerAnswer& answer, const TransferConfig& config) {
  size_buffers(answer.negotiated);
  upload_.emplace(std::move(upload));
  sink_.emplace(upload_->file, upload_->mode, upload_->limit);
  // Write-behind: a block's bytes stay in the receive buffer until after_input, which writes them once the
  // ACK is out and before the buffer is read into again.
  sink_->hold_large_blocks(true);
  receiver_.emplace(Receiver::serve_write(answer, *sink_, config, started_));
  begin();
}

void Session::begin() {
  after_input();
  if (!closed_ && own_socket_) receive();
}

// Wait for the socket, then read in this handler (datagram_batch.hpp: so catch_up reads in order).
void Session::receive() {
  socket_->async_wait(asio::ip::udp::socket::wait_read,
                      [self = shared_from_this()](std::error_code ec) { self->on_readable(ec); });
}

void Session::on_readable(std::error_code ec) {
  if (closed_ || ec == asio::error::operation_aborted) return;
  read_queued();
  if (!closed_) receive();
}

void Session::catch_up() {
  if (!closed_ && rx_) read_queued();
}

void Session::read_queued() {
  std::error_code ec;
  bool error_seen = false;
  for (;;) {
    const std::size_t count = rx_->receive(*socket_, ec);
    for (std::size_t i = 0; i < count && !closed_; ++i) {
      from_ = rx_->from(i);
      const std::span<const std::byte> datagram = rx_->datagram(i);
      if (from_ != request_.client) {
        answer_stranger(datagram);
      } else {
        from_client(datagram);
      }
    }
    if (closed_) return;
    if (count == rx_->capacity()) continue;
    // An error (an ICMP error reported late) says nothing about the transfer; datagrams may be queued
    // behind it, so read once more.
    if (!ec || std::exchange(error_seen, true)) break;
  }
}

void Session::on_datagram(std::span<const std::byte> datagram) {
  if (!closed_) from_client(datagram);
}

void Session::from_client(std::span<const std::byte> datagram) {
  trace("recv", request_.client, datagram);
  machine([&](auto& m) { m.on_datagram(datagram, Clock::now()); });
  after_input();
}

void Session::answer_stranger(std::span<const std::byte> datagram) {
  trace("stranger", from_, datagram);
  if (!host_->may_answer_stranger(datagram)) return;
  const auto size = encode(Error{ErrorCode::unknown_transfer_id, "Unknown transfer ID"}, tx_);
  if (!size) return;
  std::error_code ignored;
  socket_->send_to(asio::buffer(tx_.data(), *size), from_, 0, ignored);
  host_->log().write(LogEvent{LogLevel::warning, "stranger", {}}
                         .add("client", net::to_string(request_.client))
                         .add("stranger", net::to_string(from_))
                         .add("file", request_.file)
                         .limited("stranger"));
}

void Session::on_timer(std::error_code ec) {
  if (closed_ || ec == asio::error::operation_aborted) return;
  armed_.reset();
  machine([&](auto& m) { m.on_timeout(Clock::now()); });
  after_input();
}

void Session::after_input() {
  flush();
  if (!answered_ && machine([](auto& m) { return m.answered(); })) {
    answered_ = true;
    host_->client_answered(*this);
  }
  if (sink_ && receiver_ && receiver_->outcome().running()) {
    if (auto error = sink_->write_held()) {
      receiver_->abort(std::move(*error));
      flush();
    }
  }
  if (!done_ && !machine([](auto& m) { return m.outcome().running(); })) report();
  if (closed_) return;
  if (machine([](auto& m) { return m.is_finished(); })) {
    close();
  } else {
    rearm();
  }
}

void Session::flush() {
  while (const auto size = machine([&](auto& m) { return m.poll_transmit(tx_); })) {
    const auto datagram = std::span<const std::byte>(tx_).first(*size);
    trace("send", request_.client, datagram);
    std::error_code ignored;  // would_block and the like: a lost datagram, the machine retransmits
    net::send_from(*socket_, datagram, request_.client, reply_from_, ignored);
  }
}

void Session::rearm() {
  const auto deadline = machine([](auto& m) { return m.next_deadline(); });
  // Lazy, as in the client: a pending wait that ends no later than the deadline stays (ending early, it is a
  // no-op for the machine and re-arms from here), so a transfer costs no cancelled wait per packet.
  if (deadline == armed_ || (deadline && armed_ && *armed_ <= *deadline)) return;
  armed_ = deadline;
  if (!deadline) {
    timer_.cancel();
    return;
  }
  timer_.expires_at(*deadline);
  timer_.async_wait([self = shared_from_this()](std::error_code ec) { self->on_timer(ec); });
}

void Session::report(std::string result_override) {
  if (done_) return;
  done_ = true;
  TransferRecord record;
  record.client = net::to_string(request_.client);
  record.file = request_.file;
  record.direction = request_.direction;
  record.elapsed = Clock::now() - started_;
  const bool overridden = !result_override.empty();
  machine([&](auto& m) {
    record.bytes = m.counters().bytes;
    record.block_size = m.negotiated().block_size;
    record.window_size = m.negotiated().window_size;
    record.ok = m.outcome().completed() && !overridden;
    record.declined = m.outcome().error == errc::options_declined;
    record.unanswered = m.outcome().error == errc::unanswered;
    record.result = overridden ? std::move(result_override) : describe_outcome(m.outcome());
  });
  // A failed upload leaves nothing, and that is so by the time its log line says it failed.
  if (!record.ok && upload_) upload_->file.discard();
  host_->transfer_done(*this, record);
}

void Session::abort(const Error& error) {
  if (closed_) return;
  if (done_) {
    close();
    return;
  }
  machine([&](auto& m) { m.abort(error); });
  after_input();
}

void Session::evict() {
  if (closed_) return;
  done_ = true;
  if (upload_) upload_->file.discard();
  close();
}

void Session::close() {
  if (closed_) return;
  detach();
  host_->session_closed(*this);
}

void Session::detach() noexcept {
  closed_ = true;
  std::error_code ignored;
  timer_.cancel();
  if (own_socket_) own_socket_->close(ignored);
}

void Session::trace(const char* what, const asio::ip::udp::endpoint& peer, std::span<const std::byte> datagram) {
  if (!host_->log().tracing()) return;
  host_->log().write(LogEvent{LogLevel::debug, "packet", {}}
                         .add("dir", what)
                         .add("peer", net::to_string(peer))
                         .add("packet", describe_datagram(datagram)));
}

}  // namespace tftp::server
