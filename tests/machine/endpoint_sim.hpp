#pragma once
// A simulated network around one ServerEndpoint, on a virtual clock: the server at 10.0.0.1 (listening on
// port 69, session sockets on ports 50000 + session id), any number of clients (the core's client machines,
// each with its own address and port, locking onto the server port of the first reply as tftp-client does),
// and raw datagrams sent from anywhere (forged requests, strangers, junk). Every datagram is delivered after
// a fixed one-way delay unless a drop rule loses it; each can be duplicated or delayed more (reordering).
// The endpoint is driven exactly as the Asio driver drives it: one input, poll_transmit drained, events
// drained, one timer. No sockets, no sleeping: 10,000 sessions run in a second.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "sim_link.hpp"
#include "tftp/codec.hpp"
#include "tftp/server_endpoint.hpp"
#include "tftp/transfer.hpp"

namespace tftp::sim {

inline SocketAddress at(std::uint32_t host, std::uint16_t port) { return {IpAddress::v4(host), port}; }
inline constexpr std::uint32_t server_host = 0x0a000001;  // 10.0.0.1
inline constexpr std::uint16_t server_port = 69;
inline constexpr std::uint16_t first_session_port = 50000;

// Content that arrives over time, as from an HTTP origin: blocks below `available` can be read, the rest
// is BlockPending until `complete` (or an Error once `failure` is set).
struct GatedFile {
  std::vector<std::byte> bytes;
  std::uint64_t available = 0;  // bytes
  bool complete = false;
  std::optional<Error> failure;
};

class GatedSource final : public BlockSource {
 public:
  explicit GatedSource(const GatedFile& file) : file_(file) {}
  BlockRead read_block(std::uint64_t index, std::span<std::byte> out) override {
    if (file_.failure) return *file_.failure;
    const std::uint64_t begin = index * out.size();
    const std::uint64_t end = std::min<std::uint64_t>(begin + out.size(), file_.bytes.size());
    if (!file_.complete && file_.available < begin + out.size()) return BlockPending{};
    if (begin >= end) return std::size_t{0};
    std::memcpy(out.data(), file_.bytes.data() + begin, end - begin);
    return static_cast<std::size_t>(end - begin);
  }

 private:
  const GatedFile& file_;
};

// Files in memory; uploads land in `committed` only when finished. A name in `later` is opened later: the
// request's session is noted in `asked_later` and the test answers with on_read_opened.
class MemoryContent final : public ContentProvider {
 public:
  std::map<std::string, std::vector<std::byte>> files;
  std::map<std::string, std::vector<std::byte>> committed;
  std::set<std::string> later;
  std::vector<std::pair<SessionId, std::string>> asked_later;
  std::size_t aborted = 0;
  std::size_t uploads_open = 0;

  ReadOpening open_read(const ContentRequest& request) override {
    if (later.count(request.name) != 0) {
      asked_later.emplace_back(request.session, request.name);
      return OpenLater{};
    }
    const auto it = files.find(request.name);
    if (it == files.end()) return Refusal{Error{ErrorCode::file_not_found, "file not found"}, request.name};
    return ReadContent{std::make_unique<MemorySource>(it->second), it->second.size(), request.name};
  }

  Result<WriteContent, Refusal> open_write(const ContentRequest& request) override {
    if (files.count(request.name) != 0) return Refusal{Error{ErrorCode::file_exists, "file already exists"}, request.name};
    ++uploads_open;
    return WriteContent{std::make_unique<Upload>(*this, request.name), request.name};
  }

 private:
  class Upload final : public UploadSink {
   public:
    Upload(MemoryContent& owner, std::string name) : owner_(owner), name_(std::move(name)) {}
    std::optional<Error> write_block(std::uint64_t, std::span<const std::byte> bytes) override {
      bytes_.insert(bytes_.end(), bytes.begin(), bytes.end());
      return std::nullopt;
    }
    std::optional<Error> finish() override {
      owner_.committed[name_] = bytes_;
      --owner_.uploads_open;
      done_ = true;
      return std::nullopt;
    }
    void abort() noexcept override {
      if (done_) return;
      done_ = true;
      --owner_.uploads_open;
      ++owner_.aborted;
    }

   private:
    MemoryContent& owner_;
    std::string name_;
    std::vector<std::byte> bytes_;
    bool done_ = false;
  };
};

// What crossed the simulated wire (lost or not).
struct WireDatagram {
  SocketAddress from;
  SocketAddress to;
  std::vector<std::byte> bytes;
  TimePoint sent;
  bool lost = false;
};

// Loses a datagram or not, by its sequence number and content.
using WireDropRule = std::function<bool(std::uint64_t n, const WireDatagram&)>;
using WireMangleRule = std::function<Mangling(std::uint64_t n, const WireDatagram&)>;

class Network final : public EndpointHost {
 public:
  struct Client {
    SocketAddress address;
    std::optional<Sender> sender;
    std::optional<Receiver> receiver;
    std::optional<std::uint16_t> server_port;  // locked onto with the first reply
    std::vector<std::byte> upload;  // what a put sends (the source reads it in place)
    std::unique_ptr<BlockSource> source;
    std::unique_ptr<MemorySink> sink;
    std::uint64_t strangers = 0;  // datagrams from another server port, ignored
    std::optional<TimePoint> deadline;  // its key in the network's timer set

    template <class F>
    decltype(auto) machine(F&& f) {
      return sender ? f(*sender) : f(*receiver);
    }
    const Outcome& outcome() { return machine([](auto& m) -> const Outcome& { return m.outcome(); }); }
    bool finished() { return machine([](auto& m) { return m.is_finished(); }); }
  };

  explicit Network(const EndpointConfig& config, Duration delay = std::chrono::milliseconds(1), EndpointShard shard = {})
      : endpoint_(config, content, *this, shard), delay_(delay) {}

  MemoryContent content;
  WireDropRule drop = [](std::uint64_t, const WireDatagram&) { return false; };
  WireMangleRule mangle = [](std::uint64_t, const WireDatagram&) { return Mangling{}; };
  std::optional<unsigned> mtu;           // what path_mtu answers
  std::size_t session_ports_left = ~std::size_t{0};  // open_session_socket fails once this is 0

  ServerEndpoint& endpoint() { return endpoint_; }
  TimePoint now() const { return now_; }
  const std::vector<WireDatagram>& wire() const { return wire_; }
  const std::vector<EndpointEvent>& events() const { return events_; }
  std::size_t peak_sessions() const { return peak_sessions_; }

  // A client downloading `name` (RRQ with `options` from make_request_options) from the server's port 69.
  Client& get(SocketAddress address, const std::string& name, const ClientOptions& options = {},
              const TransferConfig& config = {}) {
    auto& client = add_client(address);
    client.sink = std::make_unique<MemorySink>();
    client.receiver.emplace(Receiver::client_read(Rrq{name, Mode::octet, make_request_options(options)}, *client.sink,
                                                  config, now_));
    flush_client(client);
    return client;
  }

  Client& put(SocketAddress address, const std::string& name, std::span<const std::byte> bytes,
              const ClientOptions& options = {}, const TransferConfig& config = {}) {
    auto& client = add_client(address);
    client.upload.assign(bytes.begin(), bytes.end());
    client.source = std::make_unique<MemorySource>(client.upload);
    client.sender.emplace(Sender::client_write(Wrq{name, Mode::octet, make_request_options(options)}, *client.source,
                                               config, now_));
    flush_client(client);
    return client;
  }

  // A datagram from anywhere to the server (a forged request, a stranger, junk).
  void inject(SocketAddress from, std::uint16_t to_port, std::span<const std::byte> bytes) {
    send(from, at(server_host, to_port), bytes);
  }
  void inject(SocketAddress from, std::uint16_t to_port, const Packet& packet) {
    std::vector<std::byte> buffer(transmit_buffer_size);
    const auto size = encode(packet, buffer);
    inject(from, to_port, std::span<const std::byte>(buffer).first(*size));
  }

  // Runs until nothing is left to happen, `until` is reached, or max_events were processed (false then).
  bool run(std::optional<TimePoint> until = std::nullopt, std::uint64_t max_events = 50'000'000) {
    for (std::uint64_t i = 0; i < max_events; ++i) {
      const auto next = next_event();
      if (!next || (until && *next > *until)) {
        if (until) now_ = std::max(now_, *until);
        return true;
      }
      step(*next);
    }
    return false;
  }
  bool run_for(Duration duration) { return run(now_ + duration); }

  void shutdown(Duration grace) {
    endpoint_.shutdown(now_, grace);
    drain_server();
  }

  // The provider's inputs, as the host hands them over: now, then the datagrams they caused go out.
  void read_opened(SessionId session, ReadOpening answer) {
    endpoint_.on_read_opened(session, std::move(answer), now_);
    drain_server();
  }
  void content_ready(SessionId session) {
    endpoint_.on_content_ready(session, now_);
    drain_server();
  }
  // Another shard's request took this session's place (SharedAdmission::EvictElsewhere, handed over).
  void evict_for(SessionId session, SocketAddress for_client) {
    endpoint_.evict_for(session, for_client, now_);
    drain_server();
  }

  // Datagrams the server sent to `to` (any port when port is 0).
  std::vector<const WireDatagram*> sent_to(SocketAddress to) const {
    std::vector<const WireDatagram*> out;
    for (const auto& d : wire_) {
      if (d.from.ip == IpAddress::v4(server_host) && d.to.ip == to.ip && (to.port == 0 || d.to.port == to.port)) {
        out.push_back(&d);
      }
    }
    return out;
  }

  template <class Event>
  std::vector<Event> events_of() const {
    std::vector<Event> out;
    for (const auto& e : events_) {
      if (const auto* x = std::get_if<Event>(&e)) out.push_back(*x);
    }
    return out;
  }

  std::vector<std::unique_ptr<Client>>& clients() { return clients_; }

  // ---- EndpointHost --------------------------------------------------------------------------------

  bool open_session_socket(SessionId session, ListenerId, const std::optional<LocalAddress>&, const Negotiated&) override {
    if (session_ports_left == 0) return false;
    --session_ports_left;
    ports_[port_of(session)] = session;
    return true;
  }
  void close_session_socket(SessionId session) override { ports_.erase(port_of(session)); }
  std::optional<unsigned> path_mtu(ListenerId, const std::optional<LocalAddress>&, const SocketAddress&) override {
    return mtu;
  }
  static std::uint16_t port_of(SessionId session) { return static_cast<std::uint16_t>(first_session_port + session); }
  std::size_t open_ports() const { return ports_.size(); }

 private:
  struct InFlight {
    SocketAddress from;
    SocketAddress to;
    std::vector<std::byte> bytes;
  };

  Client& add_client(SocketAddress address) {
    clients_.push_back(std::make_unique<Client>());
    clients_.back()->address = address;
    by_address_[address] = clients_.back().get();
    return *clients_.back();
  }

  void send(SocketAddress from, SocketAddress to, std::span<const std::byte> bytes) {
    WireDatagram datagram{from, to, std::vector<std::byte>(bytes.begin(), bytes.end()), now_, false};
    const std::uint64_t n = wire_.size();
    datagram.lost = drop(n, datagram);
    if (!datagram.lost) {
      const Mangling m = mangle(n, datagram);
      for (unsigned copy = 0; copy <= m.copies; ++copy) {
        flight_.emplace(now_ + delay_ + m.extra_delay * (copy + 1), InFlight{from, to, datagram.bytes});
      }
    }
    wire_.push_back(std::move(datagram));
  }

  void flush_client(Client& client) {
    std::vector<std::byte> buffer(transmit_buffer_size);
    const SocketAddress to = at(server_host, client.server_port.value_or(server_port));
    while (const auto size = client.machine([&](auto& m) { return m.poll_transmit(buffer); })) {
      send(client.address, to, std::span<const std::byte>(buffer).first(*size));
    }
    const auto deadline = client.machine([](auto& m) { return m.next_deadline(); });
    if (deadline == client.deadline) return;
    if (client.deadline) timers_.erase({*client.deadline, &client});
    client.deadline = deadline;
    if (deadline) timers_.emplace(*deadline, &client);
  }

  void drain_server() {
    std::vector<std::byte> buffer(transmit_buffer_size);
    while (const auto transmit = endpoint_.poll_transmit(buffer)) {
      const std::uint16_t port =
          transmit->socket.kind == SocketRef::Kind::listener ? server_port : port_of(transmit->socket.id);
      send(at(server_host, port), transmit->destination, std::span<const std::byte>(buffer).first(transmit->size));
    }
    while (auto event = endpoint_.poll_event()) events_.push_back(std::move(*event));
    peak_sessions_ = std::max(peak_sessions_, endpoint_.session_count());
  }

  std::optional<TimePoint> next_event() {
    std::optional<TimePoint> next;
    const auto consider = [&next](std::optional<TimePoint> t) {
      if (t && (!next || *t < *next)) next = t;
    };
    if (!flight_.empty()) consider(flight_.begin()->first);
    consider(endpoint_.next_deadline());
    if (!timers_.empty()) consider(timers_.begin()->first);
    return next;
  }

  // Deliveries first on a tie, then the server's timer, then the clients'.
  void step(TimePoint next) {
    now_ = std::max(now_, next);
    if (!flight_.empty() && flight_.begin()->first <= now_) {
      InFlight packet = std::move(flight_.begin()->second);
      flight_.erase(flight_.begin());
      deliver(packet);
      return;
    }
    if (const auto t = endpoint_.next_deadline(); t && *t <= now_) {
      endpoint_.on_timeout(now_);
      drain_server();
      return;
    }
    if (!timers_.empty() && timers_.begin()->first <= now_) {
      Client& client = *timers_.begin()->second;
      client.machine([&](auto& m) { m.on_timeout(now_); });
      flush_client(client);
    }
  }

  void deliver(const InFlight& packet) {
    if (packet.to.ip == IpAddress::v4(server_host)) {
      std::optional<SocketRef> socket;
      if (packet.to.port == server_port) {
        socket = SocketRef::listener(0);
      } else if (const auto it = ports_.find(packet.to.port); it != ports_.end()) {
        socket = SocketRef::session(it->second);
      }
      if (!socket) return;  // a closed port: the kernel drops it (ICMP unreachable)
      endpoint_.on_datagram(Received{*socket, packet.from, LocalAddress{packet.to.ip, 1}, packet.bytes}, now_);
      drain_server();
      return;
    }
    const auto it = by_address_.find(packet.to);
    if (it == by_address_.end()) return;  // a victim of a forged request, or a client gone
    Client& client = *it->second;
    if (!client.server_port) client.server_port = packet.from.port;
    if (packet.from.port != *client.server_port) {
      ++client.strangers;
      return;
    }
    client.machine([&](auto& m) { m.on_datagram(packet.bytes, now_); });
    flush_client(client);
  }

  ServerEndpoint endpoint_;
  Duration delay_;
  TimePoint now_{};
  std::multimap<TimePoint, InFlight> flight_;  // by arrival time; equal times keep their sending order
  std::vector<WireDatagram> wire_;
  std::vector<EndpointEvent> events_;
  std::vector<std::unique_ptr<Client>> clients_;
  std::map<SocketAddress, Client*> by_address_;
  std::map<std::uint16_t, SessionId> ports_;
  std::set<std::pair<TimePoint, Client*>> timers_;  // the clients' deadlines
  std::size_t peak_sessions_ = 0;
};

}  // namespace tftp::sim
