#pragma once
// The server as a sans-I/O endpoint, as quinn-proto's Endpoint is to its Connection: datagrams in with
// their local and remote addresses and the time, datagrams out with the socket to send them from and their
// destination, and the next deadline. Sessions (one Sender per RRQ, one Receiver per WRQ) are created,
// driven and ended inside. No sockets, no clock, no files: what a name means is asked of a ContentProvider,
// and the few things only the host can do (a socket per session, an interface's MTU) of an EndpointHost.
//
// What it decides, in one place:
// - Demultiplexing. Each session has a socket of its own (its transfer ID, RFC 1350 section 4), or with
//   single_port every session lives on the listening socket its request came in by, told apart by client
//   address and port (dnsmasq's tftp-single-port).
// - Transfer IDs. A well-formed packet other than an ERROR from a stranger on a session's socket gets ERROR 5
//   and the transfer goes on (RFC 1350 section 4); in single-port mode only another port of an address with
//   a transfer here is told (answering anyone from a well-known port reflects 24 bytes per forged ACK).
//   ERROR 5 replies, all sessions together, are rate-limited; an ERROR is never answered with one.
// - Repeated requests. A request from a client address:port whose transfer still runs is a retransmission
//   and is ignored; once that transfer is over (an upload dallying) the same address:port may start anew.
// - Admission (detail/admission.hpp, through shared_admission.hpp): max_sessions overall,
//   max_sessions_per_client per IPv4 address or IPv6 /64 (loopback clients count only overall); exact over
//   every shard when several endpoints (a server's workers, one per thread) share one SharedAdmission. At a limit a request takes the place of the oldest session
//   whose client never answered (it ends silently: an eviction); only when every session in the way is
//   established is it refused with ERROR 0 "server busy".
// - The reflection bound: TransferConfig's Reach rules, applied to every session.
// - Refusals: a malformed request (ERROR 4), uploads off (ERROR 2), the provider's ERROR, a negotiation
//   refusal (ERROR 8 / ERROR 3): sent from the listening socket, no session is opened.
// - Every reply leaves from the local address its request was sent to (Received::local): refusals and
//   single-port sessions carry it as the source; a session socket is bound to it by the host.
// - Shutdown: requests are ignored, dallying uploads end, running transfers have a grace period, then get
//   ERROR 0 "server shutting down".
//
// Call order, as for the machines: feed one input (on_datagram or on_timeout) with the current time, then
// drain poll_transmit until it returns nullopt, sending each datagram before asking for the next, then
// drain poll_event, then re-arm the one timer from next_deadline(). An upload's block may be written only
// after its ACK was handed out (write-behind), so the bytes given to on_datagram must stay valid until
// poll_transmit has returned nullopt or the next on_* call, whichever comes first.

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <functional>
#include <queue>
#include <span>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "tftp/address.hpp"
#include "tftp/options.hpp"
#include "tftp/packet.hpp"
#include "tftp/result.hpp"
#include "tftp/shared_admission.hpp"
#include "tftp/token_bucket.hpp"
#include "tftp/transfer.hpp"

namespace tftp {

using ListenerId = std::uint32_t;

// ---- Content --------------------------------------------------------------------------------------

// What a request asks of the content behind the server.
struct ContentRequest {
  SessionId session = 0;  // the session the request will be: the ticket of a deferred open
  SocketAddress client;
  std::string name;  // as the client sent it: the provider applies its own name rules
  Mode mode = Mode::octet;
  bool size_wanted = false;                      // RRQ: the client asked for tsize
  std::optional<std::uint64_t> announced_size;   // WRQ: the tsize the client announced
};

// Why the provider will not serve a request: the ERROR the client gets, and the name as far as the
// provider made it out (for the record).
struct Refusal {
  Error error;
  std::string name;
};

struct ReadContent {
  std::unique_ptr<BlockSource> source;
  std::optional<std::uint64_t> size;  // announced as tsize when asked; unknown: tsize is left out
  std::string name;                   // the name the request resolved to, for the record
};

// Where an upload goes. finish() (BlockSink) commits it: after the last block and before the final ACK,
// so that a failure still reaches the client. abort() leaves nothing behind; it is called when the transfer
// fails or its session is evicted, never after a successful finish().
class UploadSink : public BlockSink {
 public:
  virtual void abort() noexcept = 0;
};

struct WriteContent {
  std::unique_ptr<UploadSink> sink;
  std::string name;
};

// The provider will answer later (content behind a network round trip, e.g. an HTTP origin's response
// headers, which decide between ERROR 1 and a transfer and carry the size for tsize). It then hands the
// answer to ServerEndpoint::on_read_opened with the request's session number.
struct OpenLater {};

using ReadOpening = std::variant<ReadContent, Refusal, OpenLater>;

class ContentProvider {
 public:
  virtual ~ContentProvider() = default;
  virtual ReadOpening open_read(const ContentRequest& request) = 0;
  virtual Result<WriteContent, Refusal> open_write(const ContentRequest& request) = 0;
};

// ---- Sockets --------------------------------------------------------------------------------------

// A socket of the host: one of its listening sockets (numbered by the host), or a session's own.
struct SocketRef {
  enum class Kind : std::uint8_t { listener, session };
  Kind kind = Kind::listener;
  std::uint64_t id = 0;

  static SocketRef listener(ListenerId id) noexcept { return {Kind::listener, id}; }
  static SocketRef session(SessionId id) noexcept { return {Kind::session, id}; }
  friend bool operator==(const SocketRef&, const SocketRef&) = default;
};

// One datagram as the host received it.
struct Received {
  SocketRef socket;
  SocketAddress remote;
  std::optional<LocalAddress> local;  // the address it was sent to, where the host learns it
  std::span<const std::byte> bytes;
};

// One datagram to send: the bytes are the first `size` bytes of the buffer given to poll_transmit.
struct Transmit {
  SocketRef socket;
  SocketAddress destination;
  std::optional<LocalAddress> source;  // a listening socket's datagram: send from this address
  std::size_t size = 0;
};

// What only the host can do.
class EndpointHost {
 public:
  virtual ~EndpointHost() = default;
  // A socket of the session's own, bound to the address the request was sent to (`local`, else what
  // `listener` is bound to) and a port of the host's choosing, sized for `negotiated`. Its datagrams then
  // arrive with SocketRef::session(session). false: none could be had (the request is refused, busy).
  // Not called in single-port mode.
  virtual bool open_session_socket(SessionId session, ListenerId listener, const std::optional<LocalAddress>& local,
                                   const Negotiated& negotiated) = 0;
  virtual void close_session_socket(SessionId session) = 0;
  // The MTU of the link replies to `client` leave by (with block_size_from_mtu).
  virtual std::optional<unsigned> path_mtu(ListenerId listener, const std::optional<LocalAddress>& local,
                                           const SocketAddress& client) = 0;
};

// ---- Configuration and events -------------------------------------------------------------------

struct EndpointConfig {
  TransferConfig transfer;
  ServerPolicy policy;
  // Cap blksize per request by the MTU of the link its replies leave by (policy.max_block_size unused).
  bool block_size_from_mtu = false;
  bool single_port = false;
  bool writes_allowed = false;  // false: every WRQ gets ERROR 2 "uploads are disabled"
  std::size_t max_sessions = 1000;
  std::size_t max_sessions_per_client = 8;
  double stranger_replies_per_second = 50;  // ERROR 5 replies, all sessions together (also the burst)
};

// How a transfer ended, for logs, metrics and hooks.
struct TransferRecord {
  SessionId session = 0;
  SocketAddress client;
  std::string file;  // the name the request resolved to
  Direction direction = Direction::read;
  Mode mode = Mode::octet;
  Negotiated negotiated;
  Outcome outcome;
  TransferCounters counters;
  Duration elapsed{};
  std::optional<Duration> round_trip;  // the smoothed round trip the machine measured, if it measured one
};

struct TransferEnded {
  TransferRecord record;
};
struct RequestRefused {
  SocketAddress client;
  std::string file;  // empty when the request did not parse
  Error error;
  Direction direction = Direction::read;  // RRQ: read, WRQ: write
  bool malformed = false;                 // it did not parse (ERROR 4): no name, no options
};
// A session's client never answered and a new request took its place.
struct SessionEvicted {
  SocketAddress client;
  std::string file;
  SocketAddress for_client;
};
// A stranger was answered with ERROR 5 (client and file: the session it wrote to, when it had one).
struct StrangerAnswered {
  SocketAddress stranger;
  std::optional<SocketAddress> client;
  std::string file;
};
using EndpointEvent = std::variant<TransferEnded, RequestRefused, SessionEvicted, StrangerAnswered>;

// What became of the requests of one opcode; each request is counted in exactly one.
struct RequestResults {
  std::uint64_t served = 0;    // a session was opened
  std::uint64_t refused = 0;   // answered with an ERROR (malformed ones included)
  std::uint64_t repeated = 0;  // a retransmission of a request whose transfer runs: ignored
  std::uint64_t ignored = 0;   // arrived during shutdown
};

// Totals since the endpoint was made (what an operator's metrics are made of).
struct EndpointCounters {
  RequestResults rrq;
  RequestResults wrq;
  std::uint64_t requests = 0;       // RRQ and WRQ datagrams on listening sockets, repeats included
  std::uint64_t read_requests = 0;  // of which RRQ
  std::uint64_t write_requests = 0;  // of which WRQ
  std::uint64_t malformed_requests = 0;  // refused with ERROR 4 before their opcode's rules applied
  std::uint64_t repeated_requests = 0;   // retransmissions of a request whose transfer runs
  std::uint64_t ignored_requests = 0;    // arrived while shutting down
  std::uint64_t sessions = 0;       // sessions opened
  std::uint64_t refused = 0;        // requests answered with an ERROR instead of a session
  std::array<std::uint64_t, 9> refused_by_code{};  // by the ERROR code sent (0-8)
  std::uint64_t busy = 0;           // refusals with "server busy"
  std::uint64_t evictions = 0;
  std::uint64_t strangers = 0;      // datagrams from strangers, answered or not
  std::uint64_t strangers_answered = 0;
  std::uint64_t completed = 0;
  std::uint64_t failed = 0;
};

// The sessions of one direction now, and their machines' counters so far.
struct SessionTotals {
  std::size_t sessions = 0;
  TransferCounters counters;
};

// ---- The endpoint -------------------------------------------------------------------------------

// One of several endpoints that serve together (a server's workers, one per thread): they share one
// admission table, so the limits hold over all of them; session numbers are index + 1 + k * count, unique
// over all of them; and each answers strangers at 1/count of the configured rate.
struct EndpointShard {
  SharedAdmission* admission = nullptr;
  std::uint32_t index = 0;
  std::uint32_t count = 1;
};

class ServerEndpoint {
 public:
  // Without a shard's admission table the endpoint keeps its own.
  ServerEndpoint(const EndpointConfig& config, ContentProvider& content, EndpointHost& host, EndpointShard shard = {});
  ~ServerEndpoint();
  ServerEndpoint(const ServerEndpoint&) = delete;
  ServerEndpoint& operator=(const ServerEndpoint&) = delete;

  void on_datagram(const Received& datagram, TimePoint now);
  void on_timeout(TimePoint now);  // before next_deadline(): no-op
  // The answer to an open_read that said OpenLater. The request waited as a session without a machine: it
  // holds its admission slot (and may be evicted like any unanswered session), its retransmissions are
  // repeats, and after the give-up time without an answer it is refused with ERROR 0 "content unavailable".
  // An answer for a session that is gone is dropped (its source destroyed).
  void on_read_opened(SessionId session, ReadOpening answer, TimePoint now);
  // A source that said BlockPending has more (or failed): its session sends what it can now.
  void on_content_ready(SessionId session, TimePoint now);
  // Another shard's request took this session's place (SharedAdmission::EvictElsewhere): it ends as an
  // eviction does. A session that is gone meanwhile is left alone.
  void evict_for(SessionId session, const SocketAddress& for_client, TimePoint now);
  // out must hold transmit_buffer_size bytes (or at least the largest datagram a session may send).
  std::optional<Transmit> poll_transmit(std::span<std::byte> out);
  std::optional<EndpointEvent> poll_event();
  std::optional<TimePoint> next_deadline() const;

  // From now on requests are ignored; dallying uploads end now; running transfers may go on until now +
  // grace, then they are sent ERROR 0 "server shutting down". A second call may shorten the grace.
  void shutdown(TimePoint now, Duration grace);
  bool stopping() const noexcept { return stopping_; }
  // No session left (after shutdown: the endpoint is done).
  bool idle() const noexcept { return sessions_.empty(); }

  // The session a client address:port has, if any. A host with a socket per session reads that socket
  // before it hands over a request from the same client on a listening socket (two sockets keep no order
  // between them: the transfer's last ACK, sent before the new request, may still be queued there).
  std::optional<SessionId> session_of(const SocketAddress& client) const;
  std::size_t session_count() const noexcept { return sessions_.size(); }
  // Running and dallying sessions of a direction, summed (a walk over the sessions: for scrapes, not packets).
  SessionTotals running(Direction direction) const;
  const EndpointCounters& counters() const noexcept { return counters_; }
  const EndpointConfig& config() const noexcept { return config_; }

 private:
  struct Session;
  struct Pending;  // a datagram from a listening socket, queued for poll_transmit

  void on_request(const Received& datagram, TimePoint now);
  void on_session_datagram(Session& session, const Received& datagram, TimePoint now);
  void demultiplex(const Received& datagram, TimePoint now);
  void answer_stranger(const Received& datagram, Session* session, TimePoint now);
  void serve_read(const Received& datagram, const Rrq& rrq, TimePoint now);
  void start_read(Session& session, ReadContent content, const ServerAnswer& answer, TimePoint now);
  void serve_write(const Received& datagram, const Wrq& wrq, TimePoint now);
  bool admit(const Received& datagram, const std::string& file);
  bool answer_admission(SharedAdmission::Verdict verdict, const Received& datagram, const std::string& file);
  static Direction direction_of(const Received& request) noexcept;  // RRQ: read, WRQ: write
  RequestResults& results_of(Direction direction) noexcept;
  ServerPolicy policy_for(const Received& datagram);
  Session* add_session(SessionId id, const Received& datagram, const std::string& file, Mode mode, Direction direction,
                       TimePoint now);
  SessionId new_session_id() noexcept;
  bool open_socket(Session& session, const Negotiated& negotiated);
  // Where a refusal goes: the listening socket a request came in by, and its client.
  struct Requester {
    SocketRef socket;
    SocketAddress client;
    std::optional<LocalAddress> local;
    Direction direction = Direction::read;
  };
  void refuse(const Received& datagram, std::string file, Error error, bool malformed = false);
  void refuse_opening(Session& session, std::string file, Error error);
  void send_refusal(const Requester& to, std::string file, Error error, bool malformed);
  void touch(Session& session);
  void settle(Session& session);
  void report(Session& session);
  void evict(Session& session, const SocketAddress& for_client);
  void close(Session& session);
  void reschedule(Session& session);
  void queue_deadline(Session& session);
  void free_closed();

  EndpointConfig config_;
  ContentProvider* content_;
  EndpointHost* host_;
  std::unordered_map<SessionId, std::unique_ptr<Session>> sessions_;
  std::map<SocketAddress, Session*> by_client_;
  struct Deadline {
    TimePoint at;
    SessionId id;
    friend bool operator>(const Deadline& a, const Deadline& b) noexcept { return a.at > b.at; }
  };
  std::priority_queue<Deadline, std::vector<Deadline>, std::greater<>> deadlines_;  // earliest first
  std::deque<Session*> active_;  // sessions with datagrams or work after their last input
  std::vector<std::unique_ptr<Session>> closed_;  // closed since the last input (active_ may point at them)
  std::deque<Pending> pending_;
  std::deque<EndpointEvent> events_;
  std::unique_ptr<SharedAdmission> own_admission_;  // a lone endpoint's
  SharedAdmission* admission_;
  EndpointShard shard_;
  TokenBucket stranger_replies_;
  EndpointCounters counters_;
  SessionId next_session_ = 1;
  bool stopping_ = false;
  std::optional<TimePoint> grace_end_;
};

// The largest TFTP block that fits one IP datagram on a link with this MTU: MTU - IP header (20, IPv6 40)
// - UDP header 8 - TFTP header 4, within RFC 2348's 8-65464.
std::uint16_t block_size_for_mtu(unsigned mtu, bool ipv6) noexcept;

}  // namespace tftp
