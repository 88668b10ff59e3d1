// endpoint_fuzzer: the server endpoint driven by arbitrary datagram sequences on a virtual clock.
//
// The input chooses the configuration (single-port or a port per session, uploads on or off, small session
// limits, the reflection bound, how many session sockets the host can give), then a sequence of actions:
// datagrams from a few addresses and ports (two hosts and loopback) to the listening socket or to session
// sockets (requests with options, DATA, ACK, ERROR, OACK, raw bytes), a well-behaved answer to the last
// datagram the server sent (so transfers get deep), time passing, timeouts, a shutdown, and the provider's
// late answer (content or a refusal) to a read it deferred (name "d").
// After every input: every datagram the server sends parses and goes out of a socket that is open; never more
// sessions than max_sessions; an address:port that only ever sent requests is sent at most
// (2 + unanswered_resends) datagrams per request (the reflection bound, a shutdown's ERROR included); while
// sessions exist there is a deadline, and after a timeout it lies in the future. At the end, timeouts alone
// end every session within a bounded number of steps, and every upload the content provider opened was
// either committed or aborted (a failed upload leaves nothing).

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "tftp/codec.hpp"
#include "tftp/server_endpoint.hpp"

namespace {

using tftp::fuzz::ByteReader;
using Bytes = std::vector<std::byte>;
using Ms = std::chrono::milliseconds;
using namespace tftp;

const TimePoint start_time = TimePoint{} + std::chrono::hours(1);

// Three files and uploads kept in memory; every upload is counted until it is committed or aborted.
class Content final : public ContentProvider {
 public:
  Content() {
    files_["a"] = Bytes{};
    files_["b"] = Bytes(1000, std::byte{0x42});
    files_["c"] = Bytes(70'000, std::byte{0x17});
  }

  ReadOpening open_read(const ContentRequest& request) override {
    if (request.name == "d") {  // answered later, by an action (an HTTP origin's headers)
      deferred.push_back(request.session);
      return OpenLater{};
    }
    const auto it = files_.find(request.name);
    if (it == files_.end()) return Refusal{Error{ErrorCode::file_not_found, "file not found"}, request.name};
    return ReadContent{std::make_unique<MemorySource>(it->second), it->second.size(), request.name};
  }

  Result<WriteContent, Refusal> open_write(const ContentRequest& request) override {
    if (files_.count(request.name) != 0) return Refusal{Error{ErrorCode::file_exists, "exists"}, request.name};
    ++open_uploads;
    return WriteContent{std::make_unique<Upload>(*this), request.name};
  }

  int open_uploads = 0;
  std::vector<SessionId> deferred;  // opens not answered yet (some of their sessions may be gone)

  ReadOpening later_answer(bool refuse) {
    if (refuse) return Refusal{Error{ErrorCode::file_not_found, "not at the origin"}, "d"};
    const auto& bytes = files_.at("b");
    return ReadContent{std::make_unique<MemorySource>(bytes), bytes.size(), "d"};
  }

 private:
  class Upload final : public UploadSink {
   public:
    explicit Upload(Content& owner) : owner_(owner) {}
    ~Upload() override { FUZZ_CHECK(done_); }  // the endpoint never drops an upload unfinished
    std::optional<Error> write_block(std::uint64_t, std::span<const std::byte> bytes) override {
      size_ += bytes.size();
      if (size_ > 200'000) return Error{ErrorCode::disk_full, "full"};
      return std::nullopt;
    }
    std::optional<Error> finish() override {
      FUZZ_CHECK(!done_);
      done_ = true;
      --owner_.open_uploads;
      return std::nullopt;
    }
    void abort() noexcept override {
      if (done_) return;
      done_ = true;
      --owner_.open_uploads;
    }

   private:
    Content& owner_;
    std::size_t size_ = 0;
    bool done_ = false;
  };

  std::map<std::string, Bytes> files_;
};

class Host final : public EndpointHost {
 public:
  explicit Host(unsigned ports) : ports_left_(ports) {}
  bool open_session_socket(SessionId session, ListenerId listener, const std::optional<LocalAddress>&,
                           const Negotiated&) override {
    FUZZ_CHECK(listener == 0);
    FUZZ_CHECK(open.count(session) == 0);
    if (ports_left_ == 0) return false;
    --ports_left_;
    open.insert(session);
    return true;
  }
  void close_session_socket(SessionId session) override {
    FUZZ_CHECK(open.erase(session) == 1);
    ++ports_left_;
  }
  std::optional<unsigned> path_mtu(ListenerId, const std::optional<LocalAddress>&, const SocketAddress&) override {
    return 1500;
  }
  std::set<SessionId> open;

 private:
  unsigned ports_left_;
};

struct Peer {
  std::uint64_t requests = 0;
  bool other = false;  // sent something other than a request
  std::uint64_t received = 0;
};

const std::vector<SocketAddress> peers = {
    {IpAddress::v4(0x0a000002), 1000}, {IpAddress::v4(0x0a000002), 1001}, {IpAddress::v4(0x0a000003), 1000},
    {IpAddress::v4(0x0a000003), 2000}, {IpAddress::v4(0x7f000001), 3000}, {IpAddress::v4(0x7f000001), 3001}};
const std::vector<std::string> names = {"a", "b", "c", "up", "c\xff", "", "d"};

Bytes encoded(const Packet& packet) {
  Bytes out(tftp::transmit_buffer_size);
  const auto size = encode(packet, out);
  out.resize(size ? *size : 0);
  return out;
}

OptionList options_from(ByteReader& in) {
  OptionList options;
  const unsigned bits = in.u8();
  if ((bits & 1U) != 0) options.push_back({"blksize", std::to_string(in.u16())});
  if ((bits & 2U) != 0) options.push_back({"windowsize", std::to_string(in.u8())});
  if ((bits & 4U) != 0) options.push_back({"tsize", std::to_string(in.u16())});
  if ((bits & 8U) != 0) options.push_back({"timeout", std::to_string(in.u8())});
  return options;
}

Bytes datagram_from(ByteReader& in) {
  switch (in.u8() % 7) {
    case 0: return encoded(Rrq{names[in.u8() % names.size()], in.flag() ? Mode::netascii : Mode::octet, options_from(in)});
    case 1: return encoded(Wrq{names[in.u8() % names.size()], Mode::octet, options_from(in)});
    case 2: {
      const auto block = in.u16();
      const auto payload = in.take(in.u16() % 1500);
      return encoded(Data{block, payload});
    }
    case 3: return encoded(Ack{in.u16()});
    case 4: return encoded(Error{static_cast<ErrorCode>(in.u8() % 10), "x"});
    case 5: return encoded(Oack{options_from(in)});
    default: {
      const auto raw = in.take(in.u8());
      return Bytes(raw.begin(), raw.end());
    }
  }
}

class Run {
 public:
  Run(const EndpointConfig& config, unsigned ports)
      : config_(config), host_(ports), endpoint_(config, content_, host_), buffer_(tftp::transmit_buffer_size) {}

  void deliver(SocketRef socket, const SocketAddress& from, std::span<const std::byte> bytes) {
    const auto op = peek_opcode(bytes);
    auto& peer = peers_[from];
    if (socket.kind == SocketRef::Kind::listener && (op == Opcode::rrq || op == Opcode::wrq)) {
      ++peer.requests;
    } else {
      peer.other = true;
    }
    endpoint_.on_datagram(Received{socket, from, LocalAddress{IpAddress::v4(0x0a000001), 1}, bytes}, now_);
    drain();
  }

  void timeout(TimePoint at) {
    now_ = std::max(now_, at);
    endpoint_.on_timeout(now_);
    drain();
    const auto next = endpoint_.next_deadline();
    FUZZ_CHECK(!next || *next > now_);
  }

  void advance(Ms by) { timeout(now_ + by); }
  void on_time() {
    if (const auto next = endpoint_.next_deadline()) timeout(*next);
  }
  void shutdown(Ms grace) {
    endpoint_.shutdown(now_, grace);
    drain();
  }

  // The provider answers one of the opens it deferred (its session may have ended meanwhile).
  void answer_deferred(ByteReader& in) {
    auto& deferred = content_.deferred;
    if (deferred.empty()) return;
    const auto it = deferred.begin() + static_cast<std::ptrdiff_t>(in.u8() % deferred.size());
    const SessionId id = *it;
    deferred.erase(it);
    endpoint_.on_read_opened(id, content_.later_answer(in.flag()), now_);
    drain();
  }

  // A well-behaved peer's answer to the last datagram the server sent.
  void answer(ByteReader& in) {
    if (!last_) return;
    const auto parsed = parse(last_->bytes);
    FUZZ_CHECK(parsed.has_value());
    Bytes reply;
    if (const auto* data = std::get_if<Data>(&*parsed)) reply = encoded(Ack{data->block});
    if (std::holds_alternative<Oack>(*parsed)) reply = in.flag() ? encoded(Ack{0}) : encoded(Data{1, in.take(in.u8())});
    if (const auto* ack = std::get_if<Ack>(&*parsed)) {
      reply = encoded(Data{static_cast<std::uint16_t>(ack->block + 1), in.take(in.flag() ? 512 : in.u8())});
    }
    if (reply.empty()) return;
    const auto to = last_->socket;
    const auto from = last_->destination;
    deliver(to, from, reply);
  }

  // Every session ends on timeouts alone, and every upload was committed or aborted.
  void finish() {
    for (int step = 0; step < 100'000 && !endpoint_.idle(); ++step) on_time();
    FUZZ_CHECK(endpoint_.idle());
    FUZZ_CHECK(host_.open.empty());
    FUZZ_CHECK(content_.open_uploads == 0);
  }

  SocketRef session_socket(std::uint8_t pick) const {
    if (host_.open.empty()) return SocketRef::session(pick);
    auto it = host_.open.begin();
    std::advance(it, pick % host_.open.size());
    return SocketRef::session(*it);
  }

 private:
  struct Sent {
    SocketRef socket;
    SocketAddress destination;
    Bytes bytes;
  };

  void drain() {
    while (const auto transmit = endpoint_.poll_transmit(buffer_)) {
      const auto bytes = std::span<const std::byte>(buffer_).first(transmit->size);
      FUZZ_CHECK(parse(bytes).has_value());
      if (transmit->socket.kind == SocketRef::Kind::listener) {
        FUZZ_CHECK(transmit->socket.id == 0);
      } else {
        FUZZ_CHECK(!config_.single_port);
        FUZZ_CHECK(host_.open.count(transmit->socket.id) == 1);
      }
      auto& peer = peers_[transmit->destination];
      ++peer.received;
      // The reflection bound: an address:port that never answered draws a bounded number of datagrams.
      if (!peer.other) FUZZ_CHECK(peer.received <= peer.requests * (2 + config_.transfer.unanswered_resends.value_or(0)));
      last_ = Sent{transmit->socket, transmit->destination, Bytes(bytes.begin(), bytes.end())};
    }
    while (endpoint_.poll_event()) {
    }
    FUZZ_CHECK(endpoint_.session_count() <= config_.max_sessions);
    FUZZ_CHECK(endpoint_.idle() || endpoint_.next_deadline().has_value());
  }

  EndpointConfig config_;
  Content content_;
  Host host_;
  ServerEndpoint endpoint_;
  Bytes buffer_;
  TimePoint now_ = start_time;
  std::map<SocketAddress, Peer> peers_;
  std::optional<Sent> last_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteReader in(data, size);
  EndpointConfig config;
  const unsigned bits = in.u8();
  config.single_port = (bits & 1U) != 0;
  config.writes_allowed = (bits & 2U) != 0;
  config.block_size_from_mtu = (bits & 4U) != 0;
  if ((bits & 8U) != 0) config.transfer.first_window_bytes = 4096;
  config.max_sessions = 1 + in.u8() % 8;
  config.max_sessions_per_client = 1 + in.u8() % 4;
  config.transfer.unanswered_resends = in.u8() % 4;
  config.transfer.initial_timeout = Ms(100 + in.u8());
  config.transfer.max_retries = in.u8() % 6;
  config.policy.max_window_size = static_cast<std::uint16_t>(1 + in.u8() % 16);
  Run run(config, 1 + in.u8() % 8);
  bool shut = false;
  for (int action = 0; action < 2000 && !in.empty(); ++action) {
    switch (in.u8() % 9) {
      case 0:
      case 1:
      case 2: {
        const auto& from = peers[in.u8() % peers.size()];
        const auto pick = in.u8();
        // In single-port mode the host has no session sockets to deliver to.
        const bool to_session = (pick & 1U) != 0 && !config.single_port;
        const auto socket = to_session ? run.session_socket(static_cast<std::uint8_t>(pick >> 1U)) : SocketRef::listener(0);
        const auto bytes = datagram_from(in);
        run.deliver(socket, from, bytes);
        break;
      }
      case 3:
      case 4: run.answer(in); break;
      case 5: run.advance(Ms(in.u16())); break;
      case 6: run.on_time(); break;
      case 7: run.answer_deferred(in); break;
      default:
        if (!shut) run.shutdown(Ms(in.u8() * 10));
        shut = true;
    }
  }
  run.finish();
  return 0;
}
