#include "tftp/shared_admission.hpp"

#include <algorithm>
#include <utility>

namespace tftp {

// An IPv4 address (also on a dual-stack socket), or an IPv6 /64, the prefix one host or one site holds (an
// attacker with a /64 has 2^64 addresses to rotate through). Loopback clients are this host's own programs
// (the kernel drops 127/8 and ::1 sources arriving from outside): they count only against max_sessions, so
// local tools and load generators work with the defaults.
std::optional<IpAddress> admission_key(const SocketAddress& client) {
  const IpAddress ip = client.ip.unmapped();
  if (ip.is_loopback()) return std::nullopt;
  if (ip.is_v4()) return ip;
  auto bytes = ip.bytes();
  std::fill(bytes.begin() + 8, bytes.end(), std::uint8_t{0});
  return IpAddress::v6(bytes);
}

SharedAdmission::SharedAdmission(std::size_t max_sessions, std::size_t max_sessions_per_client,
                                 EvictElsewhere evict_elsewhere)
    : admission_(detail::AdmissionLimits{max_sessions, max_sessions_per_client}),
      evict_elsewhere_(std::move(evict_elsewhere)) {}

SharedAdmission::Verdict SharedAdmission::would_admit(const SocketAddress& client) const {
  const std::lock_guard lock(mutex_);
  if (holders_.contains(client)) return Verdict::elsewhere;
  return admission_.decide(admission_key(client)).verdict == detail::AdmissionVerdict::busy ? Verdict::busy
                                                                                             : Verdict::admit;
}

SharedAdmission::Claim SharedAdmission::claim(Shard shard, SessionId session, const SocketAddress& client) {
  std::optional<std::pair<Holder, SocketAddress>> elsewhere;
  Claim claim;
  {
    const std::lock_guard lock(mutex_);
    if (holders_.contains(client)) return {Verdict::elsewhere, std::nullopt};
    const auto key = admission_key(client);
    const auto decision = admission_.decide(key);
    if (decision.verdict == detail::AdmissionVerdict::busy) return {Verdict::busy, std::nullopt};
    if (decision.evict) {
      const auto victim = holders_.find(*decision.evict);
      if (victim->second.shard == shard) {
        claim.evict_here = victim->second.session;
      } else {
        elsewhere.emplace(victim->second, victim->first);
      }
      // Out of the counts now: the limit holds the moment this request is admitted.
      admission_.closed(victim->first);
      holders_.erase(victim);
    }
    admission_.opened(client, key);
    holders_.emplace(client, Holder{shard, session});
  }
  if (elsewhere && evict_elsewhere_) evict_elsewhere_(elsewhere->first.shard, elsewhere->first.session, client);
  return claim;
}

bool SharedAdmission::holds(const SocketAddress& client, SessionId session) const {
  const auto it = holders_.find(client);
  return it != holders_.end() && it->second.session == session;
}

void SharedAdmission::answered(const SocketAddress& client, SessionId session) {
  const std::lock_guard lock(mutex_);
  if (holds(client, session)) admission_.answered(client);
}

void SharedAdmission::finished(const SocketAddress& client, SessionId session) {
  const std::lock_guard lock(mutex_);
  if (holds(client, session)) admission_.finished(client);
}

void SharedAdmission::closed(const SocketAddress& client, SessionId session) {
  const std::lock_guard lock(mutex_);
  if (!holds(client, session)) return;  // evicted by another shard's request: already out of the counts
  admission_.closed(client);
  holders_.erase(client);
}

std::size_t SharedAdmission::total() const {
  const std::lock_guard lock(mutex_);
  return admission_.total();
}

}  // namespace tftp
