// HttpFetcher on a real io_context against origins on loopback: nginx serving files (bodies byte for byte,
// lengths and validators, 404, a 304 revalidation with its own ETag, connections reused; https trusted
// through the CA file given, and refused without it), and
// fault_origin.py misbehaving on request (no length, a slow first byte, a stalled or cut body, redirects
// within and beyond the bound, a redirect loop, a redirect to file://). Then what handlers may do from their
// callbacks (cancel, start), fifty fetches at once on one loop, and a loop whose timers keep time while a
// fetch stalls. Every wait is bounded and on a condition; the clock is only read to bound how late.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <deque>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <fmt/format.h>

#include "support/files.hpp"
#include "support/http_origin.hpp"
#include "support/pattern.hpp"
#include "support/requirements.hpp"
#include "support/temp_dir.hpp"
#include "tftp/server/http_fetch.hpp"

namespace tftp::test {
namespace {

using namespace std::chrono_literals;
using server::FetchEnd;
using server::FetchHead;
using server::FetchId;
using server::FetchLimits;
using server::FetchRequest;
using server::HttpFetcher;
using Clock = std::chrono::steady_clock;

constexpr const char* fault_etag = "\"v1\"";
constexpr const char* fault_last_modified = "Wed, 21 Oct 2015 07:28:00 GMT";

// What a handler was given, and checks of the call order: on_head once and first, on_done once and last.
class Recorder : public server::FetchHandler {
 public:
  bool on_head(const FetchHead& given) override {
    EXPECT_EQ(heads, 0) << "on_head twice";
    EXPECT_FALSE(end) << "on_head after on_done";
    ++heads;
    head = given;
    return head_hook ? head_hook(given) : true;
  }
  bool on_body(std::span<const std::byte> bytes) override {
    EXPECT_EQ(heads, 1) << "on_body without on_head first";
    EXPECT_FALSE(end) << "on_body after on_done";
    ++bodies;
    body.insert(body.end(), bytes.begin(), bytes.end());
    return body_hook ? body_hook(bytes) : true;
  }
  void on_done(const FetchEnd& given) override {
    EXPECT_FALSE(end) << "on_done twice";
    ++dones;
    end = given;
    if (done_hook) done_hook(given);
  }

  bool finished() const { return dones > 0; }
  bool ok() const { return end && end->ok; }

  std::function<bool(const FetchHead&)> head_hook;
  std::function<bool(std::span<const std::byte>)> body_hook;
  std::function<void(const FetchEnd&)> done_hook;

  int heads = 0;
  int bodies = 0;
  int dones = 0;
  std::optional<FetchHead> head;
  Bytes body;
  std::optional<FetchEnd> end;
};

FetchRequest get(std::string url) { return FetchRequest{std::move(url), std::nullopt, std::nullopt}; }

class HttpFetch : public ::testing::Test {
 protected:
  // Runs the loop until `done` holds; false when `limit` passed first.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 30s) {
    const auto deadline = Clock::now() + limit;
    auto work = asio::make_work_guard(io_);
    io_.restart();
    while (!done()) {
      const auto now = Clock::now();
      if (now >= deadline) return false;
      io_.run_one_for(deadline - now);
    }
    return true;
  }

  Recorder& recorder() { return recorders_.emplace_back(); }

  // One fetch, run to its end.
  Recorder& fetch(HttpFetcher& fetcher, const FetchRequest& request) {
    Recorder& seen = recorder();
    fetcher.start(request, seen);
    EXPECT_TRUE(run_until([&] { return seen.finished(); })) << request.url << " did not end";
    return seen;
  }

  FetchLimits limits_;
  asio::io_context io_;
  std::deque<Recorder> recorders_;  // stable addresses
};

class HttpFetchNginx : public HttpFetch {
 protected:
  void SetUp() override {
    if (!NginxOrigin::available()) TFTP_SKIP_MISSING("nginx is not installed (Debian nginx-light)");
    origin_.emplace(root_.path());
  }

  // A file of the pattern (a seed of its own), and the ETag nginx gives it: "MTIME-SIZE" in hex.
  Bytes put(const std::string& name, std::size_t size, std::uint32_t seed) {
    const Bytes bytes = pattern(size, seed);
    write_file(root_ / name, bytes);
    return bytes;
  }
  std::string nginx_etag(const std::string& name) const {
    struct stat status {};
    EXPECT_EQ(::stat((root_ / name).c_str(), &status), 0);
    return fmt::format("\"{:x}-{:x}\"", status.st_mtime, status.st_size);
  }
  std::string url(const std::string& name) const { return origin_->url() + name; }

  TempDir root_;
  std::optional<NginxOrigin> origin_;
};

class HttpFetchFault : public HttpFetch {
 protected:
  void SetUp() override {
    if (!FaultOrigin::available()) TFTP_SKIP_MISSING("python3 is not on PATH");
    origin_.emplace();
  }
  std::string url(std::string_view behaviour, std::string_view name = "file.bin") const {
    return origin_->url(behaviour) + std::string(name);
  }

  std::optional<FaultOrigin> origin_;
};

TEST_F(HttpFetch, LibcurlResolvesNamesOffTheLoop) { EXPECT_TRUE(HttpFetcher::asynchronous_dns()); }

// --- nginx: what a real server sends ---

TEST_F(HttpFetchNginx, BodiesAreTheFilesItServesWithTheirLengthsAndValidators) {
  HttpFetcher fetcher(io_, limits_);
  const std::vector<std::size_t> sizes{0, 1, 511, 65'539, 1 << 20};
  for (const std::size_t size : sizes) {
    const std::string name = "f" + std::to_string(size);
    const Bytes file = put(name, size, static_cast<std::uint32_t>(size % 7 + 1));
    const Recorder& seen = fetch(fetcher, get(url(name)));
    ASSERT_TRUE(seen.ok()) << name << ": " << seen.end->error;
    ASSERT_TRUE(seen.head);
    EXPECT_EQ(seen.head->status, 200) << name;
    EXPECT_EQ(seen.head->content_length, size) << name;
    EXPECT_EQ(seen.head->etag, nginx_etag(name)) << name;
    EXPECT_TRUE(seen.head->last_modified) << name;
    EXPECT_EQ(seen.body, file) << name;
    EXPECT_EQ(seen.bodies == 0, size == 0) << name << ": an empty body is a head given at the end";
  }
  EXPECT_EQ(fetcher.running(), 0U);

  for (const std::size_t size : sizes) {
    EXPECT_EQ(origin_->wait_for_gets("/f" + std::to_string(size), 1), 1U);
  }
  const auto requests = origin_->requests();
  ASSERT_EQ(requests.size(), sizes.size());
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    EXPECT_EQ(requests[i].status, 200);
    EXPECT_EQ(requests[i].bytes, sizes[i]);
    EXPECT_EQ(requests[i].if_none_match, "-");
    EXPECT_EQ(requests[i].connection, requests[0].connection) << "one fetch after another reuses the connection";
  }
}

TEST_F(HttpFetchNginx, NotFoundReachesOnHeadAndTheHandlerEndsIt) {
  HttpFetcher fetcher(io_, limits_);
  Recorder& seen = recorder();
  seen.head_hook = [](const FetchHead& head) { return head.status == 200; };
  fetcher.start(get(url("missing")), seen);
  ASSERT_TRUE(run_until([&] { return seen.finished(); }));
  ASSERT_TRUE(seen.head);
  EXPECT_EQ(seen.head->status, 404);
  EXPECT_EQ(seen.bodies, 0);
  EXPECT_FALSE(seen.end->ok);
  EXPECT_EQ(seen.end->error, "ended by the handler");
  EXPECT_EQ(origin_->wait_for_gets("/missing", 1), 1U);
}

TEST_F(HttpFetchNginx, RevalidationWithItsOwnETagIsA304WithoutBody) {
  put("boot.img", 100'000, 3);
  HttpFetcher fetcher(io_, limits_);
  const Recorder& first = fetch(fetcher, get(url("boot.img")));
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(first.head->etag && first.head->last_modified);
  const std::string etag = *first.head->etag;

  const Recorder& again = fetch(fetcher, FetchRequest{url("boot.img"), etag, first.head->last_modified});
  ASSERT_TRUE(again.ok()) << again.end->error;
  EXPECT_EQ(again.heads, 1);
  EXPECT_EQ(again.head->status, 304);
  EXPECT_EQ(again.head->etag, etag);
  EXPECT_EQ(again.head->content_length, std::nullopt);
  EXPECT_EQ(again.bodies, 0);

  // A validator of an older version gets the whole file.
  const Recorder& stale = fetch(fetcher, FetchRequest{url("boot.img"), "\"0-0\"", std::nullopt});
  ASSERT_TRUE(stale.ok());
  EXPECT_EQ(stale.head->status, 200);
  EXPECT_EQ(stale.body, pattern(100'000, 3));

  ASSERT_EQ(origin_->wait_for_gets("/boot.img", 3), 3U);
  const auto requests = origin_->requests();
  EXPECT_EQ(requests[1].if_none_match, etag);
  EXPECT_EQ(requests[1].status, 304);
  EXPECT_EQ(requests[1].bytes, 0U);
  EXPECT_EQ(requests[2].if_none_match, "\"0-0\"");
  EXPECT_EQ(requests[2].status, 200);
}

TEST_F(HttpFetchNginx, AValidatorThatWouldWriteHeadersIsNeverSent) {
  put("a", 10, 1);
  HttpFetcher fetcher(io_, limits_);
  for (const std::string& bad : {std::string("\"v\"\r\nX-Injected: 1"), std::string("\"v\"\n"),
                                std::string("\"v\0\"", 4), std::string()}) {
    Recorder& seen = recorder();
    fetcher.start(FetchRequest{url("a"), bad, std::nullopt}, seen);
    EXPECT_EQ(seen.dones, 0) << "on_done from inside start()";
    EXPECT_EQ(fetcher.running(), 1U);
    ASSERT_TRUE(run_until([&] { return seen.finished(); }));
    EXPECT_FALSE(seen.end->ok);
    EXPECT_NE(seen.end->error.find("If-None-Match"), std::string::npos) << seen.end->error;
    EXPECT_EQ(seen.heads, 0);

    Recorder& modified = recorder();
    fetcher.start(FetchRequest{url("a"), std::nullopt, bad}, modified);
    ASSERT_TRUE(run_until([&] { return modified.finished(); }));
    EXPECT_FALSE(modified.end->ok);
  }
  // A good fetch after them is the only request nginx saw.
  ASSERT_TRUE(fetch(fetcher, get(url("a"))).ok());
  ASSERT_EQ(origin_->wait_for_gets("/a", 1), 1U);
  EXPECT_EQ(origin_->requests().size(), 1U);
}

TEST_F(HttpFetchNginx, FiftyFetchesAtOnceOnOneLoopAllArriveWhole) {
  constexpr std::size_t count = 50;
  std::vector<Bytes> files;
  for (std::size_t i = 0; i < count; ++i) files.push_back(put("f" + std::to_string(i), 7'919 * i + 1, static_cast<std::uint32_t>(i)));
  HttpFetcher fetcher(io_, limits_);
  std::vector<Recorder*> seen;
  for (std::size_t i = 0; i < count; ++i) {
    seen.push_back(&recorder());
    fetcher.start(get(url("f" + std::to_string(i))), *seen.back());
  }
  EXPECT_EQ(fetcher.running(), count);
  ASSERT_TRUE(run_until([&] { return fetcher.running() == 0; }, 60s)) << fetcher.running() << " still running";
  for (std::size_t i = 0; i < count; ++i) {
    ASSERT_TRUE(seen[i]->ok()) << i << ": " << seen[i]->end->error;
    EXPECT_EQ(seen[i]->head->content_length, files[i].size());
    EXPECT_EQ(seen[i]->body, files[i]) << i;
  }
  for (std::size_t i = 0; i < count; ++i) EXPECT_EQ(origin_->wait_for_gets("/f" + std::to_string(i), 1), 1U) << i;
}

// An https origin whose certificate only the CA file given (--origin-ca) vouches for.
class HttpFetchTls : public HttpFetch {
 protected:
  void SetUp() override {
    if (!NginxOrigin::available()) TFTP_SKIP_MISSING("nginx is not installed (Debian nginx-light)");
    tls_ = self_signed_tls(keys_.path());
    if (!tls_) TFTP_SKIP_MISSING("the openssl program is not installed");
    write_file(root_ / "boot.img", pattern(200'000));
    origin_.emplace(root_.path(), tls_);
  }

  TempDir keys_;
  TempDir root_;
  std::optional<OriginTls> tls_;
  std::optional<NginxOrigin> origin_;
};

TEST_F(HttpFetchTls, AnOriginSignedByTheGivenCAIsFetched) {
  limits_.ca_file = tls_->certificate.string();
  HttpFetcher fetcher(io_, limits_);
  const Recorder& seen = fetch(fetcher, get(origin_->url() + "boot.img"));
  ASSERT_TRUE(seen.ok()) << seen.end->error;
  EXPECT_EQ(seen.head->status, 200);
  EXPECT_EQ(seen.body, pattern(200'000));
}

TEST_F(HttpFetchTls, WithoutItsCATheOriginIsRefusedBeforeAnyRequest) {
  HttpFetcher fetcher(io_, limits_);  // the system's CAs
  const Recorder& seen = fetch(fetcher, get(origin_->url() + "boot.img"));
  EXPECT_FALSE(seen.end->ok);
  EXPECT_EQ(seen.heads, 0);
  EXPECT_NE(seen.end->error.find("certificate"), std::string::npos) << seen.end->error;
  EXPECT_EQ(origin_->gets("/boot.img"), 0U);
}

// --- fault_origin.py: what goes wrong ---

TEST_F(HttpFetchFault, ItsBodyIsTheTestPatternByteForByte) {
  HttpFetcher fetcher(io_, limits_);
  for (const std::size_t size : {std::size_t{13}, std::size_t{100'003}}) {
    const Recorder& seen = fetch(fetcher, get(url("ok/" + std::to_string(size))));
    ASSERT_TRUE(seen.ok()) << seen.end->error;
    EXPECT_EQ(seen.head->status, 200);
    EXPECT_EQ(seen.head->content_length, size);
    EXPECT_EQ(seen.head->etag, fault_etag);
    EXPECT_EQ(seen.head->last_modified, fault_last_modified);
    EXPECT_EQ(seen.body, pattern(size)) << "fault_origin.py's pattern differs from tests/support/pattern.hpp";
  }
  const Recorder& revalidated = fetch(fetcher, FetchRequest{url("ok/13"), fault_etag, std::nullopt});
  ASSERT_TRUE(revalidated.ok());
  EXPECT_EQ(revalidated.head->status, 304);
  EXPECT_EQ(revalidated.head->content_length, std::nullopt);
  EXPECT_EQ(revalidated.head->etag, fault_etag);
  EXPECT_EQ(revalidated.bodies, 0);
  EXPECT_EQ(origin_->requests().back().if_none_match, fault_etag);
}

TEST_F(HttpFetchFault, WithoutContentLengthTheLengthIsUnknownAndTheBodyWhole) {
  HttpFetcher fetcher(io_, limits_);
  const Recorder& seen = fetch(fetcher, get(url("no-length/70000")));
  ASSERT_TRUE(seen.ok()) << seen.end->error;
  EXPECT_EQ(seen.head->status, 200);
  EXPECT_EQ(seen.head->content_length, std::nullopt);
  EXPECT_EQ(seen.body, pattern(70'000));
}

TEST_F(HttpFetchFault, AFirstByteLaterThanTheStallTimeoutEndsTheFetch) {
  limits_.stall_timeout = 500ms;
  HttpFetcher fetcher(io_, limits_);
  const auto started = Clock::now();
  const Recorder& seen = fetch(fetcher, get(url("slow-first-byte/20000/100")));
  const auto took = Clock::now() - started;
  ASSERT_TRUE(seen.end);
  EXPECT_FALSE(seen.end->ok);
  EXPECT_EQ(seen.end->error, "stalled: no byte for 500 ms");
  EXPECT_EQ(seen.heads, 0);
  EXPECT_GE(took, 500ms);
  EXPECT_LT(took, 5s) << "the stall bound covers the wait for the status line";
}

TEST_F(HttpFetchFault, ABodyThatStopsEndsTheFetchWithWhatCame) {
  limits_.stall_timeout = 500ms;
  HttpFetcher fetcher(io_, limits_);
  const auto started = Clock::now();
  const Recorder& seen = fetch(fetcher, get(url("stall/10000/1000")));
  EXPECT_LT(Clock::now() - started, 5s);
  EXPECT_FALSE(seen.end->ok);
  EXPECT_EQ(seen.end->error, "stalled: no byte for 500 ms");
  EXPECT_EQ(seen.head->content_length, 10'000U);
  EXPECT_EQ(seen.body, pattern(1000));
}

TEST_F(HttpFetchFault, ABodyCutShortFails) {
  HttpFetcher fetcher(io_, limits_);
  const Recorder& seen = fetch(fetcher, get(url("cut/10000/3000")));
  EXPECT_FALSE(seen.end->ok);
  EXPECT_FALSE(seen.end->error.empty());
  EXPECT_EQ(seen.head->status, 200);
  EXPECT_EQ(seen.head->content_length, 10'000U);
  EXPECT_EQ(seen.body, pattern(3000));
}

TEST_F(HttpFetchFault, RedirectsWithinTheBoundAreFollowedAndOnlyTheFinalResponseCounts) {
  limits_.max_redirects = 5;
  HttpFetcher fetcher(io_, limits_);
  const Recorder& seen = fetch(fetcher, get(url("redirect/5")));
  ASSERT_TRUE(seen.ok()) << seen.end->error;
  EXPECT_EQ(seen.heads, 1);
  EXPECT_EQ(seen.head->status, 200);
  EXPECT_EQ(seen.head->etag, fault_etag);
  EXPECT_EQ(seen.body, pattern(1000)) << "no byte of a redirect's own body";
  for (int left = 5; left >= 1; --left) EXPECT_EQ(origin_->gets("/redirect/" + std::to_string(left) + "/file.bin"), 1U);
  EXPECT_EQ(origin_->gets("/ok/1000/file.bin"), 1U);
}

TEST_F(HttpFetchFault, ARedirectBeyondTheBoundFails) {
  limits_.max_redirects = 5;
  HttpFetcher fetcher(io_, limits_);
  const Recorder& seen = fetch(fetcher, get(url("redirect/6")));
  EXPECT_FALSE(seen.end->ok);
  EXPECT_EQ(seen.heads, 0);
  EXPECT_NE(seen.end->error.find("redirects"), std::string::npos) << seen.end->error;
  EXPECT_EQ(origin_->gets("/ok/1000/file.bin"), 0U);
}

TEST_F(HttpFetchFault, ARedirectLoopFailsAfterTheBound) {
  limits_.max_redirects = 5;
  HttpFetcher fetcher(io_, limits_);
  const Recorder& seen = fetch(fetcher, get(url("redirect-loop")));
  EXPECT_FALSE(seen.end->ok);
  EXPECT_EQ(seen.heads, 0);
  EXPECT_EQ(origin_->gets("/redirect-loop/file.bin"), 6U) << "the first request and five redirects";
}

TEST_F(HttpFetchFault, ARedirectToAFileURLFails) {
  HttpFetcher fetcher(io_, limits_);
  const Recorder& seen = fetch(fetcher, get(url("redirect-file")));
  EXPECT_FALSE(seen.end->ok);
  EXPECT_EQ(seen.heads, 0);
  EXPECT_EQ(seen.bodies, 0);
  EXPECT_NE(seen.end->error.find("file"), std::string::npos) << seen.end->error;
}

TEST_F(HttpFetchFault, AnErrorStatusIsAResponseForTheHandlerToJudge) {
  HttpFetcher fetcher(io_, limits_);
  const Recorder& unavailable = fetch(fetcher, get(url("status/503")));
  ASSERT_TRUE(unavailable.ok());
  EXPECT_EQ(unavailable.head->status, 503);
  EXPECT_EQ(text_of(unavailable.body), "status 503\n");
  const Recorder& empty = fetch(fetcher, get(url("status/204")));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty.heads, 1);
  EXPECT_EQ(empty.head->status, 204);
  EXPECT_EQ(empty.bodies, 0);
}

TEST_F(HttpFetchFault, AValidatorLongerThanOneKiBIsLeftOut) {
  HttpFetcher fetcher(io_, limits_);
  const Recorder& longest = fetch(fetcher, get(url("long-etag/1024")));
  ASSERT_TRUE(longest.ok());
  EXPECT_EQ(longest.head->etag, "\"" + std::string(1022, 'x') + "\"");
  for (const char* length : {"1025", "9000"}) {  // 9000: a header line beyond the 8 KiB read at all
    const Recorder& seen = fetch(fetcher, get(url(std::string("long-etag/") + length)));
    ASSERT_TRUE(seen.ok()) << length;
    EXPECT_EQ(seen.head->etag, std::nullopt) << length;
    EXPECT_EQ(seen.body, pattern(10)) << length;
  }
}

TEST_F(HttpFetch, AnOriginThatRefusesConnectionsFailsTheFetch) {
  HttpFetcher fetcher(io_, limits_);
  const auto closed = origin_detail::free_port();  // nothing listens there now
  const Recorder& seen = fetch(fetcher, get("http://127.0.0.1:" + std::to_string(closed) + "/file.bin"));
  EXPECT_FALSE(seen.end->ok);
  EXPECT_EQ(seen.heads, 0);
  EXPECT_FALSE(seen.end->error.empty());
}

// --- what handlers may do, and the loop ---

TEST_F(HttpFetchFault, CancelFromOnHeadOrOnBodyEndsEveryCallback) {
  HttpFetcher fetcher(io_, limits_);
  FetchId in_head = 0;
  Recorder& head_cancels = recorder();
  head_cancels.head_hook = [&](const FetchHead&) {
    fetcher.cancel(in_head);
    return true;
  };
  in_head = fetcher.start(get(url("ok/1048576", "a")), head_cancels);
  FetchId in_body = 0;
  Recorder& body_cancels = recorder();
  body_cancels.body_hook = [&](std::span<const std::byte>) {
    fetcher.cancel(in_body);
    return true;
  };
  in_body = fetcher.start(get(url("ok/1048576", "b")), body_cancels);
  ASSERT_TRUE(run_until([&] { return head_cancels.heads == 1 && body_cancels.bodies == 1; }));
  EXPECT_EQ(fetcher.running(), 0U);

  // A fetch started after them ends; by then nothing more reached the cancelled ones.
  ASSERT_TRUE(fetch(fetcher, get(url("ok/100000", "c"))).ok());
  EXPECT_EQ(head_cancels.bodies, 0);
  EXPECT_EQ(head_cancels.dones, 0);
  EXPECT_EQ(body_cancels.bodies, 1);
  EXPECT_EQ(body_cancels.dones, 0);
  fetcher.cancel(in_head);  // finished or unknown ids: no-ops
  fetcher.cancel(12345);
  EXPECT_EQ(fetcher.running(), 0U);
}

TEST_F(HttpFetchFault, AHandlerThatRefusesABodyGetsOnDoneOnce) {
  HttpFetcher fetcher(io_, limits_);
  Recorder& seen = recorder();
  seen.body_hook = [](std::span<const std::byte>) { return false; };
  fetcher.start(get(url("ok/1048576")), seen);
  ASSERT_TRUE(run_until([&] { return seen.finished(); }));
  EXPECT_EQ(seen.bodies, 1);
  EXPECT_FALSE(seen.end->ok);
  EXPECT_EQ(seen.end->error, "ended by the handler");
}

TEST_F(HttpFetchFault, CancelWhileStalledAndDestroyingTheFetcherCallNothing) {
  std::optional<HttpFetcher> fetcher(std::in_place, io_, limits_);
  Recorder& cancelled = recorder();
  Recorder& abandoned = recorder();
  const FetchId id = fetcher->start(get(url("stall/10000/1000", "a")), cancelled);
  fetcher->start(get(url("slow-body/100000/1000/50", "b")), abandoned);
  ASSERT_TRUE(run_until([&] { return cancelled.body.size() == 1000 && abandoned.bodies > 0; }));
  fetcher->cancel(id);
  EXPECT_EQ(fetcher->running(), 1U);
  fetcher.reset();

  HttpFetcher another(io_, limits_);
  ASSERT_TRUE(fetch(another, get(url("ok/10", "c"))).ok());
  EXPECT_EQ(cancelled.dones, 0);
  EXPECT_EQ(abandoned.dones, 0);
  EXPECT_LT(abandoned.body.size(), 100'000U);
}

TEST_F(HttpFetchFault, HandlersStartFetchesFromOnHeadAndOnDone) {
  HttpFetcher fetcher(io_, limits_);
  Recorder& first = recorder();
  Recorder& from_head = recorder();
  Recorder& from_done = recorder();
  first.head_hook = [&](const FetchHead&) {
    fetcher.start(get(url("ok/5000", "from-head")), from_head);
    return true;
  };
  first.done_hook = [&](const FetchEnd&) { fetcher.start(get(url("ok/7000", "from-done")), from_done); };
  fetcher.start(get(url("ok/300000", "first")), first);
  ASSERT_TRUE(run_until([&] { return first.finished() && from_head.finished() && from_done.finished(); }));
  EXPECT_EQ(first.body, pattern(300'000));
  EXPECT_EQ(from_head.body, pattern(5000));
  EXPECT_EQ(from_done.body, pattern(7000));
  EXPECT_EQ(fetcher.running(), 0U);
}

TEST_F(HttpFetchFault, TheLoopKeepsItsTimersWhileAFetchStalls) {
  HttpFetcher fetcher(io_, limits_);  // stall_timeout 10 s: the fetch outlives the test's timers
  Recorder& stalled = recorder();
  const FetchId id = fetcher.start(get(url("stall/100000/1000")), stalled);
  ASSERT_TRUE(run_until([&] { return stalled.body.size() == 1000; }));

  asio::steady_timer timer(io_);
  std::optional<Clock::duration> late;
  const auto due = Clock::now() + 300ms;
  timer.expires_at(due);
  timer.async_wait([&](const std::error_code&) { late = Clock::now() - due; });
  ASSERT_TRUE(run_until([&] { return late.has_value(); }));
  // A loop blocked by the fetch would see the timer only at the end of the stall, 10 s on.
  EXPECT_LT(*late, 2s);
  EXPECT_EQ(fetcher.running(), 1U);
  EXPECT_EQ(stalled.dones, 0);
  fetcher.cancel(id);
}

}  // namespace
}  // namespace tftp::test
