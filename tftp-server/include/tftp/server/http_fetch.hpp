#pragma once
// GET requests to an HTTP origin (--origin URL) on the server's event loop: libcurl's multi interface driven
// by Asio (its sockets watched with async_wait, its one timeout on a steady_timer), so a fetch never blocks a
// transfer and no thread is added. Debian's libcurl resolves names on a thread of its own
// (asynchronous_dns()); origins are usually IP literals anyway.
//
// Call order, per fetch: start() returns at once and calls nothing; then on_head once with the final response
// (after the redirects curl followed), on_body for each piece of its body, and on_done exactly once, last.
// on_head comes lazily, with the first byte of the body, or at the end when the final response had none (a
// 304, an empty 200); a fetch that fails before any byte of the body gets on_done only. A callback that
// returns false ends the fetch: on_done follows with ok = false. cancel() ends a fetch with no callback at all.
// Handlers may call start() and cancel() from their callbacks (curl is never re-entered: what they ask for is
// done after curl's callback returned); destroying the fetcher from inside one is not allowed, and neither
// is throwing (most callbacks run inside libcurl, which is C). Every call is made on the io_context's thread.
//
// A fetch ends with ok = false when no byte of the response came for stall_timeout once the request could be
// sent (the wait for the status line, or a body that stops), after max_redirects redirects, on a redirect to
// anything but http or https, or on any error curl reports. The body arrives as stored (no Accept-Encoding);
// an HTTP error status is not a failure here: the handler sees it in on_head and decides.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include <asio/io_context.hpp>

namespace tftp::server {

struct FetchLimits {
  std::chrono::milliseconds connect_timeout{5000};  // TCP and TLS
  // No byte of the response for this long ends the fetch: the wait for the status line once connected, and a
  // body that stops. Measured with a timer of our own, to the millisecond (CURLOPT_LOW_SPEED_TIME counts
  // whole seconds).
  std::chrono::milliseconds stall_timeout{10000};
  long max_redirects = 5;  // followed within this bound; more: the fetch fails
  std::string ca_file;     // --origin-ca: the only CAs trusted for https origins; empty: the system's
  std::string user_agent = "tftp-server";
};

struct FetchRequest {
  std::string url;
  // Validators from an earlier response, sent back as received. A value with CR, LF or NUL, or an empty one,
  // fails the fetch (on_done) instead of being sent.
  std::optional<std::string> if_none_match;
  std::optional<std::string> if_modified_since;
};

// The final response (after redirects), before any of its body. Header values longer than
// max_validator_size are left out, as if absent.
struct FetchHead {
  long status = 0;
  // nullopt: chunked, delimited by the connection's close, or a 304 (whose body is the one stored already)
  std::optional<std::uint64_t> content_length;
  std::optional<std::string> etag;
  std::optional<std::string> last_modified;
};

inline constexpr std::size_t max_validator_size = 1024;

struct FetchEnd {
  bool ok = false;    // the whole body arrived and no handler callback refused
  std::string error;  // otherwise why, for the log
};

class FetchHandler {
 public:
  virtual ~FetchHandler() = default;
  virtual bool on_head(const FetchHead& head) = 0;             // false: abort (on_done follows)
  virtual bool on_body(std::span<const std::byte> bytes) = 0;  // false: abort (on_done follows)
  virtual void on_done(const FetchEnd& end) = 0;               // exactly once, last
};

using FetchId = std::uint64_t;

class HttpFetcher {
 public:
  HttpFetcher(asio::io_context& io, FetchLimits limits);
  ~HttpFetcher();  // cancels every fetch still running, without callbacks
  HttpFetcher(const HttpFetcher&) = delete;
  HttpFetcher& operator=(const HttpFetcher&) = delete;

  // `handler` must outlive the fetch (its on_done, or its cancel()).
  FetchId start(const FetchRequest& request, FetchHandler& handler);
  // No callback for `id` after this; a no-op for an unknown or finished id.
  void cancel(FetchId id);
  // Fetches started whose on_done has not been called (nor cancelled).
  std::size_t running() const;

  // Whether this libcurl resolves host names without blocking the loop (AsynchDNS: Debian's does).
  static bool asynchronous_dns();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tftp::server
