#pragma once
// Admission over the endpoints of several threads: a server that shards its sessions over workers (one
// ServerEndpoint per thread, its own sockets, timers and buffers) keeps max_sessions and
// max_sessions_per_client exact over all of them, with one table behind a lock (detail/admission.hpp decides).
//
// The table knows which shard holds each client address:port, so that:
// - a request arriving at another shard than its transfer (a shared listening socket hands requests to any
//   worker) is seen as the retransmission it is ("elsewhere");
// - a request at a limit takes the place of the oldest unanswered session anywhere. When that session is
//   another shard's, the table drops it from the counts at once (so the limit holds the moment the request
//   is admitted) and asks that shard, through evict_elsewhere, to end it.
//
// Only requests and session ends take the lock, never a DATA or an ACK. A lone endpoint makes its own
// table (one shard, a lock nobody else takes).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>

#include "tftp/address.hpp"
#include "tftp/detail/admission.hpp"

namespace tftp {

using SessionId = std::uint64_t;

class SharedAdmission {
 public:
  using Shard = std::uint32_t;
  // Another shard's session must end (a request took its place). Called from the claiming shard's thread,
  // without the lock held: hand it over to the shard's own thread (ServerEndpoint::evict_for).
  using EvictElsewhere = std::function<void(Shard shard, SessionId session, const SocketAddress& for_client)>;

  SharedAdmission(std::size_t max_sessions, std::size_t max_sessions_per_client, EvictElsewhere evict_elsewhere = {});

  enum class Verdict { admit, busy, elsewhere };
  struct Claim {
    Verdict verdict = Verdict::admit;
    std::optional<SessionId> evict_here;  // admitted in place of this session of the claiming shard: end it
  };

  // What a request from `client` would get now; changes nothing.
  Verdict would_admit(const SocketAddress& client) const;
  // Takes a place for `session` of `shard`, deciding again (another shard may have taken the last one
  // since would_admit).
  Claim claim(Shard shard, SessionId session, const SocketAddress& client);
  // The session's client answered: established, never evicted.
  void answered(const SocketAddress& client, SessionId session);
  // Its outcome is final (it may still dally): it no longer counts against its client.
  void finished(const SocketAddress& client, SessionId session);
  void closed(const SocketAddress& client, SessionId session);

  std::size_t total() const;

 private:
  struct Holder {
    Shard shard = 0;
    SessionId session = 0;
  };
  bool holds(const SocketAddress& client, SessionId session) const;

  mutable std::mutex mutex_;
  detail::Admission<SocketAddress, IpAddress> admission_;
  std::map<SocketAddress, Holder> holders_;
  EvictElsewhere evict_elsewhere_;
};

// What --max-sessions-per-client counts for a client: its IPv4 address, or its IPv6 /64; none for loopback
// (the host's own programs count only against the overall limit).
std::optional<IpAddress> admission_key(const SocketAddress& client);

}  // namespace tftp
