#pragma once
// Admission: the limits on sessions at once, overall and per client, and which session a new request may
// take the place of when one is reached. A flood of requests that are never answered (spoofed, or from a
// client that went away) must not lock real clients out, so a request at a limit takes the place of the
// oldest session in its way whose client has not answered anything yet; that session ends silently. Only
// when every session in the way is established is the request refused ("server busy").
//
// In the way: at the per-client limit, the client's own sessions (a flood from one address displaces only
// itself); at the overall limit, any session. One eviction frees both, since the evicted session counts
// against both limits.
//
// Counting: the overall limit counts every open session, a dallying upload included; the per-client limit
// counts transfers still running (a completed upload's dally does not hold its client back).
//
// No sockets, no clock: the endpoint reports what happens to each session, in order. Id names a session
// (ordered); Client names what the per-client limit counts (an address, an IPv6 /64); a session without a
// Client counts only against the overall limit (the server's own loopback clients).

#include <cstddef>
#include <iterator>
#include <list>
#include <map>
#include <optional>

namespace tftp::detail {

struct AdmissionLimits {
  std::size_t total = 1000;
  std::size_t per_client = 256;
};

enum class AdmissionVerdict { admit, admit_after_eviction, busy };

template <class Id>
struct AdmissionDecision {
  AdmissionVerdict verdict = AdmissionVerdict::admit;
  std::optional<Id> evict;  // admit_after_eviction: end this session first (closed() follows)
};

template <class Id, class Client>
class Admission {
 public:
  using Verdict = AdmissionVerdict;
  using Decision = AdmissionDecision<Id>;

  explicit Admission(AdmissionLimits limits) : limits_(limits) {}

  // What a new request from `client` gets now; changes nothing.
  Decision decide(const std::optional<Client>& client) const {
    const bool client_full = client && running(*client) >= limits_.per_client;
    const bool full = entries_.size() >= limits_.total;
    if (!client_full && !full) return {};
    const std::list<Id>* in_the_way = &unanswered_;
    if (client_full) {
      const auto it = unanswered_by_client_.find(*client);
      in_the_way = it == unanswered_by_client_.end() ? nullptr : &it->second;
    }
    if (in_the_way == nullptr || in_the_way->empty()) return {Verdict::busy, std::nullopt};
    return {Verdict::admit_after_eviction, in_the_way->front()};
  }

  // A new session: running, its client not heard from yet.
  void opened(const Id& id, const std::optional<Client>& client) {
    auto [it, inserted] = entries_.try_emplace(id, Entry{client});
    if (!inserted) return;
    Entry& entry = it->second;
    entry.in_order = unanswered_.insert(unanswered_.end(), id);
    if (!client) return;
    auto& mine = unanswered_by_client_[*client];
    entry.in_client = mine.insert(mine.end(), id);
    ++running_by_client_[*client];
  }

  // Its client answered: established, never evicted.
  void answered(const Id& id) {
    const auto it = entries_.find(id);
    if (it != entries_.end()) forget_unanswered(it->second);
  }

  // The transfer's outcome is final (the session may still dally): it no longer counts for its client.
  void finished(const Id& id) {
    const auto it = entries_.find(id);
    if (it == entries_.end() || !it->second.running) return;
    forget_unanswered(it->second);
    it->second.running = false;
    release_running(it->second.client);
  }

  void closed(const Id& id) {
    finished(id);
    entries_.erase(id);
  }

  std::size_t total() const noexcept { return entries_.size(); }
  std::size_t unanswered() const noexcept { return unanswered_.size(); }
  // Running transfers counted against the client's limit.
  std::size_t running(const Client& client) const {
    const auto it = running_by_client_.find(client);
    return it == running_by_client_.end() ? 0 : it->second;
  }

 private:
  struct Entry {
    std::optional<Client> client;
    bool running = true;
    bool unanswered = true;
    typename std::list<Id>::iterator in_order{};
    typename std::list<Id>::iterator in_client{};
  };

  void forget_unanswered(Entry& entry) {
    if (!entry.unanswered) return;
    entry.unanswered = false;
    unanswered_.erase(entry.in_order);
    if (!entry.client) return;
    const auto mine = unanswered_by_client_.find(*entry.client);
    mine->second.erase(entry.in_client);
    if (mine->second.empty()) unanswered_by_client_.erase(mine);
  }

  void release_running(const std::optional<Client>& client) {
    if (!client) return;
    const auto it = running_by_client_.find(*client);
    if (it != running_by_client_.end() && --it->second == 0) running_by_client_.erase(it);
  }

  AdmissionLimits limits_;
  std::map<Id, Entry> entries_;
  std::list<Id> unanswered_;  // oldest first
  std::map<Client, std::list<Id>> unanswered_by_client_;
  std::map<Client, std::size_t> running_by_client_;
};

}  // namespace tftp::detail
