#include "chat_server.hpp"

#include <chrono>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "chat_protocol.hpp"
#include "framed_stream.hpp"
#include "incoming_file.hpp"
#include "json_header.hpp"
#include "tftp/asio/endpoint.hpp"

namespace demos {
namespace {

using asio::ip::tcp;
using Frame = std::shared_ptr<const std::vector<std::byte>>;
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
// How long a client may keep the connection open after the server said its last word.
constexpr auto linger = std::chrono::seconds(10);

Frame make_frame(MessageType type, std::string_view body) {
  return std::make_shared<const std::vector<std::byte>>(encode_framed(type, body));
}

class Session;

}  // namespace

struct ChatServer::State {
  State(asio::any_io_executor ex, ChatServerConfig c) : executor(std::move(ex)), acceptor(executor), config(std::move(c)) {}

  void log(std::string_view line) const {
    if (config.log) config.log(line);
  }

  asio::any_io_executor executor;
  tcp::acceptor acceptor;
  ChatServerConfig config;
  std::map<std::string, std::shared_ptr<Session>, std::less<>> members;  // joined clients by nickname
  std::set<Session*> sessions;                                          // every open connection
  std::size_t staying = 0;  // connections not on their way out (max_connections counts these)
  std::uint64_t files_reserved = 0;  // bytes of the files stored and being received, against files_quota
};

namespace {

// Every message of the room goes through here; a copy of the member list is walked because delivering
// can drop a client.
void broadcast(ChatServer::State& state, const Session* from, const Frame& frame);
std::string who(const ChatServer::State& state);

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<ChatServer::State> state)
      : socket_(std::move(socket)), reader_(socket_), signal_(socket_.get_executor()), state_(std::move(state)),
        idle_(socket_.get_executor()) {
    std::error_code ec;
    peer_ = tftp::net::to_string(socket_.remote_endpoint(ec));
    signal_.expires_at(std::chrono::steady_clock::time_point::max());
    state_->sessions.insert(this);
    ++state_->staying;
  }
  ~Session() {
    release_file_reservation();
    leaving();
    state_->sessions.erase(this);
  }

  // The connection is ending (its last word is queued, or it is closed): its slot is free for another.
  void leaving() {
    if (std::exchange(staying_, false)) --state_->staying;
  }

  void start() {
    state_->log("connect " + peer_);
    if (state_->config.echo) send(MessageType::text, "Welcome to the echo server. Send your name; /quit ends.");
    asio::co_spawn(socket_.get_executor(), [self = shared_from_this()] { return self->read_loop(); }, asio::detached);
    asio::co_spawn(socket_.get_executor(), [self = shared_from_this()] { return self->write_loop(); }, asio::detached);
    asio::co_spawn(socket_.get_executor(), [self = shared_from_this()] { return self->idle_loop(); }, asio::detached);
  }

  // Queues a frame; a client whose queue would pass the limit is dropped instead.
  void deliver(const Frame& frame) {
    if (closed_ || finishing_) return;
    if (queued_bytes_ + frame->size() > state_->config.queue_limit) {
      drop("its queue is full (not reading)");
      return;
    }
    queue_.push_back(frame);
    queued_bytes_ += frame->size();
    signal_.cancel_one();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    leaving();
    std::error_code ec;
    socket_.close(ec);
    signal_.cancel();
    idle_.cancel();
  }

  const std::string& nickname() const noexcept { return nickname_; }

 private:
  enum class Stage { naming, chatting };

  void send(MessageType type, std::string_view body) { deliver(make_frame(type, body)); }

  void drop(std::string reason) {
    state_->log("drop " + describe() + ": " + reason);
    leave_note_ = " (dropped: " + reason + ")";
    close();
  }

  // The last word: the writer sends what is queued, then half-closes and waits for the client to go.
  void finish_after(MessageType type, std::string_view body) {
    send(type, body);
    finishing_ = true;
    leaving();
    signal_.cancel_one();
  }

  // Tells the client why, then closes: the protocol was broken and nothing after this frame is trusted.
  bool fail(std::string_view reason) {
    state_->log("refuse " + describe() + ": " + std::string(reason));
    file_.reset();  // a half-received file goes now, not when the client gets round to closing
    release_file_reservation();
    discard_ = 0;
    finish_after(MessageType::error, reason);
    return false;
  }

  std::string describe() const { return nickname_.empty() ? peer_ : nickname_ + " (" + peer_ + ")"; }

  asio::awaitable<void> read_loop() {
    for (;;) {
      const auto [error, payload] = co_await reader_.read();
      if (error) {
        if (!closed_) state_->log("close " + describe() + ": " + error.message());
        break;
      }
      last_heard_ = std::chrono::steady_clock::now();
      // After the last word, bytes are read only to see the client close.
      if (!finishing_) handle(payload);
    }
    leave();
    close();
  }

  // A client that sends nothing for idle_timeout holds a connection for nothing: it is dropped.
  asio::awaitable<void> idle_loop() {
    const auto timeout = state_->config.idle_timeout;
    while (!closed_) {
      idle_.expires_at(last_heard_ + timeout);
      co_await idle_.async_wait(use_tuple);
      if (!closed_ && std::chrono::steady_clock::now() >= last_heard_ + timeout) {
        drop("idle for " + std::to_string(timeout.count()) + " ms");
      }
    }
  }

  asio::awaitable<void> write_loop() {
    while (!closed_) {
      if (queue_.empty()) {
        if (finishing_) break;
        co_await signal_.async_wait(use_tuple);
        continue;
      }
      const Frame frame = queue_.front();
      const auto [error, n] = co_await asio::async_write(socket_, asio::buffer(*frame), use_tuple);
      static_cast<void>(n);
      if (error) {
        close();
        co_return;
      }
      queue_.pop_front();
      queued_bytes_ -= frame->size();
    }
    if (closed_) co_return;
    std::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    signal_.expires_after(linger);
    co_await signal_.async_wait(use_tuple);
    close();
  }

  bool handle(std::span<const std::byte> payload) {
    const auto message = decode_message(payload);
    if (!message) return fail("unknown frame type");
    switch (message->type) {
      case MessageType::text:
        if (file_ || discard_ > 0) return fail("a message arrived in the middle of a file");
        if (state_->config.echo) return echo(as_text(message->body));
        return stage_ == Stage::naming ? join(as_text(message->body)) : chat(as_text(message->body));
      case MessageType::file_header: return file_header(as_text(message->body));
      case MessageType::file_data: return file_data(message->body);
      case MessageType::error: break;
    }
    return fail("clients do not send error frames");
  }

  bool echo(std::string_view text) {
    if (text == "/quit") {
      finish_after(MessageType::text, "Goodbye.");
      return true;
    }
    send(MessageType::text, "Hello, " + std::string(text));
    return true;
  }

  bool join(std::string_view name) {
    if (!valid_nickname(name)) return fail("a nickname is 1-32 of A-Z a-z 0-9 _ -");
    if (state_->members.contains(name)) return fail("nickname " + std::string(name) + " is taken");
    nickname_ = name;
    stage_ = Stage::chatting;
    state_->members.emplace(nickname_, shared_from_this());
    state_->log("join " + describe());
    send(MessageType::text, "Welcome, " + nickname_ + ". Online: " + who(*state_) + ". Commands: /who /quit /send PATH");
    broadcast(*state_, this, make_frame(MessageType::text, "* " + nickname_ + " joined"));
    return true;
  }

  bool chat(std::string_view text) {
    if (text == "/quit") {
      leave();
      finish_after(MessageType::text, "Goodbye, " + nickname_ + ".");
      return true;
    }
    if (text == "/who") {
      send(MessageType::text, "Online: " + who(*state_));
      return true;
    }
    if (text.starts_with('/')) {
      send(MessageType::error, "unknown command; try /who, /quit, /send PATH");
      return true;
    }
    broadcast(*state_, this, make_frame(MessageType::text, nickname_ + ": " + std::string(text)));
    return true;
  }

  bool file_header(std::string_view json) {
    if (file_ || discard_ > 0) return fail("a file header arrived in the middle of a file");
    if (stage_ == Stage::naming && !state_->config.echo) return fail("send a nickname first");
    auto parsed = parse_file_header(json);
    if (const auto* error = std::get_if<HeaderError>(&parsed)) {
      return fail("bad file header: " + std::string(demos::describe(*error)));
    }
    const auto& header = std::get<FileHeader>(parsed);
    if (state_->config.echo || !state_->config.files) return refuse_file(header, "file transfer is off");
    if (state_->files_reserved + header.size > state_->config.files_quota) {
      return refuse_file(header, "the server's space for files is used up");
    }
    auto opened = IncomingFile::open(*state_->config.files, header, state_->config.max_file_size);
    if (auto* reason = std::get_if<std::string>(&opened)) return refuse_file(header, *reason);
    file_.emplace(std::move(std::get<IncomingFile>(opened)));
    file_size_ = header.size;
    reserved_ = header.size;  // given back unless the file is stored
    state_->files_reserved += reserved_;
    return header.size == 0 ? complete_file() : true;
  }

  // The data frames that follow are read and thrown away, so the client stays connected.
  bool refuse_file(const FileHeader& header, std::string_view reason) {
    state_->log("refuse file from " + describe() + ": " + std::string(reason));
    send(MessageType::error, "file " + printable(header.name) + " refused: " + std::string(reason));
    discard_ = header.size;
    return true;
  }

  bool file_data(std::span<const std::byte> bytes) {
    if (discard_ > 0) {
      if (bytes.size() > discard_) return fail("more file bytes than the header announced");
      discard_ -= bytes.size();
      return true;
    }
    if (!file_) return fail("file bytes without a header");
    const auto remaining = file_->remaining();
    if (auto error = file_->write(bytes); !error.empty()) {
      if (bytes.size() > remaining) return fail(error);
      file_.reset();
      release_file_reservation();
      discard_ = remaining - bytes.size();
      send(MessageType::error, "file refused: " + error);
      return true;
    }
    return file_->remaining() == 0 ? complete_file() : true;
  }

  void release_file_reservation() {
    state_->files_reserved -= std::exchange(reserved_, 0);
  }

  bool complete_file() {
    const std::string name = file_->name();
    auto error = file_->commit();
    file_.reset();
    if (!error.empty()) {
      release_file_reservation();
      send(MessageType::error, "file " + name + " refused: " + error);
      return true;
    }
    reserved_ = 0;  // stored: it stays counted against the quota
    const auto size = std::to_string(file_size_);
    state_->log("stored " + name + " (" + size + " bytes) from " + describe());
    send(MessageType::text, "Stored " + name + " (" + size + " bytes)");
    broadcast(*state_, this, make_frame(MessageType::text, "* " + nickname_ + " sent file " + name + " (" + size + " bytes)"));
    return true;
  }

  void leave() {
    if (stage_ != Stage::chatting) return;
    stage_ = Stage::naming;
    const auto it = state_->members.find(nickname_);
    if (it == state_->members.end() || it->second.get() != this) return;
    state_->members.erase(it);
    state_->log("leave " + describe() + leave_note_);
    broadcast(*state_, this, make_frame(MessageType::text, "* " + nickname_ + " left" + leave_note_));
  }

  tcp::socket socket_;
  FrameReader reader_;
  asio::steady_timer signal_;  // never expires by itself: cancelled to wake the writer
  std::shared_ptr<ChatServer::State> state_;
  std::deque<Frame> queue_;
  std::size_t queued_bytes_ = 0;
  std::string peer_;
  std::string nickname_;
  std::string leave_note_;
  Stage stage_ = Stage::naming;
  bool finishing_ = false;
  bool closed_ = false;
  bool staying_ = true;
  std::optional<IncomingFile> file_;
  std::uint64_t file_size_ = 0;
  std::uint64_t reserved_ = 0;  // of state_->files_reserved, for the file being received
  std::uint64_t discard_ = 0;
  asio::steady_timer idle_;
  std::chrono::steady_clock::time_point last_heard_ = std::chrono::steady_clock::now();
};

void broadcast(ChatServer::State& state, const Session* from, const Frame& frame) {
  std::vector<std::shared_ptr<Session>> targets;
  for (const auto& [name, session] : state.members) {
    if (session.get() != from) targets.push_back(session);
  }
  for (const auto& target : targets) target->deliver(frame);
}

std::string who(const ChatServer::State& state) {
  std::string out;
  for (const auto& [name, session] : state.members) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

asio::awaitable<void> accept_loop(std::shared_ptr<ChatServer::State> state) {
  asio::steady_timer backoff(state->executor);
  for (;;) {
    auto [error, socket] = co_await state->acceptor.async_accept(use_tuple);
    if (error == asio::error::operation_aborted || !state->acceptor.is_open()) co_return;
    if (error) {
      // Out of descriptors, say: retrying at once would spin on the same error.
      state->log("accept: " + error.message());
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(use_tuple);
      continue;
    }
    if (state->staying >= state->config.max_connections) {
      // One frame into an empty send buffer does not block; then the connection goes.
      const auto frame = make_frame(MessageType::error, "the server is full, try later");
      std::error_code ec;
      asio::write(socket, asio::buffer(*frame), ec);
      socket.close(ec);
      state->log("refuse a connection: " + std::to_string(state->staying) + " open");
      continue;
    }
    if (state->config.send_buffer) {
      std::error_code ec;
      socket.set_option(asio::socket_base::send_buffer_size(*state->config.send_buffer), ec);
    }
    std::make_shared<Session>(std::move(socket), state)->start();
  }
}

}  // namespace

ChatServer::ChatServer(asio::any_io_executor executor, const tcp::endpoint& listen, ChatServerConfig config)
    : state_(std::make_shared<State>(std::move(executor), std::move(config))) {
  state_->acceptor.open(listen.protocol());
  state_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  state_->acceptor.bind(listen);
  state_->acceptor.listen();
}

ChatServer::~ChatServer() { stop(); }

tcp::endpoint ChatServer::local_endpoint() const { return state_->acceptor.local_endpoint(); }

void ChatServer::start() { asio::co_spawn(state_->executor, accept_loop(state_), asio::detached); }

void ChatServer::stop() {
  std::error_code ec;
  state_->acceptor.close(ec);
  const std::vector<Session*> open(state_->sessions.begin(), state_->sessions.end());
  for (Session* session : open) session->close();
  state_->members.clear();
}

}  // namespace demos
