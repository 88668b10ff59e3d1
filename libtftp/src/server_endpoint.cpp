#include "tftp/server_endpoint.hpp"

#include <algorithm>
#include <utility>

#include "tftp/codec.hpp"

namespace tftp {

namespace {

// Without an MTU to go by (the address went away), the common Ethernet one.
constexpr unsigned fallback_mtu = 1500;

Error busy() { return Error{ErrorCode::not_defined, "server busy"}; }
Error shutting_down() { return Error{ErrorCode::not_defined, "server shutting down"}; }
Error unknown_transfer_id() { return Error{ErrorCode::unknown_transfer_id, "Unknown transfer ID"}; }

}  // namespace

std::uint16_t block_size_for_mtu(unsigned mtu, bool ipv6) noexcept {
  const unsigned overhead = (ipv6 ? 40U : 20U) + 8U + static_cast<unsigned>(header_size);
  const unsigned room = mtu > overhead ? mtu - overhead : 0;
  return static_cast<std::uint16_t>(std::clamp<unsigned>(room, min_block_size, max_block_size));
}

// One transfer: its machine, the content behind it, and where its datagrams go.
struct ServerEndpoint::Session {
  SessionId id = 0;
  SocketAddress client;
  ListenerId listener = 0;
  std::optional<LocalAddress> local;  // the address the request was sent to: replies leave from it
  bool own_socket = true;
  std::string file;
  Direction direction = Direction::read;
  Mode mode = Mode::octet;
  TimePoint started;
  TimePoint last_input;
  std::unique_ptr<BlockSource> source;
  std::unique_ptr<UploadSink> sink;
  std::optional<Sender> sender;
  std::optional<Receiver> receiver;
  // A read whose provider said OpenLater: what the request asked, until the answer comes. No machine yet.
  struct Opening {
    OptionList options;
    ServerPolicy policy;
  };
  std::optional<Opening> opening;
  std::optional<TimePoint> deadline;  // the machine's next deadline, as of its last input
  std::optional<TimePoint> queued;    // the earliest entry it has in deadlines_ (later ones may be stale)
  bool active = false;                // in active_
  bool answered = false;              // reported to admission
  bool done = false;                  // the outcome is final and was reported (or the session was evicted)
  bool closed = false;                // gone from the tables; freed once nothing points at it

  // Not while opening: there is no machine yet.
  template <class F>
  decltype(auto) machine(F&& f) {
    return sender ? f(*sender) : f(*receiver);
  }
  SocketRef socket() const noexcept { return own_socket ? SocketRef::session(id) : SocketRef::listener(listener); }
  // A session socket is bound to the reply address already; a listening socket is told per datagram.
  std::optional<LocalAddress> source_address() const { return own_socket ? std::nullopt : local; }
};

struct ServerEndpoint::Pending {
  SocketRef socket;
  SocketAddress destination;
  std::optional<LocalAddress> source;
  std::vector<std::byte> bytes;
};

namespace {

std::unique_ptr<SharedAdmission> own_admission(const EndpointConfig& config, const EndpointShard& shard) {
  if (shard.admission != nullptr) return nullptr;
  return std::make_unique<SharedAdmission>(config.max_sessions, config.max_sessions_per_client);
}

double stranger_rate(const EndpointConfig& config, const EndpointShard& shard) {
  return config.stranger_replies_per_second / std::max<std::uint32_t>(shard.count, 1);
}

}  // namespace

ServerEndpoint::ServerEndpoint(const EndpointConfig& config, ContentProvider& content, EndpointHost& host,
                               EndpointShard shard)
    : config_(config),
      content_(&content),
      host_(&host),
      own_admission_(own_admission(config, shard)),
      admission_(shard.admission != nullptr ? shard.admission : own_admission_.get()),
      shard_(shard),
      stranger_replies_(stranger_rate(config, shard), stranger_rate(config, shard)),
      next_session_(shard.index + 1) {
  if (shard_.count == 0) shard_.count = 1;
}

SessionId ServerEndpoint::new_session_id() noexcept {
  const SessionId id = next_session_;
  next_session_ += shard_.count;
  return id;
}

ServerEndpoint::~ServerEndpoint() = default;

// ---- Inputs --------------------------------------------------------------------------------------

void ServerEndpoint::on_datagram(const Received& datagram, TimePoint now) {
  free_closed();
  if (datagram.socket.kind == SocketRef::Kind::session) {
    const auto it = sessions_.find(datagram.socket.id);
    if (it == sessions_.end()) return;  // its socket was closed meanwhile
    Session& session = *it->second;
    if (datagram.remote != session.client) {
      answer_stranger(datagram, &session, now);
    } else {
      on_session_datagram(session, datagram, now);
    }
    return;
  }
  const auto opcode = peek_opcode(datagram.bytes);
  const bool request = opcode == Opcode::rrq || opcode == Opcode::wrq;
  if (config_.single_port && !request) {
    demultiplex(datagram, now);
    return;
  }
  if (!request) return;  // stray DATA/ACK/ERROR: not for a listening socket
  if (stopping_) {
    ++counters_.ignored_requests;
    ++results_of(direction_of(datagram)).ignored;
    return;
  }
  on_request(datagram, now);
}

void ServerEndpoint::on_timeout(TimePoint now) {
  free_closed();
  if (grace_end_ && now >= *grace_end_) {
    grace_end_.reset();
    std::vector<Session*> left;
    for (auto& [id, session] : sessions_) left.push_back(session.get());
    for (Session* session : left) {
      if (session->done) {
        close(*session);
      } else if (session->opening) {
        refuse_opening(*session, session->file, shutting_down());
      } else {
        session->last_input = now;
        session->machine([](auto& m) { m.abort(shutting_down()); });
        touch(*session);
      }
    }
  }
  while (!deadlines_.empty() && deadlines_.top().at <= now) {
    const auto [at, id] = deadlines_.top();
    deadlines_.pop();
    const auto it = sessions_.find(id);
    if (it == sessions_.end()) continue;  // closed since
    Session& session = *it->second;
    if (session.queued == at) session.queued.reset();
    if (!session.deadline) continue;
    if (*session.deadline > now) {  // the machine's deadline moved on since this entry was made
      queue_deadline(session);
      continue;
    }
    session.deadline.reset();
    if (session.opening) {  // the provider never answered: the client has given up by now too
      refuse_opening(session, session.file, Error{ErrorCode::not_defined, "content unavailable"});
      continue;
    }
    session.last_input = now;
    session.machine([&](auto& m) { m.on_timeout(now); });
    touch(session);
  }
}

void ServerEndpoint::on_request(const Received& datagram, TimePoint now) {
  ++counters_.requests;
  ++(peek_opcode(datagram.bytes) == Opcode::rrq ? counters_.read_requests : counters_.write_requests);
  auto parsed = parse(datagram.bytes);
  if (!parsed) {
    ++counters_.malformed_requests;
    refuse(datagram, "", Error{ErrorCode::illegal_operation, parsed.error_code().message()}, true);
    return;
  }
  if (const auto it = by_client_.find(datagram.remote); it != by_client_.end()) {
    // A retransmitted request: its transfer is already answering it.
    if (!it->second->done) {
      ++counters_.repeated_requests;
      ++results_of(direction_of(datagram)).repeated;
      return;
    }
    close(*it->second);  // a completed upload dallying: the client has moved on
  }
  if (auto* rrq = std::get_if<Rrq>(&*parsed)) {
    serve_read(datagram, *rrq, now);
  } else {
    serve_write(datagram, std::get<Wrq>(*parsed), now);
  }
}

void ServerEndpoint::on_session_datagram(Session& session, const Received& datagram, TimePoint now) {
  if (session.opening) return;  // single-port: nothing was sent to this client yet
  session.last_input = now;
  session.machine([&](auto& m) { m.on_datagram(datagram.bytes, now); });
  touch(session);
}

// Single-port mode: a packet from a client address:port with a session goes to it; another port of an
// address with a transfer gets ERROR 5, as a session socket answers a stranger.
void ServerEndpoint::demultiplex(const Received& datagram, TimePoint now) {
  if (const auto it = by_client_.find(datagram.remote); it != by_client_.end()) {
    on_session_datagram(*it->second, datagram, now);
    return;
  }
  // Only a host with a transfer here is told (one that lost track of its port, e.g. behind a NAT that
  // changed it). This port is well known: answering anyone would reflect 24 bytes for each spoofed 4-byte
  // ACK at whatever address the spoofer names.
  const auto same_host = by_client_.lower_bound(SocketAddress{datagram.remote.ip, 0});
  if (same_host == by_client_.end() || same_host->first.ip != datagram.remote.ip) {
    ++counters_.strangers;
    return;
  }
  answer_stranger(datagram, nullptr, now);
}

// A flood of junk or of forged packets must not become a flood of ERRORs: only a well-formed TFTP packet
// other than an ERROR (two servers must not bounce ERRORs) is answered, at a bounded rate.
void ServerEndpoint::answer_stranger(const Received& datagram, Session* session, TimePoint now) {
  ++counters_.strangers;
  const auto parsed = parse(datagram.bytes);
  if (!parsed || std::holds_alternative<Error>(*parsed)) return;
  if (!stranger_replies_.take(now)) return;
  ++counters_.strangers_answered;
  const SocketRef socket = session != nullptr ? session->socket() : datagram.socket;
  const auto source = session != nullptr ? session->source_address() : datagram.local;
  Pending reply{socket, datagram.remote, source, {}};
  reply.bytes.resize(64);
  reply.bytes.resize(*encode(unknown_transfer_id(), reply.bytes));
  pending_.push_back(std::move(reply));
  StrangerAnswered event{datagram.remote, std::nullopt, {}};
  if (session != nullptr) {
    event.client = session->client;
    event.file = session->file;
  }
  events_.emplace_back(std::move(event));
}

// ---- Requests ------------------------------------------------------------------------------------

void ServerEndpoint::serve_read(const Received& datagram, const Rrq& rrq, TimePoint now) {
  if (!admit(datagram, rrq.filename)) return;
  const SessionId id = new_session_id();
  auto opened = content_->open_read(ContentRequest{id, datagram.remote, rrq.filename, rrq.mode,
                                                   find_option(rrq.options, "tsize") != nullptr, std::nullopt});
  if (auto* refusal = std::get_if<Refusal>(&opened)) {
    refuse(datagram, std::move(refusal->name), std::move(refusal->error));
    return;
  }
  if (std::holds_alternative<OpenLater>(opened)) {
    // The request waits as a session: it holds its slot, and its retransmissions are repeats.
    Session* session = add_session(id, datagram, rrq.filename, rrq.mode, Direction::read, now);
    if (session == nullptr) return;
    session->opening = Session::Opening{rrq.options, policy_for(datagram)};
    session->deadline = now + give_up_time(config_.transfer);
    queue_deadline(*session);
    return;
  }
  auto& content = std::get<ReadContent>(opened);
  const auto answer = negotiate(policy_for(datagram), rrq.options, Direction::read, content.size);
  if (answer.refusal) {  // refused before a session exists: it costs no slot and evicts nobody
    refuse(datagram, content.name, *answer.refusal);
    return;
  }
  Session* session = add_session(id, datagram, content.name, rrq.mode, Direction::read, now);
  if (session == nullptr) return;
  start_read(*session, std::move(content), answer, now);
}

void ServerEndpoint::on_read_opened(SessionId id, ReadOpening answer, TimePoint now) {
  free_closed();
  const auto it = sessions_.find(id);
  if (it == sessions_.end() || !it->second->opening) return;  // evicted, or ended meanwhile
  Session& session = *it->second;
  if (auto* refusal = std::get_if<Refusal>(&answer)) {
    refuse_opening(session, std::move(refusal->name), std::move(refusal->error));
    return;
  }
  if (std::holds_alternative<OpenLater>(answer)) return;  // not an answer: keep waiting
  auto& content = std::get<ReadContent>(answer);
  const auto negotiated = negotiate(session.opening->policy, session.opening->options, Direction::read, content.size);
  if (negotiated.refusal) {
    refuse_opening(session, content.name, *negotiated.refusal);
    return;
  }
  start_read(session, std::move(content), negotiated, now);
}

void ServerEndpoint::on_content_ready(SessionId id, TimePoint now) {
  free_closed();
  const auto it = sessions_.find(id);
  if (it == sessions_.end() || !it->second->sender || it->second->done) return;
  Session& session = *it->second;
  session.last_input = now;
  session.sender->resume(now);
  touch(session);
}

// The content is there and the options agreed: the session gets its socket and its Sender.
void ServerEndpoint::start_read(Session& session, ReadContent content, const ServerAnswer& answer, TimePoint now) {
  session.file = std::move(content.name);
  if (!open_socket(session, answer.negotiated)) {
    refuse_opening(session, session.file, busy());
    return;
  }
  session.opening.reset();
  session.deadline.reset();
  session.last_input = now;
  ++counters_.sessions;
  ++counters_.rrq.served;
  session.source = std::move(content.source);
  session.sender.emplace(Sender::serve_read(answer, *session.source, config_.transfer, now));
  touch(session);
}

void ServerEndpoint::serve_write(const Received& datagram, const Wrq& wrq, TimePoint now) {
  if (!config_.writes_allowed) {
    refuse(datagram, wrq.filename, Error{ErrorCode::access_violation, "uploads are disabled"});
    return;
  }
  if (!admit(datagram, wrq.filename)) return;
  const auto* tsize = find_option(wrq.options, "tsize");
  const SessionId id = new_session_id();
  auto opened = content_->open_write(ContentRequest{id, datagram.remote, wrq.filename, wrq.mode, false,
                                                    tsize != nullptr ? parse_decimal(tsize->value) : std::nullopt});
  if (!opened) {
    auto refusal = opened.error();
    refuse(datagram, std::move(refusal.name), std::move(refusal.error));
    return;
  }
  auto& content = *opened;
  const auto answer = negotiate(policy_for(datagram), wrq.options, Direction::write, std::nullopt);
  if (answer.refusal) {
    content.sink->abort();
    refuse(datagram, content.name, *answer.refusal);
    return;
  }
  Session* session = add_session(id, datagram, content.name, wrq.mode, Direction::write, now);
  if (session == nullptr) {
    content.sink->abort();
    return;
  }
  if (!open_socket(*session, answer.negotiated)) {
    content.sink->abort();
    refuse_opening(*session, content.name, busy());
    return;
  }
  ++counters_.sessions;
  ++counters_.wrq.served;
  session->sink = std::move(content.sink);
  session->receiver.emplace(Receiver::serve_write(answer, *session->sink, config_.transfer, now));
  touch(*session);
}

// A look before the content is opened (a busy server opens no files); add_session decides again.
bool ServerEndpoint::admit(const Received& datagram, const std::string& file) {
  return answer_admission(admission_->would_admit(datagram.remote), datagram, file);
}

// true: admitted; otherwise the request was refused (busy) or ignored (a repeat).
bool ServerEndpoint::answer_admission(SharedAdmission::Verdict verdict, const Received& datagram,
                                      const std::string& file) {
  switch (verdict) {
    case SharedAdmission::Verdict::admit:
      return true;
    case SharedAdmission::Verdict::busy:
      ++counters_.busy;
      refuse(datagram, file, busy());
      return false;
    case SharedAdmission::Verdict::elsewhere:  // another shard runs this client's transfer
      ++counters_.repeated_requests;
      ++results_of(direction_of(datagram)).repeated;
      return false;
  }
  return false;
}

Direction ServerEndpoint::direction_of(const Received& request) noexcept {
  return peek_opcode(request.bytes) == Opcode::wrq ? Direction::write : Direction::read;
}

RequestResults& ServerEndpoint::results_of(Direction direction) noexcept {
  return direction == Direction::write ? counters_.wrq : counters_.rrq;
}

// The negotiation limits for this client: with block_size_from_mtu, blksize fits the MTU of the link the
// replies leave by.
ServerPolicy ServerEndpoint::policy_for(const Received& datagram) {
  if (!config_.block_size_from_mtu) return config_.policy;
  auto policy = config_.policy;
  const auto mtu = host_->path_mtu(static_cast<ListenerId>(datagram.socket.id), datagram.local, datagram.remote);
  const bool ipv6 = datagram.remote.ip.is_v6() && !datagram.remote.ip.is_v4_mapped();
  policy.max_block_size = block_size_for_mtu(mtu.value_or(fallback_mtu), ipv6);
  return policy;
}

// A session in the tables, holding its admission slot; its socket comes with open_socket.
// A session in the tables, holding its admission slot (its socket comes with open_socket); null when the
// slot went to another shard's request since admit(): the request was then answered (busy) or ignored.
ServerEndpoint::Session* ServerEndpoint::add_session(SessionId id, const Received& datagram, const std::string& file,
                                                     Mode mode, Direction direction, TimePoint now) {
  const auto claim = admission_->claim(shard_.index, id, datagram.remote);
  if (!answer_admission(claim.verdict, datagram, file)) return nullptr;
  if (claim.evict_here) {
    if (const auto it = sessions_.find(*claim.evict_here); it != sessions_.end()) evict(*it->second, datagram.remote);
  }
  auto session = std::make_unique<Session>();
  session->id = id;
  session->client = datagram.remote;
  session->listener = static_cast<ListenerId>(datagram.socket.id);
  session->local = datagram.local;
  session->own_socket = false;
  session->file = file;
  session->direction = direction;
  session->mode = mode;
  session->started = now;
  session->last_input = now;
  Session* raw = session.get();
  sessions_.emplace(id, std::move(session));
  by_client_[datagram.remote] = raw;
  return raw;
}

// false: the host had no socket for it.
bool ServerEndpoint::open_socket(Session& session, const Negotiated& negotiated) {
  if (config_.single_port) return true;
  if (!host_->open_session_socket(session.id, session.listener, session.local, negotiated)) return false;
  session.own_socket = true;
  return true;
}

// A session that never started (a deferred open refused or unanswered, no socket for it): the ERROR goes out
// from the listening socket, as any refusal, and the session ends without a transfer record.
void ServerEndpoint::refuse_opening(Session& session, std::string file, Error error) {
  session.done = true;
  close(session);  // kept until the next input: its fields stay readable here
  send_refusal(Requester{SocketRef::listener(session.listener), session.client, session.local, session.direction},
               std::move(file), std::move(error), false);
}

void ServerEndpoint::refuse(const Received& datagram, std::string file, Error error, bool malformed) {
  send_refusal(Requester{datagram.socket, datagram.remote, datagram.local, direction_of(datagram)}, std::move(file),
               std::move(error), malformed);
}

void ServerEndpoint::send_refusal(const Requester& to, std::string file, Error error, bool malformed) {
  ++counters_.refused;
  ++results_of(to.direction).refused;
  if (const auto code = static_cast<std::size_t>(error.code); code < counters_.refused_by_code.size()) {
    ++counters_.refused_by_code[code];
  }
  Pending reply{to.socket, to.client, to.local, {}};
  reply.bytes.resize(header_size + error.message.size() + 1);
  if (const auto size = encode(error, reply.bytes)) {
    reply.bytes.resize(*size);
    pending_.push_back(std::move(reply));
  }
  events_.emplace_back(RequestRefused{to.client, std::move(file), std::move(error), to.direction, malformed});
}

// ---- Outputs -------------------------------------------------------------------------------------

std::optional<Transmit> ServerEndpoint::poll_transmit(std::span<std::byte> out) {
  while (!pending_.empty()) {
    Pending reply = std::move(pending_.front());
    pending_.pop_front();
    if (reply.bytes.size() > out.size()) continue;
    std::copy(reply.bytes.begin(), reply.bytes.end(), out.begin());
    return Transmit{reply.socket, reply.destination, reply.source, reply.bytes.size()};
  }
  while (!active_.empty()) {
    Session& session = *active_.front();
    if (session.closed) {
      active_.pop_front();
      continue;
    }
    if (const auto size = session.machine([&](auto& m) { return m.poll_transmit(out); })) {
      return Transmit{session.socket(), session.client, session.source_address(), *size};
    }
    active_.pop_front();
    session.active = false;
    settle(session);
  }
  return std::nullopt;
}

std::optional<EndpointEvent> ServerEndpoint::poll_event() {
  if (events_.empty()) return std::nullopt;
  auto event = std::move(events_.front());
  events_.pop_front();
  return event;
}

std::optional<TimePoint> ServerEndpoint::next_deadline() const {
  std::optional<TimePoint> next = grace_end_;
  if (!deadlines_.empty() && (!next || deadlines_.top().at < *next)) next = deadlines_.top().at;
  return next;
}

SessionTotals ServerEndpoint::running(Direction direction) const {
  SessionTotals totals;
  for (const auto& [id, session] : sessions_) {
    if (session->direction != direction) continue;
    ++totals.sessions;
    if (session->opening) continue;
    totals.counters += session->sender ? session->sender->counters() : session->receiver->counters();
  }
  return totals;
}

std::optional<SessionId> ServerEndpoint::session_of(const SocketAddress& client) const {
  const auto it = by_client_.find(client);
  if (it == by_client_.end()) return std::nullopt;
  return it->second->id;
}

// ---- Sessions ------------------------------------------------------------------------------------

void ServerEndpoint::touch(Session& session) {
  if (session.active) return;
  session.active = true;
  active_.push_back(&session);
}

// After a session's datagrams went out: what its machine now says about the client and the transfer.
void ServerEndpoint::settle(Session& session) {
  if (!session.answered && session.machine([](auto& m) { return m.answered(); })) {
    session.answered = true;
    admission_->answered(session.client, session.id);
  }
  if (!session.done && !session.machine([](auto& m) { return m.outcome().running(); })) report(session);
  if (session.machine([](auto& m) { return m.is_finished(); })) {
    close(session);
  } else {
    reschedule(session);
  }
}

void ServerEndpoint::report(Session& session) {
  session.done = true;
  TransferRecord record;
  record.session = session.id;
  record.client = session.client;
  record.file = session.file;
  record.direction = session.direction;
  record.mode = session.mode;
  record.elapsed = session.last_input - session.started;
  session.machine([&](auto& m) {
    record.negotiated = m.negotiated();
    record.outcome = m.outcome();
    record.counters = m.counters();
    record.round_trip = m.smoothed_rtt();
  });
  // A failed upload leaves nothing, and that is so by the time its record says it failed.
  if (!record.outcome.completed() && session.sink) session.sink->abort();
  admission_->finished(session.client, session.id);
  ++(record.outcome.completed() ? counters_.completed : counters_.failed);
  events_.emplace_back(TransferEnded{std::move(record)});
}

// A new request takes this session's place (its client never answered): it ends without a word to the
// client and without a transfer record, and an upload leaves nothing.
void ServerEndpoint::evict(Session& session, const SocketAddress& for_client) {
  ++counters_.evictions;
  events_.emplace_back(SessionEvicted{session.client, session.file, for_client});
  session.done = true;
  if (session.sink) session.sink->abort();
  close(session);
}

void ServerEndpoint::close(Session& session) {
  if (const auto it = by_client_.find(session.client); it != by_client_.end() && it->second == &session) {
    by_client_.erase(it);
  }
  admission_->closed(session.client, session.id);
  if (session.own_socket) host_->close_session_socket(session.id);
  // Kept until the next input: active_ may still point at it (freed in free_closed()).
  session.closed = true;
  const auto it = sessions_.find(session.id);
  closed_.push_back(std::move(it->second));
  sessions_.erase(it);
}

void ServerEndpoint::free_closed() {
  if (closed_.empty()) return;
  if (!active_.empty()) {
    active_.erase(std::remove_if(active_.begin(), active_.end(), [](const Session* s) { return s->closed; }), active_.end());
  }
  closed_.clear();
}

void ServerEndpoint::reschedule(Session& session) {
  session.deadline = session.machine([](auto& m) { return m.next_deadline(); });
  queue_deadline(session);
}

// Lazy, as the drivers' timers are: an entry is added only when the deadline is earlier than the session's
// earliest one, so the common case (each packet moves the deadline later) costs no heap operation. A stale
// entry wakes the endpoint early once, and is replaced then by the deadline in force.
void ServerEndpoint::queue_deadline(Session& session) {
  if (!session.deadline || (session.queued && *session.queued <= *session.deadline)) return;
  session.queued = session.deadline;
  deadlines_.push(Deadline{*session.deadline, session.id});
}

void ServerEndpoint::evict_for(SessionId id, const SocketAddress& for_client, TimePoint) {
  free_closed();
  const auto it = sessions_.find(id);
  if (it == sessions_.end() || it->second->done) return;
  evict(*it->second, for_client);
}

// ---- Shutdown ------------------------------------------------------------------------------------

void ServerEndpoint::shutdown(TimePoint now, Duration grace) {
  stopping_ = true;
  // Completed uploads that dally only wait for a lost final ACK to be asked again: not worth a grace.
  std::vector<Session*> dallying;
  for (auto& [id, session] : sessions_) {
    if (session->done) dallying.push_back(session.get());
  }
  for (Session* session : dallying) close(*session);
  const TimePoint end = now + grace;
  if (!grace_end_ || end < *grace_end_) grace_end_ = end;
  if (sessions_.empty()) grace_end_.reset();
}

}  // namespace tftp
