#include "tftp/server/http_fetch.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include <asio/post.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>

namespace tftp::server {

namespace {

using Clock = std::chrono::steady_clock;

// A header line longer than this is not one we read (ETag, Last-Modified): it is passed over, not kept.
constexpr std::size_t max_header_line = 8 * 1024;

constexpr const char* refused_by_handler = "ended by the handler";

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw std::runtime_error("curl_global_init failed");
  });
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// The value of "Name: value" when the line's name is `name` (lower case), else nullopt.
std::optional<std::string_view> header_value(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() || line[name.size()] != ':') return std::nullopt;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (lower(line[i]) != name[i]) return std::nullopt;
  }
  return trimmed(line.substr(name.size() + 1));
}

// A validator too long to be one we send back is treated as absent, not cut.
void keep_validator(std::optional<std::string>& field, std::string_view value) {
  if (value.empty() || value.size() > max_validator_size) {
    field.reset();
  } else {
    field = std::string(value);
  }
}

// A value that goes back into a request header: a CR or LF would let a response write our next request.
bool sendable(const std::string& value) {
  return !value.empty() && value.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos;
}

}  // namespace

class HttpFetcher::Impl {
 public:
  Impl(asio::io_context& io, FetchLimits limits);
  ~Impl();
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  FetchId start(const FetchRequest& request, FetchHandler& handler);
  void cancel(FetchId id);
  std::size_t running() const noexcept { return transfers_.size(); }

 private:
  struct Transfer;
  struct Watch;

  // curl's callbacks. None of them calls into curl; what a handler asks for from inside them waits for a post.
  static int on_socket(CURL* easy, curl_socket_t socket, int what, void* self, void* socket_data);
  static int on_timer(CURLM* multi, long milliseconds, void* self);
  static int on_prereq(void* transfer, char* remote_ip, char* local_ip, int remote_port, int local_port);
  static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* transfer);
  static std::size_t on_write(char* data, std::size_t size, std::size_t count, void* transfer);

  std::optional<std::string> configure(Transfer& transfer, const FetchRequest& request);
  void launch(const std::shared_ptr<Transfer>& transfer);
  void watch_socket(curl_socket_t socket, int what);
  void forget_socket(curl_socket_t socket);
  void arm(const std::shared_ptr<Watch>& watch);
  void ready(const std::shared_ptr<Watch>& watch, int curl_select);
  void act(curl_socket_t socket, int curl_select);
  void collect_done();
  void arm_stall(const std::shared_ptr<Transfer>& transfer, Clock::time_point deadline);
  void check_stall(const std::shared_ptr<Transfer>& transfer);
  void detach(Transfer& transfer);
  void flush_cancelled();
  void finish(const std::shared_ptr<Transfer>& transfer, FetchEnd end, std::optional<FetchHead> head);
  static FetchHead head_of(const Transfer& transfer);

  asio::io_context& io_;
  FetchLimits limits_;
  CURLM* multi_ = nullptr;
  asio::steady_timer timer_;  // curl's one timeout, for all its transfers
  std::unordered_map<FetchId, std::shared_ptr<Transfer>> transfers_;
  // Cancelled from inside a curl callback: still curl's until the post that removes them.
  std::vector<std::shared_ptr<Transfer>> cancelled_;
  std::unordered_map<curl_socket_t, std::shared_ptr<Watch>> watches_;
  FetchId next_id_ = 1;
  bool in_curl_ = false;
  // Handlers queued on the loop hold a weak_ptr to this: once it is gone they do nothing.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

struct HttpFetcher::Impl::Transfer : std::enable_shared_from_this<Transfer> {
  Transfer(asio::io_context& io, Impl& impl, FetchId fetch_id, FetchHandler& fetch_handler)
      : owner(impl), id(fetch_id), handler(&fetch_handler), stall(io) {}
  ~Transfer() {
    if (easy != nullptr) curl_easy_cleanup(easy);  // never added, or already removed (detach)
    curl_slist_free_all(headers);
  }
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;

  Impl& owner;
  FetchId id;
  FetchHandler* handler;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::optional<std::string> early_error;  // reported by launch(), never from inside start()
  bool added = false;                      // to the multi handle
  bool cancelled = false;                  // or finished: no callback any more
  bool refused = false;                    // a handler callback returned false
  bool head_given = false;
  std::optional<std::string> etag;  // of the response whose headers came last
  std::optional<std::string> last_modified;
  Clock::time_point last_byte;  // or the moment the request could be sent
  asio::steady_timer stall;
  bool stall_armed = false;
  char error[CURL_ERROR_SIZE] = {};
};

// One socket curl asked us to watch. The descriptor does not own it: curl closes it, after telling us.
struct HttpFetcher::Impl::Watch {
  explicit Watch(asio::io_context& io) : descriptor(io) {}
  ~Watch() {
    if (descriptor.is_open()) static_cast<void>(descriptor.release());
  }
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;

  asio::posix::stream_descriptor descriptor;
  curl_socket_t socket = CURL_SOCKET_BAD;
  int what = 0;  // CURL_POLL_IN, _OUT or _INOUT
  bool reading = false;
  bool writing = false;
  bool removed = false;
};

HttpFetcher::Impl::Impl(asio::io_context& io, FetchLimits limits) : io_(io), limits_(std::move(limits)), timer_(io) {
  init_curl_once();
  multi_ = curl_multi_init();
  if (multi_ == nullptr) throw std::runtime_error("curl_multi_init failed");
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &Impl::on_socket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &Impl::on_timer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
}

HttpFetcher::Impl::~Impl() {
  alive_.reset();
  for (auto& entry : transfers_) {
    entry.second->cancelled = true;
    detach(*entry.second);
  }
  for (auto& transfer : cancelled_) detach(*transfer);
  transfers_.clear();
  cancelled_.clear();
  curl_multi_cleanup(multi_);  // closes the connections it kept; may still tell on_socket
  for (auto& entry : watches_) {
    entry.second->removed = true;
    static_cast<void>(entry.second->descriptor.release());
  }
}

FetchId HttpFetcher::Impl::start(const FetchRequest& request, FetchHandler& handler) {
  auto transfer = std::make_shared<Transfer>(io_, *this, next_id_++, handler);
  transfer->early_error = configure(*transfer, request);
  transfers_.emplace(transfer->id, transfer);
  // Added from the loop, never here: start() may be called from inside curl's callbacks, and a fetch that
  // fails at once must not call on_done before start() returned.
  asio::post(io_, [this, alive = std::weak_ptr<bool>(alive_), weak = std::weak_ptr<Transfer>(transfer)] {
    if (alive.expired()) return;
    if (auto found = weak.lock()) launch(found);
  });
  return transfer->id;
}

std::optional<std::string> HttpFetcher::Impl::configure(Transfer& transfer, const FetchRequest& request) {
  const auto add_header = [&transfer](const char* name, const std::optional<std::string>& value) {
    if (!value) return true;
    if (!sendable(*value)) return false;
    curl_slist* grown = curl_slist_append(transfer.headers, fmt::format("{}: {}", name, *value).c_str());
    if (grown == nullptr) return false;
    transfer.headers = grown;
    return true;
  };
  if (!add_header("If-None-Match", request.if_none_match)) return "If-None-Match value is empty or holds CR, LF or NUL";
  if (!add_header("If-Modified-Since", request.if_modified_since)) {
    return "If-Modified-Since value is empty or holds CR, LF or NUL";
  }

  transfer.easy = curl_easy_init();
  if (transfer.easy == nullptr) return "curl_easy_init failed";
  CURL* easy = transfer.easy;
  CURLcode result = CURLE_OK;
  const auto set = [&result, easy](CURLoption option, auto value) {
    if (result == CURLE_OK) result = curl_easy_setopt(easy, option, value);
  };
  set(CURLOPT_PRIVATE, static_cast<void*>(&transfer));
  set(CURLOPT_ERRORBUFFER, transfer.error);
  set(CURLOPT_URL, request.url.c_str());
  set(CURLOPT_HTTPGET, 1L);
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_PROTOCOLS_STR, "http,https");
  set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");  // a redirect to file:// or gopher:// fails the fetch
  set(CURLOPT_FOLLOWLOCATION, 1L);
  set(CURLOPT_MAXREDIRS, std::max(limits_.max_redirects, 0L));  // curl reads -1 as no limit
  set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(limits_.connect_timeout.count()));
  set(CURLOPT_SSL_VERIFYPEER, 1L);
  set(CURLOPT_SSL_VERIFYHOST, 2L);
  if (!limits_.ca_file.empty()) {
    set(CURLOPT_CAINFO, limits_.ca_file.c_str());
    set(CURLOPT_CAPATH, static_cast<const char*>(nullptr));  // the private CA only, not /etc/ssl/certs too
  }
  set(CURLOPT_USERAGENT, limits_.user_agent.c_str());
  if (transfer.headers != nullptr) set(CURLOPT_HTTPHEADER, transfer.headers);
  set(CURLOPT_HEADERFUNCTION, &Impl::on_header);
  set(CURLOPT_HEADERDATA, static_cast<void*>(&transfer));
  set(CURLOPT_WRITEFUNCTION, &Impl::on_write);
  set(CURLOPT_WRITEDATA, static_cast<void*>(&transfer));
  set(CURLOPT_PREREQFUNCTION, &Impl::on_prereq);
  set(CURLOPT_PREREQDATA, static_cast<void*>(&transfer));
  if (result != CURLE_OK) return fmt::format("curl option refused: {}", curl_easy_strerror(result));
  return std::nullopt;
}

void HttpFetcher::Impl::launch(const std::shared_ptr<Transfer>& transfer) {
  if (transfer->cancelled) return;
  if (transfer->early_error) {
    finish(transfer, FetchEnd{false, *transfer->early_error}, std::nullopt);
    return;
  }
  const CURLMcode result = curl_multi_add_handle(multi_, transfer->easy);
  if (result != CURLM_OK) {
    finish(transfer, FetchEnd{false, curl_multi_strerror(result)}, std::nullopt);
    return;
  }
  transfer->added = true;
}

void HttpFetcher::Impl::cancel(FetchId id) {
  const auto found = transfers_.find(id);
  if (found == transfers_.end()) return;
  auto transfer = found->second;
  transfers_.erase(found);
  transfer->cancelled = true;
  if (!in_curl_) {
    detach(*transfer);
    return;
  }
  // curl is in one of our callbacks: that callback ends the transfer by its return value, and the post
  // removes it (also when it was another transfer, idle meanwhile).
  cancelled_.push_back(std::move(transfer));
  asio::post(io_, [this, alive = std::weak_ptr<bool>(alive_)] {
    if (!alive.expired()) flush_cancelled();
  });
}

void HttpFetcher::Impl::flush_cancelled() {
  auto cancelled = std::move(cancelled_);
  cancelled_.clear();
  for (auto& transfer : cancelled) detach(*transfer);
}

void HttpFetcher::Impl::detach(Transfer& transfer) {
  transfer.stall.cancel();
  transfer.stall_armed = false;
  if (transfer.easy == nullptr) return;
  if (transfer.added) curl_multi_remove_handle(multi_, transfer.easy);
  transfer.added = false;
  curl_easy_cleanup(transfer.easy);
  transfer.easy = nullptr;
}

void HttpFetcher::Impl::finish(const std::shared_ptr<Transfer>& transfer, FetchEnd end, std::optional<FetchHead> head) {
  if (transfer->cancelled) return;
  if (head) {
    transfer->head_given = true;
    if (!transfer->handler->on_head(*head)) end = FetchEnd{false, refused_by_handler};
    if (transfer->cancelled) return;  // by its on_head
  }
  transfers_.erase(transfer->id);
  transfer->cancelled = true;
  transfer->handler->on_done(end);
}

FetchHead HttpFetcher::Impl::head_of(const Transfer& transfer) {
  FetchHead head;
  curl_easy_getinfo(transfer.easy, CURLINFO_RESPONSE_CODE, &head.status);
  curl_off_t length = -1;
  // curl reports 0 for a 304, which has no body of its own: the length is the stored representation's.
  if (head.status != 304 && curl_easy_getinfo(transfer.easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length) == CURLE_OK &&
      length >= 0) {
    head.content_length = static_cast<std::uint64_t>(length);
  }
  head.etag = transfer.etag;
  head.last_modified = transfer.last_modified;
  return head;
}

// Sockets: curl says what it waits for on each; a wait that completes hands the socket back to curl.

int HttpFetcher::Impl::on_socket(CURL*, curl_socket_t socket, int what, void* self, void*) {
  auto& impl = *static_cast<Impl*>(self);
  if (what == CURL_POLL_REMOVE) {
    impl.forget_socket(socket);
  } else {
    impl.watch_socket(socket, what);
  }
  return 0;
}

void HttpFetcher::Impl::watch_socket(curl_socket_t socket, int what) {
  auto& watch = watches_[socket];
  if (!watch) {
    auto made = std::make_shared<Watch>(io_);
    std::error_code error;
    made->descriptor.assign(socket, error);
    if (error) {
      watches_.erase(socket);
      return;  // the transfer then runs into its timeouts
    }
    made->socket = socket;
    watch = std::move(made);
  }
  watch->what = what;
  arm(watch);
}

void HttpFetcher::Impl::forget_socket(curl_socket_t socket) {
  const auto found = watches_.find(socket);
  if (found == watches_.end()) return;
  found->second->removed = true;
  static_cast<void>(found->second->descriptor.release());  // its waits end with operation_aborted
  watches_.erase(found);
}

void HttpFetcher::Impl::arm(const std::shared_ptr<Watch>& watch) {
  using asio::posix::descriptor_base;
  const auto wait = [this, &watch](descriptor_base::wait_type type, bool Watch::*pending, int curl_select) {
    (*watch).*pending = true;
    watch->descriptor.async_wait(type, [this, watch, pending, curl_select, alive = std::weak_ptr<bool>(alive_)](
                                           const std::error_code& error) {
      (*watch).*pending = false;
      if (error || watch->removed || alive.expired()) return;
      ready(watch, curl_select);
    });
  };
  if ((watch->what & CURL_POLL_IN) != 0 && !watch->reading) {
    wait(descriptor_base::wait_read, &Watch::reading, CURL_CSELECT_IN);
  }
  if ((watch->what & CURL_POLL_OUT) != 0 && !watch->writing) {
    wait(descriptor_base::wait_write, &Watch::writing, CURL_CSELECT_OUT);
  }
}

void HttpFetcher::Impl::ready(const std::shared_ptr<Watch>& watch, int curl_select) {
  const int wanted = curl_select == CURL_CSELECT_IN ? CURL_POLL_IN : CURL_POLL_OUT;
  if ((watch->what & wanted) == 0) return;  // a wait left from before curl changed its mind
  act(watch->socket, curl_select);
  if (!watch->removed) arm(watch);
}

int HttpFetcher::Impl::on_timer(CURLM*, long milliseconds, void* self) {
  auto& impl = *static_cast<Impl*>(self);
  if (milliseconds < 0) {
    impl.timer_.cancel();
    return 0;
  }
  impl.timer_.expires_after(std::chrono::milliseconds(milliseconds));
  impl.timer_.async_wait([&impl, alive = std::weak_ptr<bool>(impl.alive_)](const std::error_code& error) {
    if (error || alive.expired()) return;
    impl.act(CURL_SOCKET_TIMEOUT, 0);
  });
  return 0;
}

void HttpFetcher::Impl::act(curl_socket_t socket, int curl_select) {
  int still_running = 0;
  in_curl_ = true;
  curl_multi_socket_action(multi_, socket, curl_select, &still_running);
  in_curl_ = false;
  collect_done();
}

// Fetches curl finished, handed to their handlers once curl has returned. All are taken off curl before any
// handler runs, so that one handler's cancel() of another finished fetch is seen.
void HttpFetcher::Impl::collect_done() {
  struct Done {
    std::shared_ptr<Transfer> transfer;
    FetchEnd end;
    std::optional<FetchHead> head;
  };
  std::vector<Done> done;
  int queued = 0;
  while (CURLMsg* message = curl_multi_info_read(multi_, &queued)) {
    if (message->msg != CURLMSG_DONE) continue;
    void* data = nullptr;
    curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &data);
    auto& transfer = *static_cast<Transfer*>(data);
    const CURLcode result = message->data.result;
    FetchEnd end;
    if (transfer.refused) {
      end.error = refused_by_handler;
    } else if (result == CURLE_OK) {
      end.ok = true;
    } else {
      end.error = transfer.error[0] != '\0' ? transfer.error : curl_easy_strerror(result);
    }
    std::optional<FetchHead> head;
    if (end.ok && !transfer.head_given) head = head_of(transfer);  // a response without a body
    done.push_back(Done{transfer.shared_from_this(), std::move(end), std::move(head)});
  }
  for (auto& each : done) detach(*each.transfer);
  for (auto& each : done) finish(each.transfer, std::move(each.end), std::move(each.head));
}

// The stall clock: one timer per fetch, re-armed lazily from the time of the last byte when it expires.

void HttpFetcher::Impl::arm_stall(const std::shared_ptr<Transfer>& transfer, Clock::time_point deadline) {
  transfer->stall_armed = true;
  transfer->stall.expires_at(deadline);
  transfer->stall.async_wait([this, alive = std::weak_ptr<bool>(alive_), weak = transfer->weak_from_this()](
                                 const std::error_code& error) {
    if (error || alive.expired()) return;
    if (auto found = weak.lock()) check_stall(found);
  });
}

void HttpFetcher::Impl::check_stall(const std::shared_ptr<Transfer>& transfer) {
  transfer->stall_armed = false;
  if (transfer->cancelled || !transfer->added) return;
  const auto deadline = transfer->last_byte + limits_.stall_timeout;
  if (Clock::now() < deadline) {
    arm_stall(transfer, deadline);
    return;
  }
  detach(*transfer);
  finish(transfer, FetchEnd{false, fmt::format("stalled: no byte for {} ms", limits_.stall_timeout.count())},
         std::nullopt);
}

int HttpFetcher::Impl::on_prereq(void* data, char*, char*, int, int) {
  auto& transfer = *static_cast<Transfer*>(data);
  if (transfer.cancelled) return CURL_PREREQFUNC_ABORT;
  // Connected (or a connection reused), TLS done, the request about to go: from here on, silence is a stall.
  transfer.last_byte = Clock::now();
  if (!transfer.stall_armed) {
    transfer.owner.arm_stall(transfer.shared_from_this(), transfer.last_byte + transfer.owner.limits_.stall_timeout);
  }
  return CURL_PREREQFUNC_OK;
}

// Headers of every response come here, those of the redirects curl follows too: a status line starts the
// headers of the next response, so the validators kept are those of the final one.
std::size_t HttpFetcher::Impl::on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto& transfer = *static_cast<Transfer*>(user);
  const std::size_t length = size * count;
  if (transfer.cancelled || transfer.refused) return 0;
  transfer.last_byte = Clock::now();
  if (length > max_header_line) return length;
  const std::string_view line(data, length);
  if (line.starts_with("HTTP/")) {
    transfer.etag.reset();
    transfer.last_modified.reset();
  } else if (const auto etag = header_value(line, "etag")) {
    keep_validator(transfer.etag, *etag);
  } else if (const auto modified = header_value(line, "last-modified")) {
    keep_validator(transfer.last_modified, *modified);
  }
  return length;
}

// Returning less than was given ends the transfer (CURLE_WRITE_ERROR): how a refusal or a cancel() from
// inside a handler stops curl without calling into it.
std::size_t HttpFetcher::Impl::on_write(char* data, std::size_t size, std::size_t count, void* user) {
  auto& transfer = *static_cast<Transfer*>(user);
  const std::size_t length = size * count;
  if (transfer.cancelled || transfer.refused) return 0;
  transfer.last_byte = Clock::now();
  if (!transfer.head_given) {
    transfer.head_given = true;
    if (!transfer.handler->on_head(head_of(transfer))) transfer.refused = true;
    if (transfer.cancelled || transfer.refused) return 0;
  }
  if (!transfer.handler->on_body({reinterpret_cast<const std::byte*>(data), length})) transfer.refused = true;
  if (transfer.cancelled || transfer.refused) return 0;
  return length;
}

HttpFetcher::HttpFetcher(asio::io_context& io, FetchLimits limits)
    : impl_(std::make_unique<Impl>(io, std::move(limits))) {}

HttpFetcher::~HttpFetcher() = default;

FetchId HttpFetcher::start(const FetchRequest& request, FetchHandler& handler) { return impl_->start(request, handler); }

void HttpFetcher::cancel(FetchId id) { impl_->cancel(id); }

std::size_t HttpFetcher::running() const { return impl_->running(); }

bool HttpFetcher::asynchronous_dns() {
  init_curl_once();
  const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
  return info != nullptr && (info->features & CURL_VERSION_ASYNCHDNS) != 0;
}

}  // namespace tftp::server
