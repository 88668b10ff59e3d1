#include "tftp/server/origin_content.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <system_error>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tftp/posix/file_io.hpp"
#include "tftp/posix/root.hpp"
#include "tftp/url.hpp"

namespace tftp::server {

namespace {

constexpr std::uint64_t netascii_tsize_limit = std::uint64_t{1} << 20;  // as the directory: counted when small
constexpr std::size_t max_meta_size = 64 * 1024;

Error origin_unavailable() { return Error{ErrorCode::not_defined, "origin unavailable"}; }

// The cache file of a name: FNV-1a, 64 bits, in hex. Two names with one key: the later replaces the other.
std::string key_of(const std::string& name) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char ch : name) {
    hash ^= static_cast<unsigned char>(ch);
    hash *= 0x100000001b3ULL;
  }
  return fmt::format("{:016x}", hash);
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::int64_t epoch_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

std::string origin_url(const std::string& base, const std::string& name) {
  std::string url = base;
  if (url.empty() || url.back() != '/') url += '/';
  return url + percent_encode_path(name);
}

// A complete file in the cache: KEY.data and its metadata KEY.meta.
struct OriginContent::Entry {
  std::string name;
  std::string key;
  std::uint64_t size = 0;
  std::optional<std::string> etag;
  std::optional<std::string> last_modified;
  std::chrono::system_clock::time_point validated;
  std::uint64_t used = 0;
};

// One GET to an origin and the file its body goes into. Shared with the sources reading it, which outlive
// the fetch when it ended (they keep the descriptor: the file may be renamed or unlinked meanwhile).
struct OriginContent::Fetch final : FetchHandler {
  enum class State {
    waiting_head,  // no final response yet
    streaming,     // 200: the body arrives into `file`
    complete,      // the whole body is in `file`
    failed,        // broke mid-body: readers get ERROR 0
    refused,       // 404, 401, ...: `refusal` for everyone
    not_modified,  // 304 to a revalidation: the cached file stands
    next_origin,   // an answer that another --origin URL may do better with (5xx, ...)
  };

  OriginContent* owner = nullptr;
  std::string name;
  std::size_t origin = 0;
  bool conditional = false;
  FetchId id = 0;
  State state = State::waiting_head;
  posix::UniqueFd file;
  std::string part;  // its name in the cache directory while streaming
  std::uint64_t received = 0;
  std::optional<std::uint64_t> length;
  std::optional<std::string> etag;
  std::optional<std::string> last_modified;
  std::optional<Refusal> refusal;
  struct Waiter {
    SessionId session;
    Mode mode;
    bool size_wanted;
  };
  std::vector<Waiter> waiting;     // opens not answered yet
  std::set<SessionId> readers;     // sources that said BlockPending

  bool on_head(const FetchHead& head) override;
  bool on_body(std::span<const std::byte> bytes) override;
  void on_done(const FetchEnd& end) override;
};

namespace {

// KEY.meta's contents. Names and validators are data from clients and the origin: dumped with invalid UTF-8
// replaced, never throwing.
std::string meta_text(const OriginContent::Entry& entry) {
  nlohmann::json meta{{"name", entry.name}, {"size", entry.size}, {"validated", epoch_seconds(entry.validated)}};
  if (entry.etag) meta["etag"] = *entry.etag;
  if (entry.last_modified) meta["last_modified"] = *entry.last_modified;
  return meta.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// A new file `name` in `dir` holding `text`; false when it could not be written whole.
bool write_new_file(int dir, const std::string& name, const std::string& text) {
  posix::UniqueFd fd(::openat(dir, name.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  return fd && ::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
}

// A file being fetched, read by block as its body arrives.
class LiveSource final : public BlockSource {
 public:
  LiveSource(std::shared_ptr<OriginContent::Fetch> fetch, SessionId session, Mode mode)
      : fetch_(std::move(fetch)), session_(session), mode_(mode) {}
  ~LiveSource() override { fetch_->readers.erase(session_); }
  LiveSource(const LiveSource&) = delete;
  LiveSource& operator=(const LiveSource&) = delete;

  BlockRead read_block(std::uint64_t index, std::span<std::byte> out) override {
    using State = OriginContent::Fetch::State;
    const auto& fetch = *fetch_;
    if (fetch.state == State::failed) return origin_unavailable();
    const bool complete = fetch.state == State::complete;
    if (mode_ == Mode::netascii) {  // encoded from the whole file, re-readable at any block
      if (!complete) return pending();
      if (!netascii_) netascii_.emplace(posix::UniqueFd(::fcntl(fetch.file.get(), F_DUPFD_CLOEXEC, 0)), Mode::netascii);
      return netascii_->read_block(index, out);
    }
    const std::uint64_t begin = index * out.size();
    if (!complete && fetch.received < begin + out.size()) return pending();
    if (begin >= fetch.received) return std::size_t{0};
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), fetch.received - begin));
    std::size_t done = 0;
    while (done < want) {
      const auto n = ::pread(fetch.file.get(), out.data() + done, want - done, static_cast<off_t>(begin + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Error{ErrorCode::not_defined, "read failed"};
      done += static_cast<std::size_t>(n);
    }
    return want;
  }

 private:
  BlockRead pending() {
    fetch_->readers.insert(session_);
    return BlockPending{};
  }

  std::shared_ptr<OriginContent::Fetch> fetch_;
  SessionId session_;
  Mode mode_;
  std::optional<posix::FileSource> netascii_;
};

}  // namespace

// ---- Construction ------------------------------------------------------------------------------------

OriginContent::OriginContent(asio::io_context& io, const ServerConfig& config, DirectoryContent& local,
                             ServerLog& log)
    : io_(io), config_(config), local_(local), log_(log) {
  ::mkdir(config_.cache_dir.c_str(), 0750);  // an error shows in the open below
  cache_dir_ = ::open(config_.cache_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cache_dir_ < 0) throw std::system_error(errno, std::generic_category(), "--cache-dir " + config_.cache_dir);
  load_existing();
  FetchLimits limits;
  limits.connect_timeout = config_.origin_timeout;
  limits.stall_timeout = config_.origin_timeout;
  limits.ca_file = config_.origin_ca;
  fetcher_ = std::make_unique<HttpFetcher>(io_, limits);
}

OriginContent::~OriginContent() {
  inputs_ = {};  // the driver may be gone
  stop();
  fetcher_.reset();
  if (cache_dir_ >= 0) ::close(cache_dir_);
}

void OriginContent::connect(Inputs inputs) { inputs_ = std::move(inputs); }

void OriginContent::stop() {
  if (stopped_) return;
  stopped_ = true;
  auto fetches = std::exchange(fetches_, {});
  for (auto& [name, fetch] : fetches) {
    fetcher_->cancel(fetch->id);
    if (!fetch->part.empty()) ::unlinkat(cache_dir_, fetch->part.c_str(), 0);
    if (fetch->state == Fetch::State::streaming) fetch->state = Fetch::State::failed;
    wake_readers(*fetch);  // they end with ERROR 0 now
  }
}

// What an earlier run left: complete files with their metadata are adopted (least recently validated first
// out); half-fetched files, orphans and unreadable metadata are removed.
void OriginContent::load_existing() {
  DIR* dir = ::fdopendir(::fcntl(cache_dir_, F_DUPFD_CLOEXEC, 0));
  if (dir == nullptr) return;
  std::vector<std::string> names;
  while (const dirent* e = ::readdir(dir)) names.emplace_back(e->d_name);
  ::closedir(dir);
  std::set<std::string> kept;
  for (const auto& file : names) {
    if (!ends_with(file, ".meta")) continue;
    const std::string key = file.substr(0, file.size() - 5);
    posix::UniqueFd fd(::openat(cache_dir_, file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    struct stat meta_stat {};
    struct stat data_stat {};
    std::string text;
    if (fd && ::fstat(fd.get(), &meta_stat) == 0 && S_ISREG(meta_stat.st_mode) &&
        static_cast<std::size_t>(meta_stat.st_size) <= max_meta_size) {
      text.resize(static_cast<std::size_t>(meta_stat.st_size));
      if (::pread(fd.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) text.clear();
    }
    auto entry = std::make_unique<Entry>();
    try {
      const auto json = nlohmann::json::parse(text);
      entry->name = json.at("name").get<std::string>();
      entry->size = json.at("size").get<std::uint64_t>();
      if (json.contains("etag")) entry->etag = json.at("etag").get<std::string>();
      if (json.contains("last_modified")) entry->last_modified = json.at("last_modified").get<std::string>();
      entry->validated = std::chrono::system_clock::time_point(std::chrono::seconds(json.at("validated").get<std::int64_t>()));
    } catch (const nlohmann::json::exception&) {
      entry.reset();
    }
    const std::string data = key + ".data";
    const bool usable = entry && key_of(entry->name) == key &&
                        ::fstatat(cache_dir_, data.c_str(), &data_stat, AT_SYMLINK_NOFOLLOW) == 0 &&
                        S_ISREG(data_stat.st_mode) && static_cast<std::uint64_t>(data_stat.st_size) == entry->size;
    if (!usable) {
      ::unlinkat(cache_dir_, file.c_str(), 0);
      continue;
    }
    entry->key = key;
    kept.insert(data);
    counters_.cached_bytes += entry->size;
    ++counters_.cached_files;
    entries_[entry->name] = std::move(entry);
  }
  for (const auto& file : names) {
    if (file == "." || file == ".." || ends_with(file, ".meta") || kept.count(file) != 0) continue;
    ::unlinkat(cache_dir_, file.c_str(), 0);  // a half-fetched file, or data without metadata
  }
  std::vector<Entry*> by_age;
  for (auto& [name, entry] : entries_) by_age.push_back(entry.get());
  std::sort(by_age.begin(), by_age.end(), [](const Entry* a, const Entry* b) { return a->validated < b->validated; });
  for (Entry* entry : by_age) entry->used = ++use_clock_;
  evict_over_size();
}

// ---- Requests ----------------------------------------------------------------------------------------

ReadOpening OriginContent::open_read(const ContentRequest& request) {
  std::string name = request.name;
  if (!config_.origin_only) {
    auto local = local_.open_read(request);
    auto* refusal = std::get_if<Refusal>(&local);
    if (refusal == nullptr || refusal->error.code != ErrorCode::file_not_found) return local;
    name = refusal->name;
  } else if (auto refusal = local_.resolve_name(request, false, name)) {
    return std::move(*refusal);
  }
  auto checked = posix::check_name(name);
  if (!checked) return Refusal{checked.error(), name};
  name = std::move(*checked);
  if (stopped_) return Refusal{origin_unavailable(), name};

  if (const auto it = fetches_.find(name); it != fetches_.end()) {
    ++counters_.joined;
    return join(it->second, request);
  }
  if (const auto it = entries_.find(name); it != entries_.end()) {
    Entry& entry = *it->second;
    if (std::chrono::system_clock::now() - entry.validated < config_.cache_ttl) return serve_cached(entry, request);
    start_fetch(name, 0, &entry);  // stale: ask the origin whether it changed
  } else {
    start_fetch(name, 0, nullptr);
  }
  return join(fetches_.at(name), request);  // waits for the headers
}

ReadOpening OriginContent::serve_cached(Entry& entry, const ContentRequest& request) {
  const std::string data = entry.key + ".data";
  posix::UniqueFd fd(::openat(cache_dir_, data.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) {  // removed behind our back: forget it, the next request fetches again
    const std::string name = entry.name;
    remove_entry(name);
    return Refusal{origin_unavailable(), name};
  }
  entry.used = ++use_clock_;
  ++counters_.hits;
  auto source = std::make_unique<posix::FileSource>(std::move(fd), request.mode);
  if (request.mode == Mode::netascii && request.size_wanted && entry.size <= netascii_tsize_limit) {
    static_cast<void>(source->count_netascii());
  }
  const auto size = source->tsize();
  return ReadContent{std::move(source), size, entry.name};
}

// A request for a name being fetched: it follows the fetch, or waits for its headers.
ReadOpening OriginContent::join(const std::shared_ptr<Fetch>& fetch, const ContentRequest& request) {
  switch (fetch->state) {
    case Fetch::State::streaming:
    case Fetch::State::complete: {
      const auto size = request.mode == Mode::octet ? fetch->length : std::nullopt;
      return ReadContent{std::make_unique<LiveSource>(fetch, request.session, request.mode), size, fetch->name};
    }
    case Fetch::State::refused: return *fetch->refusal;
    case Fetch::State::failed: return Refusal{origin_unavailable(), fetch->name};
    case Fetch::State::not_modified:
      if (const auto it = entries_.find(fetch->name); it != entries_.end()) return serve_cached(*it->second, request);
      return Refusal{origin_unavailable(), fetch->name};
    case Fetch::State::waiting_head:
    case Fetch::State::next_origin: break;
  }
  fetch->waiting.push_back({request.session, request.mode, request.size_wanted});
  return OpenLater{};
}

void OriginContent::start_fetch(const std::string& name, std::size_t origin, Entry* revalidate) {
  auto fetch = std::make_shared<Fetch>();
  fetch->owner = this;
  fetch->name = name;
  fetch->origin = origin;
  FetchRequest request;
  request.url = url_for(origin, name);
  if (revalidate != nullptr) {
    fetch->conditional = true;
    request.if_none_match = revalidate->etag;
    request.if_modified_since = revalidate->last_modified;
    ++counters_.revalidations;
  }
  ++counters_.fetches;
  fetches_[name] = fetch;
  fetch->id = fetcher_->start(request, *fetch);
}

std::string OriginContent::url_for(std::size_t origin, const std::string& name) const {
  return origin_url(config_.origins.at(origin), name);
}

// ---- The fetch's callbacks ------------------------------------------------------------------------------

bool OriginContent::Fetch::on_head(const FetchHead& head) {
  if (owner->stopped_) return false;
  etag = head.etag;
  last_modified = head.last_modified;
  switch (head.status) {
    case 200: {
      part = fmt::format(".part-{}-{}", key_of(name), id);
      file = posix::UniqueFd(::openat(owner->cache_dir_, part.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
      if (!file) {
        part.clear();
        refusal = Refusal{Error{ErrorCode::not_defined, "cache not writable"}, name};
        state = State::refused;
        owner->answer_waiting(*this, [this](const ContentRequest&) -> ReadOpening { return *refusal; });
        return false;
      }
      length = head.content_length;
      state = State::streaming;
      owner->fetch_headed(*this);
      return true;
    }
    case 304:
      if (conditional) {
        state = State::not_modified;
        return true;
      }
      break;
    case 404:
    case 410: refusal = Refusal{Error{ErrorCode::file_not_found, "file not found"}, name}; break;
    case 401:
    case 403: refusal = Refusal{Error{ErrorCode::access_violation, "access violation"}, name}; break;
    default: break;
  }
  if (refusal) {
    state = State::refused;
    if (conditional) owner->remove_entry(name);  // gone from the origin: gone from the cache
    owner->answer_waiting(*this, [this](const ContentRequest&) -> ReadOpening { return *refusal; });
    return false;
  }
  owner->log_.write(LogEvent{LogLevel::warning, "origin", {}}
                        .add("file", name)
                        .add("url", owner->url_for(origin, name))
                        .add_number("status", std::to_string(head.status)));
  state = State::next_origin;
  return false;
}

bool OriginContent::Fetch::on_body(std::span<const std::byte> bytes) {
  if (state != State::streaming) return state == State::not_modified;  // a 304's body is ignored
  std::size_t done = 0;
  while (done < bytes.size()) {
    const auto n = ::pwrite(file.get(), bytes.data() + done, bytes.size() - done, static_cast<off_t>(received + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;  // disk full: on_done fails the readers
    done += static_cast<std::size_t>(n);
  }
  received += bytes.size();
  owner->counters_.bytes_fetched += bytes.size();
  if (length && received > *length) return false;
  owner->wake_readers(*this);
  return true;
}

void OriginContent::Fetch::on_done(const FetchEnd& end) {
  owner->fetch_ended(*this, end.ok, end.error);
}

void OriginContent::fetch_headed(Fetch& fetch) {
  const auto self = fetches_.at(fetch.name);
  answer_waiting(fetch, [&](const ContentRequest& request) { return join(self, request); });
}

void OriginContent::fetch_ended(Fetch& fetch, bool ok, const std::string& error) {
  // Out of the table, but alive until this returns (the readers' sources may hold it longer).
  std::shared_ptr<Fetch> self;
  if (const auto it = fetches_.find(fetch.name); it != fetches_.end() && it->second.get() == &fetch) {
    self = std::move(it->second);
    fetches_.erase(it);
  }
  const auto log_failure = [&](std::string_view what) {
    ++counters_.fetch_failures;
    log_.write(LogEvent{LogLevel::warning, "origin", {}}
                   .add("file", fetch.name)
                   .add("url", url_for(fetch.origin, fetch.name))
                   .add("error", std::string(what)));
  };
  switch (fetch.state) {
    case Fetch::State::streaming:
      if (ok && (!fetch.length || fetch.received == *fetch.length)) {
        fetch.state = Fetch::State::complete;
        commit(fetch);
      } else {
        fetch.state = Fetch::State::failed;
        ::unlinkat(cache_dir_, fetch.part.c_str(), 0);
        log_failure(ok ? "body shorter than its Content-Length" : error);
      }
      wake_readers(fetch);
      return;
    case Fetch::State::not_modified:
      if (const auto it = entries_.find(fetch.name); it != entries_.end()) {
        it->second->validated = std::chrono::system_clock::now();
        if (fetch.etag) it->second->etag = fetch.etag;
        if (fetch.last_modified) it->second->last_modified = fetch.last_modified;
        Entry& entry = *it->second;
        store_validation(entry, fetch.id);
        answer_waiting(fetch, [&](const ContentRequest& request) { return serve_cached(entry, request); });
      } else {
        answer_waiting(fetch, [&](const ContentRequest&) -> ReadOpening { return Refusal{origin_unavailable(), fetch.name}; });
      }
      return;
    case Fetch::State::refused:
    case Fetch::State::complete:
    case Fetch::State::failed: return;
    case Fetch::State::waiting_head:
    case Fetch::State::next_origin: break;
  }
  // No usable answer from this origin: the next one, or ERROR 0 for everyone waiting.
  log_failure(error.empty() ? "no usable answer" : error);
  if (!stopped_ && fetch.origin + 1 < config_.origins.size()) {
    const auto it = entries_.find(fetch.name);
    start_fetch(fetch.name, fetch.origin + 1, fetch.conditional && it != entries_.end() ? it->second.get() : nullptr);
    auto& next = *fetches_.at(fetch.name);
    next.waiting = std::move(fetch.waiting);
    return;
  }
  // A revalidation the origin could not answer: the cached copy is better than no boot (stale-if-error).
  if (const auto it = entries_.find(fetch.name); fetch.conditional && it != entries_.end()) {
    Entry& entry = *it->second;
    answer_waiting(fetch, [&](const ContentRequest& request) { return serve_cached(entry, request); });
    return;
  }
  answer_waiting(fetch, [&](const ContentRequest&) -> ReadOpening { return Refusal{origin_unavailable(), fetch.name}; });
}

// The waiting opens, answered (each answer may start its transfer, which may read the fetch).
void OriginContent::answer_waiting(Fetch& fetch, const std::function<ReadOpening(const ContentRequest&)>& answer) {
  const auto waiting = std::exchange(fetch.waiting, {});
  for (const auto& waiter : waiting) {
    const ContentRequest request{waiter.session, {}, fetch.name, waiter.mode, waiter.size_wanted, std::nullopt};
    if (inputs_.opened) inputs_.opened(waiter.session, answer(request));
  }
}

void OriginContent::wake_readers(Fetch& fetch) {
  const auto readers = std::exchange(fetch.readers, {});
  for (const SessionId session : readers) {
    if (inputs_.ready) inputs_.ready(session);
  }
}

// ---- The cache on disk --------------------------------------------------------------------------------

// The complete body becomes KEY.data, then its metadata KEY.meta (a restart adopts only data with both).
void OriginContent::commit(Fetch& fetch) {
  const std::string part = std::exchange(fetch.part, {});
  if (fetch.received > config_.cache_size) {  // streamed to its readers, not kept
    ::unlinkat(cache_dir_, part.c_str(), 0);
    return;
  }
  remove_entry(fetch.name);
  const std::string key = key_of(fetch.name);
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->second->key == key) {  // another name with this key: the newer one wins
      const std::string other = it->first;
      remove_entry(other);
      break;
    }
  }
  auto entry = std::make_unique<Entry>();
  entry->name = fetch.name;
  entry->key = key;
  entry->size = fetch.received;
  entry->etag = fetch.etag;
  entry->last_modified = fetch.last_modified;
  entry->validated = std::chrono::system_clock::now();
  entry->used = ++use_clock_;
  const std::string meta_part = part + ".meta";
  const std::string data = key + ".data";
  const std::string meta_name = key + ".meta";
  if (!write_new_file(cache_dir_, meta_part, meta_text(*entry)) ||
      ::renameat(cache_dir_, part.c_str(), cache_dir_, data.c_str()) != 0 ||
      ::renameat(cache_dir_, meta_part.c_str(), cache_dir_, meta_name.c_str()) != 0) {
    ::unlinkat(cache_dir_, part.c_str(), 0);
    ::unlinkat(cache_dir_, meta_part.c_str(), 0);
    ::unlinkat(cache_dir_, data.c_str(), 0);
    log_.write(LogEvent{LogLevel::warning, "cache", {}}.add("file", fetch.name).add("error", std::strerror(errno)));
    return;
  }
  counters_.cached_bytes += entry->size;
  ++counters_.cached_files;
  entries_[entry->name] = std::move(entry);
  evict_over_size();
}

// A 304's validation time and validators on disk too: without them a restart would revalidate a file that
// is fresh, and keep validators the origin has replaced. Written beside KEY.meta and renamed over it, so a
// restart reads the old metadata or the new.
void OriginContent::store_validation(const Entry& entry, FetchId id) {
  const std::string temp = fmt::format(".part-{}-{}.meta", entry.key, id);
  if (!write_new_file(cache_dir_, temp, meta_text(entry)) ||
      ::renameat(cache_dir_, temp.c_str(), cache_dir_, (entry.key + ".meta").c_str()) != 0) {
    log_.write(LogEvent{LogLevel::warning, "cache", {}}.add("file", entry.name).add("error", std::strerror(errno)));
    ::unlinkat(cache_dir_, temp.c_str(), 0);
  }
}

void OriginContent::remove_entry(const std::string& name) {
  const auto it = entries_.find(name);
  if (it == entries_.end()) return;
  const Entry& entry = *it->second;
  ::unlinkat(cache_dir_, (entry.key + ".meta").c_str(), 0);
  ::unlinkat(cache_dir_, (entry.key + ".data").c_str(), 0);
  counters_.cached_bytes -= entry.size;
  --counters_.cached_files;
  entries_.erase(it);
}

void OriginContent::evict_over_size() {
  while (counters_.cached_bytes > config_.cache_size && !entries_.empty()) {
    const auto oldest = std::min_element(entries_.begin(), entries_.end(),
                                         [](const auto& a, const auto& b) { return a.second->used < b.second->used; });
    ++counters_.evictions;
    const std::string name = oldest->first;
    remove_entry(name);
  }
}

}  // namespace tftp::server
