#pragma once
// Names served from an HTTP origin (--origin URL) through a cache on local disk, as the endpoint's
// ContentProvider in front of the served directory.
//
// A read request goes through the directory's name steps and confinement rules first (the same refusals:
// "..", control characters, absolute names). A name ROOT has is served from ROOT; one it lacks (every name
// with --origin-only) comes from the cache, or from the origin:
// - One fetch per name, however many clients: the first request starts it and waits (OpenLater) for the
//   response headers, which decide between a transfer (200, its Content-Length announced as tsize when
//   asked) and a refusal (404/410: ERROR 1, 401/403: ERROR 2, anything else after every --origin URL was
//   tried, or no answer in --origin-timeout: ERROR 0 "origin unavailable"). Later requests join the fetch.
// - Streaming: the body goes into a temporary file in the cache directory and DATA leaves as soon as its
//   block is there (BlockPending until then, then the endpoint is told). A fetch that breaks mid-file ends
//   the transfers reading it with ERROR 0 "origin unavailable" and leaves nothing in the cache.
// - A complete fetch is renamed into place with its metadata (ETag, Last-Modified, size) beside it, so the
//   cache survives restarts; a file never appears complete before it is. After --cache-ttl a cached file is
//   revalidated with If-None-Match / If-Modified-Since before it is served again (304: served from the
//   cache; 200: fetched anew; no usable answer from any origin: the cached copy is served, stale-if-error,
//   as nginx's proxy_cache_use_stale does). Complete files above --cache-size are evicted, least recently used first;
//   a transfer reading an evicted file keeps its open descriptor.
// - netascii is served once the file is complete (the encoding needs the whole file to be re-readable);
//   its tsize is left out.
// Uploads are the directory's: an origin is read-only.

#include <asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tftp/server/config.hpp"
#include "tftp/server/directory_content.hpp"
#include "tftp/server/http_fetch.hpp"
#include "tftp/server/log.hpp"
#include "tftp/server_endpoint.hpp"

namespace tftp::server {

// What the cache did, for /metrics.
struct OriginCounters {
  std::uint64_t hits = 0;            // served from a complete cached file, fresh or revalidated (304)
  std::uint64_t joined = 0;          // a request that joined a fetch already running
  std::uint64_t fetches = 0;         // GET requests sent to an origin (conditional ones included)
  std::uint64_t revalidations = 0;   // of which conditional
  std::uint64_t fetch_failures = 0;  // fetches that ended without a usable answer (refusals excluded)
  std::uint64_t bytes_fetched = 0;
  std::uint64_t evictions = 0;
  std::uint64_t cached_bytes = 0;    // complete files in the cache now
  std::uint64_t cached_files = 0;
};

class OriginContent final : public ContentProvider {
 public:
  // How late answers reach the endpoint (the server driver's read_opened and content_ready).
  struct Inputs {
    std::function<void(SessionId, ReadOpening)> opened;
    std::function<void(SessionId)> ready;
  };

  // Opens (creates) the cache directory and adopts what an earlier run left complete; throws
  // std::system_error when it cannot be used.
  OriginContent(asio::io_context& io, const ServerConfig& config, DirectoryContent& local, ServerLog& log);
  ~OriginContent() override;
  OriginContent(const OriginContent&) = delete;
  OriginContent& operator=(const OriginContent&) = delete;

  // Set once the driver exists (it needs the provider first). Called from the io_context's thread only.
  void connect(Inputs inputs);
  // Fetches end at once: their readers get ERROR 0, half-fetched files are removed.
  void stop();

  ReadOpening open_read(const ContentRequest& request) override;
  Result<WriteContent, Refusal> open_write(const ContentRequest& request) override { return local_.open_write(request); }

  const OriginCounters& counters() const noexcept { return counters_; }

  struct Entry;
  struct Fetch;

 private:
  ReadOpening serve_cached(Entry& entry, const ContentRequest& request);
  ReadOpening join(const std::shared_ptr<Fetch>& fetch, const ContentRequest& request);
  void start_fetch(const std::string& name, std::size_t origin, Entry* revalidate);
  void fetch_headed(Fetch& fetch);
  void fetch_ended(Fetch& fetch, bool ok, const std::string& error);
  void answer_waiting(Fetch& fetch, const std::function<ReadOpening(const ContentRequest&)>& answer);
  void wake_readers(Fetch& fetch);
  void commit(Fetch& fetch);
  void store_validation(const Entry& entry, FetchId id);
  void remove_entry(const std::string& name);
  void evict_over_size();
  void load_existing();
  std::string url_for(std::size_t origin, const std::string& name) const;

  asio::io_context& io_;
  ServerConfig config_;
  DirectoryContent& local_;
  ServerLog& log_;
  Inputs inputs_;
  int cache_dir_ = -1;
  std::map<std::string, std::unique_ptr<Entry>> entries_;    // complete files, by name
  std::map<std::string, std::shared_ptr<Fetch>> fetches_;    // running fetches, by name
  std::uint64_t use_clock_ = 0;                              // LRU order
  OriginCounters counters_;
  bool stopped_ = false;
  std::unique_ptr<HttpFetcher> fetcher_;  // last: destroyed first, so no fetch calls back into a dead map
};

// "http://host/dir/" + name, each byte outside RFC 3986's unreserved set and '/' percent-encoded.
std::string origin_url(const std::string& base, const std::string& name);

}  // namespace tftp::server
