// tftp-server --origin on real sockets: the in-process server in front of a real nginx and of
// fault_origin.py, real TFTP clients (RawPeer downloads, and tftp-hpa once). What is asserted is what a
// client and an operator see: the bytes, the OACK, the ERROR code and message, the requests in the origin's
// log, and the files in --cache-dir.
//
// "No request reached the origin" is shown with a marker: a later name that has to be fetched. Its line in
// the origin's log is written after any request the server made before it, so once the marker is there a
// count of the earlier name is final.
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <latch>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "server_harness.hpp"
#include "support/child_process.hpp"
#include "support/files.hpp"
#include "support/http_origin.hpp"
#include "support/requirements.hpp"
#include "support/temp_dir.hpp"

namespace tftp::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t mib = 1024 * 1024;

// The value of an option in the OACK, "<none>" when absent (or when there was no OACK).
std::string oack_value(const Download& got, std::string_view name) {
  const auto* option = got.oack ? find_option(got.oack->options, name) : nullptr;
  return option != nullptr ? option->value : "<none>";
}

// A download that must succeed, with what went wrong in the failure message otherwise.
::testing::AssertionResult served(const Download& got, const Bytes& expected) {
  if (!got.failure.empty()) return ::testing::AssertionFailure() << "client: " << got.failure;
  if (got.error) {
    return ::testing::AssertionFailure() << "ERROR " << static_cast<int>(got.error->code) << " " << got.error->message;
  }
  if (got.bytes != expected) {
    return ::testing::AssertionFailure() << got.bytes.size() << " bytes, not the " << expected.size() << " expected";
  }
  return ::testing::AssertionSuccess();
}

// A download that must end with exactly this ERROR.
::testing::AssertionResult refused_with(const Download& got, ErrorCode code, std::string_view message) {
  if (!got.failure.empty()) return ::testing::AssertionFailure() << "client: " << got.failure;
  if (!got.error) return ::testing::AssertionFailure() << "served " << got.bytes.size() << " bytes";
  if (got.error->code != code || got.error->message != message) {
    return ::testing::AssertionFailure() << "ERROR " << static_cast<int>(got.error->code) << " \"" << got.error->message
                                         << "\"";
  }
  return ::testing::AssertionSuccess();
}

// nginx serving a directory of the test's, the fault origin when a test asks for it, and a cache directory;
// a server is made with config() and ServerHarness.
class OriginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!NginxOrigin::available()) TFTP_SKIP_MISSING("nginx is not installed (Debian nginx-light)");
    if (!FaultOrigin::available()) TFTP_SKIP_MISSING("python3 is not on PATH");
    std::filesystem::create_directory(work_ / "origin");
    nginx_.emplace(work_ / "origin");
  }

  server::ServerConfig config(std::vector<std::string> origins, const std::string& cache_name = "cache") const {
    auto settings = test_config();
    settings.origins = std::move(origins);
    settings.cache_dir = cache(cache_name).string();
    return settings;
  }
  std::filesystem::path cache(const std::string& name = "cache") const { return work_ / name; }

  // Started by the first test that asks for it.
  FaultOrigin& fault() {
    if (!fault_) fault_.emplace();
    return *fault_;
  }

  // A file on nginx, of the pattern with a seed of its own.
  Bytes put(const std::string& name, std::size_t size, std::uint32_t seed) const {
    Bytes bytes = pattern(size, seed);
    write_file(nginx_->root() / name, bytes);
    return bytes;
  }
  // The ETag nginx gives a file: "MTIME-SIZE" in hex.
  std::string nginx_etag(const std::string& name) const {
    struct stat status {};
    EXPECT_EQ(::stat((nginx_->root() / name).c_str(), &status), 0);
    return fmt::format("\"{:x}-{:x}\"", status.st_mtime, status.st_size);
  }

  // Fetches a marker name through `server` from nginx: once its GET is logged, every earlier one is.
  void fetch_marker(const ServerHarness& server) {
    const std::string name = "marker-" + std::to_string(markers_++);
    const Bytes content = put(name, 100, 99);
    RawPeer peer;
    ASSERT_TRUE(served(download(peer, server.port(), name), content)) << name;
    ASSERT_EQ(nginx_->wait_for_gets("/" + name, 1), 1U) << name;
  }

  // The names whose complete files the cache holds, from their metadata.
  std::set<std::string> cached_names(const std::string& dir = "cache") const {
    std::set<std::string> names;
    for (const auto& file : list_dir(cache(dir))) {
      if (file.size() > 5 && file.ends_with(".meta")) {
        names.insert(nlohmann::json::parse(read_text(cache(dir) / file)).at("name").get<std::string>());
      }
    }
    return names;
  }

  TempDir work_;
  std::optional<NginxOrigin> nginx_;
  std::optional<FaultOrigin> fault_;
  int markers_ = 0;
};

// ---- Serving ---------------------------------------------------------------------------------------------

class OriginServe : public OriginTest {};

// Each size twice: once while it is fetched (read as the body arrives), once from the cache; with blksize
// 1428, windowsize 8 and tsize first for half of them, plain lock-step 512 first for the other half.
TEST_F(OriginServe, NamesRootLacksComeFromTheOriginByteExact) {
  ServerHarness server(config({nginx_->url()}));
  server.start();
  const std::vector<std::size_t> sizes{0, 1, 511, 512, 513, mib};
  const OptionList options{{"blksize", "1428"}, {"windowsize", "8"}, {"tsize", "0"}};
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const std::size_t size = sizes[i];
    const std::string name = "f" + std::to_string(size);
    const Bytes content = put(name, size, static_cast<std::uint32_t>(i + 1));
    for (const bool with_options : {i % 2 == 0, i % 2 != 0}) {
      RawPeer peer;
      const auto got = download(peer, server.port(), name, with_options ? options : OptionList{});
      ASSERT_TRUE(served(got, content)) << name << (with_options ? " with options" : " plain");
      if (with_options) {
        EXPECT_EQ(oack_value(got, "tsize"), std::to_string(size)) << name;
        EXPECT_EQ(oack_value(got, "blksize"), "1428") << name;
        EXPECT_EQ(oack_value(got, "windowsize"), "8") << name;
        EXPECT_EQ(got.blocks, size / 1428 + 1) << name;
      } else {
        EXPECT_FALSE(got.oack) << name;
        EXPECT_EQ(got.blocks, size / 512 + 1) << name;
      }
    }
  }
  fetch_marker(server);
  for (const std::size_t size : sizes) EXPECT_EQ(nginx_->gets("/f" + std::to_string(size)), 1U) << size;
  EXPECT_EQ(nginx_->requests().size(), sizes.size() + 1);
  EXPECT_EQ(cached_names(), (std::set<std::string>{"f0", "f1", "f511", "f512", "f513", "f1048576", "marker-0"}));
}

TEST_F(OriginServe, ANameInRootIsServedFromRootUnlessOriginOnly) {
  const Bytes on_origin = put("both", 4000, 2);
  const Bytes in_root = pattern(3000, 1);
  {
    ServerHarness server(config({nginx_->url()}, "cache-a"));
    write_file(server.root() / "both", in_root);
    write_file(server.root() / "dir" / "inside", in_root);
    server.start();
    RawPeer peer;
    ASSERT_TRUE(served(download(peer, server.port(), "both"), in_root));
    ASSERT_TRUE(served(download(peer, server.port(), "dir/inside"), in_root));
    fetch_marker(server);
    EXPECT_EQ(nginx_->requests().size(), 1U) << "only the marker reached nginx";
  }
  auto only = config({nginx_->url()}, "cache-b");
  only.origin_only = true;
  ServerHarness server(only);
  write_file(server.root() / "both", in_root);
  server.start();
  RawPeer peer;
  const auto got = download(peer, server.port(), "both", {{"tsize", "0"}});
  ASSERT_TRUE(served(got, on_origin));
  EXPECT_EQ(oack_value(got, "tsize"), "4000");
  EXPECT_EQ(nginx_->wait_for_gets("/both", 1), 1U);
}

// netascii needs the whole file: once it is there, the wire form is the one ROOT's copy gets.
TEST_F(OriginServe, NetasciiIsTheWireFormRootWouldSend) {
  const std::string text = "line one\nline two\r\nbare\rcr\n\n" + std::string(2000, 'x') + "\nend";
  write_file(nginx_->root() / "text.txt", text);
  ServerHarness local(test_config());
  write_file(local.root() / "text.txt", text);
  local.start();
  RawPeer peer;
  const auto expected = download(peer, local.port(), "text.txt", {}, Mode::netascii);
  ASSERT_TRUE(served(expected, expected.bytes));
  ASSERT_GT(expected.bytes.size(), text.size());

  ServerHarness server(config({nginx_->url()}));
  server.start();
  for (int i = 0; i < 2; ++i) {  // while fetched, then from the cache
    RawPeer client;
    ASSERT_TRUE(served(download(client, server.port(), "text.txt", {}, Mode::netascii), expected.bytes)) << i;
  }
  EXPECT_EQ(nginx_->wait_for_gets("/text.txt", 1), 1U);
}

// Bytes outside RFC 3986's unreserved set are percent-encoded: nginx finds the file with that very name,
// and a '?' or '#' does not cut the name short.
TEST_F(OriginServe, NamesAreSentToTheOriginPercentEncoded) {
  const std::string name = "sub/\xc3\xbc+?#%;=x.bin";  // no space: the access log splits on spaces
  const Bytes content = put(name, 777, 14);
  ServerHarness server(config({nginx_->url()}));
  server.start();
  RawPeer peer;
  ASSERT_TRUE(served(download(peer, server.port(), name), content));
  EXPECT_EQ(nginx_->wait_for_gets("/" + name, 1), 1U);
  EXPECT_EQ(cached_names(), std::set<std::string>{name});
}

TEST_F(OriginServe, AnHttpsOriginIsTrustedThroughOriginCaOnly) {
  const auto tls = self_signed_tls(work_.path());
  if (!tls) TFTP_SKIP_MISSING("openssl is not installed");
  NginxOrigin https(nginx_->root(), *tls);
  const Bytes content = put("tls.bin", 100'000, 16);
  auto trusting = config({https.url()}, "cache-a");
  trusting.origin_ca = tls->certificate.string();
  ServerHarness server(trusting);
  server.start();
  RawPeer peer;
  ASSERT_TRUE(served(download(peer, server.port(), "tls.bin"), content));
  EXPECT_EQ(https.wait_for_gets("/tls.bin", 1), 1U);

  ServerHarness untrusting(config({https.url()}, "cache-b"));  // the system's CAs do not know it
  untrusting.start();
  EXPECT_TRUE(refused_with(download(peer, untrusting.port(), "tls.bin"), ErrorCode::not_defined, "origin unavailable"));
  EXPECT_EQ(list_dir(cache("cache-b")), std::vector<std::string>{});
}

TEST_F(OriginServe, TftpHpaGetsAFileFromTheOrigin) {
  if (::access("/usr/bin/tftp", X_OK) != 0) {
    TFTP_SKIP_MISSING("/usr/bin/tftp (Debian package tftp-hpa) is not installed");
  }
  const Bytes content = put("hpa.bin", 70'000, 5);
  auto settings = config({nginx_->url()});
  settings.verbosity = server::Verbosity::normal;
  ServerHarness server(settings);
  server.start();
  ChildProcess client(Spawn{.argv = {"/usr/bin/tftp", "127.0.0.1", std::to_string(server.port()), "-m", "binary", "-c",
                                     "get", "hpa.bin", "local.bin"},
                            .directory = work_.path()});
  ASSERT_EQ(client.wait(60s), 0);
  EXPECT_EQ(read_file(work_ / "local.bin"), content);
  EXPECT_EQ(nginx_->wait_for_gets("/hpa.bin", 1), 1U);
}

// ---- One fetch per name, and revalidation ------------------------------------------------------------

class OriginFetch : public OriginTest {};

TEST_F(OriginFetch, FiftyClientsAtOnceMakeOneGetAndLaterOnesAreServedFromTheCache) {
  constexpr std::size_t clients = 50;
  const Bytes content = put("big", 4 * mib, 3);
  auto settings = config({nginx_->url()});
  settings.max_sessions_per_client = clients;  // all from 127.0.0.1
  settings.verbosity = server::Verbosity::normal;
  ServerHarness server(settings);
  server.start();

  struct Outcome {
    std::string what;  // empty: the exact bytes, with tsize
  };
  std::vector<Outcome> outcomes(clients);
  std::latch ready(static_cast<std::ptrdiff_t>(clients));
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      RawPeer peer;
      ready.arrive_and_wait();  // the requests leave together
      const auto got = download(peer, server.port(), "big", {{"blksize", "8192"}, {"windowsize", "8"}, {"tsize", "0"}},
                                Mode::octet, Repeats::counted);
      const auto result = served(got, content);
      if (!result) {
        outcomes[i].what = result.message();
      } else if (oack_value(got, "tsize") != std::to_string(4 * mib)) {
        outcomes[i].what = "tsize " + oack_value(got, "tsize");
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (std::size_t i = 0; i < clients; ++i) EXPECT_EQ(outcomes[i].what, "") << "client " << i;
  EXPECT_EQ(nginx_->wait_for_gets("/big", 1), 1U);

  RawPeer later;
  ASSERT_TRUE(served(download(later, server.port(), "big", {{"blksize", "1428"}, {"windowsize", "16"}}), content));
  fetch_marker(server);
  EXPECT_EQ(nginx_->gets("/big"), 1U);
}

// --cache-ttl 0: every request revalidates. nginx answers 304 to its own ETag; a file changed on the origin
// is fetched anew; one removed there is removed here.
TEST_F(OriginFetch, AfterTheTtlAConditionalGetIsAnswered304AndTheCacheServes) {
  const Bytes first = put("rev", 100'000, 4);
  const std::string etag = nginx_etag("rev");
  auto settings = config({nginx_->url()});
  settings.cache_ttl = 0s;
  ServerHarness server(settings);
  server.start();
  RawPeer peer;
  ASSERT_TRUE(served(download(peer, server.port(), "rev"), first));
  ASSERT_EQ(nginx_->wait_for_gets("/rev", 1), 1U);
  const auto got = download(peer, server.port(), "rev", {{"tsize", "0"}});
  ASSERT_TRUE(served(got, first));
  EXPECT_EQ(oack_value(got, "tsize"), "100000");
  ASSERT_EQ(nginx_->wait_for_gets("/rev", 2), 2U);
  auto requests = nginx_->requests();
  ASSERT_EQ(requests.size(), 2U);
  EXPECT_EQ(requests[0].if_none_match, "-");
  EXPECT_EQ(requests[0].status, 200);
  EXPECT_EQ(requests[1].if_none_match, etag);
  EXPECT_EQ(requests[1].status, 304);
  EXPECT_EQ(requests[1].bytes, 0U);
  EXPECT_EQ(cached_names(), std::set<std::string>{"rev"});

  const Bytes changed = put("rev", 100'001, 6);  // another size: another ETag, even within the same second
  ASSERT_TRUE(served(download(peer, server.port(), "rev"), changed));
  ASSERT_EQ(nginx_->wait_for_gets("/rev", 3), 3U);
  requests = nginx_->requests();
  EXPECT_EQ(requests[2].if_none_match, etag);
  EXPECT_EQ(requests[2].status, 200);
  ASSERT_TRUE(served(download(peer, server.port(), "rev"), changed));  // revalidated against the new ETag
  ASSERT_EQ(nginx_->wait_for_gets("/rev", 4), 4U);
  requests = nginx_->requests();
  EXPECT_EQ(requests[3].if_none_match, nginx_etag("rev"));
  EXPECT_EQ(requests[3].status, 304);

  // Gone from the origin: ERROR 1, and gone from the cache.
  std::filesystem::remove(nginx_->root() / "rev");
  EXPECT_TRUE(refused_with(download(peer, server.port(), "rev"), ErrorCode::file_not_found, "file not found"));
  EXPECT_EQ(cached_names(), std::set<std::string>{});
  EXPECT_EQ(list_dir(cache()), std::vector<std::string>{});
}

// A revalidation with no usable answer (a 5xx, an origin that is down) serves the cached copy
// (stale-if-error); a name that is not cached still gets ERROR 0.
TEST_F(OriginFetch, WhenTheOriginCannotRevalidateTheCachedCopyIsServed) {
  const Bytes content = put("stale.bin", 20'000, 18);
  const std::string etag = nginx_etag("stale.bin");
  {
    ServerHarness server(config({nginx_->url()}));
    server.start();
    RawPeer peer;
    ASSERT_TRUE(served(download(peer, server.port(), "stale.bin"), content));
  }
  auto failing = config({fault().url("status/500")});
  failing.cache_ttl = 0s;
  {
    ServerHarness server(failing);
    server.start();
    RawPeer peer;
    ASSERT_TRUE(served(download(peer, server.port(), "stale.bin", {{"tsize", "0"}}), content));
    const auto requests = fault().requests();
    ASSERT_EQ(requests.size(), 1U);
    EXPECT_EQ(requests[0].path, "/status/500/stale.bin");
    EXPECT_EQ(requests[0].if_none_match, etag);
    EXPECT_TRUE(refused_with(download(peer, server.port(), "other.bin"), ErrorCode::not_defined, "origin unavailable"));
  }
  auto down = config({nginx_->url()});
  down.cache_ttl = 0s;
  nginx_.reset();
  ServerHarness server(down);
  server.start();
  RawPeer peer;
  ASSERT_TRUE(served(download(peer, server.port(), "stale.bin"), content));
  EXPECT_TRUE(server.wait_for_log({"origin", "file=stale.bin"}));
  EXPECT_EQ(cached_names(), std::set<std::string>{"stale.bin"});
}

// ---- Streaming -------------------------------------------------------------------------------------------

class OriginStream : public OriginTest {};

// 16 chunks of 1 KiB, 100 ms apart: the body takes at least 1.5 s. DATA 1 arrives while the body is still a
// .part file in the cache (a file becomes KEY.data only once complete).
TEST_F(OriginStream, DataLeavesBeforeTheOriginFinished) {
  constexpr std::size_t size = 16 * 1024;
  ServerHarness server(config({fault().url("slow-body/16384/1024/100")}));
  server.start();
  RawPeer peer;
  const auto asked = Clock::now();
  peer.send(server.port(), Rrq{"stream.bin", Mode::octet, {{"tsize", "0"}}});
  const auto oack = peer.receive();
  ASSERT_TRUE(oack);
  ASSERT_EQ(std::get<Oack>(oack->packet()).options, (OptionList{{"tsize", "16384"}}));
  peer.send(oack->port, Ack{0});
  auto datagram = peer.receive();
  ASSERT_TRUE(datagram);
  // Streaming, shown by the cache, not by a clock: DATA 1 is here while the body is still a .part file.
  const auto files = list_dir(cache());
  EXPECT_EQ(std::count_if(files.begin(), files.end(), [](const auto& f) { return f.starts_with(".part-"); }), 1)
      << testing::PrintToString(files);
  EXPECT_EQ(std::count_if(files.begin(), files.end(), [](const auto& f) { return f.ends_with(".data"); }), 0)
      << testing::PrintToString(files);

  Bytes received;
  for (std::uint16_t block = 1;; ++block) {
    ASSERT_TRUE(datagram) << "block " << block;
    ASSERT_EQ(datagram->port, oack->port);
    const auto data = std::get<Data>(datagram->packet());
    ASSERT_EQ(data.block, block);
    received.insert(received.end(), data.payload.begin(), data.payload.end());
    peer.send(oack->port, Ack{block});
    if (data.payload.size() < 512) break;
    datagram = peer.receive();
  }
  EXPECT_EQ(received, pattern(size));
  EXPECT_GE(Clock::now() - asked, 1500ms) << "the last block waited for the body's end";
  EXPECT_EQ(fault().gets("/slow-body/16384/1024/100/stream.bin"), 1U);
  EXPECT_EQ(cached_names(), std::set<std::string>{"stream.bin"});
}

TEST_F(OriginStream, WithoutContentLengthTheOackHasNoTsizeUntilCached) {
  ServerHarness server(config({fault().url("no-length/70000")}));
  server.start();
  const OptionList options{{"blksize", "1024"}, {"tsize", "0"}};
  RawPeer peer;
  const auto got = download(peer, server.port(), "nl.bin", options);
  ASSERT_TRUE(served(got, pattern(70'000)));
  ASSERT_TRUE(got.oack);
  EXPECT_EQ(got.oack->options, (OptionList{{"blksize", "1024"}}));
  const auto cached = download(peer, server.port(), "nl.bin", options);
  ASSERT_TRUE(served(cached, pattern(70'000)));
  EXPECT_EQ(oack_value(cached, "tsize"), "70000");
  EXPECT_EQ(fault().gets("/no-length/70000/nl.bin"), 1U);
}

// ---- Failures are TFTP errors --------------------------------------------------------------------------

class OriginFailure : public OriginTest {};

TEST_F(OriginFailure, RefusalsOfTheOriginBecomeTheirTftpErrors) {
  struct Case {
    const char* behaviour;
    ErrorCode code;
    const char* message;
  };
  int servers = 0;
  for (const Case& c : {Case{"status/404", ErrorCode::file_not_found, "file not found"},
                        Case{"status/410", ErrorCode::file_not_found, "file not found"},
                        Case{"status/403", ErrorCode::access_violation, "access violation"},
                        Case{"status/401", ErrorCode::access_violation, "access violation"},
                        Case{"status/500", ErrorCode::not_defined, "origin unavailable"},
                        Case{"redirect-loop", ErrorCode::not_defined, "origin unavailable"},
                        Case{"redirect-file", ErrorCode::not_defined, "origin unavailable"}}) {
    const std::string dir = "cache-" + std::to_string(servers++);
    ServerHarness server(config({fault().url(c.behaviour)}, dir));
    server.start();
    RawPeer peer;
    const auto got = download(peer, server.port(), "x.bin", {{"tsize", "0"}});
    EXPECT_TRUE(refused_with(got, c.code, c.message)) << c.behaviour;
    EXPECT_EQ(list_dir(cache(dir)), std::vector<std::string>{}) << c.behaviour;
  }
  RawPeer peer;
  ServerHarness server(config({nginx_->url()}));
  server.start();
  EXPECT_TRUE(refused_with(download(peer, server.port(), "missing"), ErrorCode::file_not_found, "file not found"));
  EXPECT_EQ(nginx_->wait_for_gets("/missing", 1), 1U);
}

TEST_F(OriginFailure, A5xxFromTheFirstOriginFallsBackToTheSecond) {
  const Bytes content = put("fb.bin", 3000, 7);
  ServerHarness server(config({fault().url("status/500"), nginx_->url()}));
  server.start();
  RawPeer peer;
  const auto got = download(peer, server.port(), "fb.bin", {{"tsize", "0"}});
  ASSERT_TRUE(served(got, content));
  EXPECT_EQ(oack_value(got, "tsize"), "3000");
  EXPECT_EQ(fault().gets("/status/500/fb.bin"), 1U);
  EXPECT_EQ(nginx_->wait_for_gets("/fb.bin", 1), 1U);
  EXPECT_TRUE(server.wait_for_log({"origin", "file=fb.bin", "status=500"}));
}

TEST_F(OriginFailure, AnOriginRefusingConnectionsFallsBackToTheNext) {
  const Bytes content = put("fb2.bin", 3000, 17);
  const std::string closed = "http://127.0.0.1:" + std::to_string(origin_detail::free_port()) + "/";
  ServerHarness server(config({closed, nginx_->url()}));
  server.start();
  RawPeer peer;
  ASSERT_TRUE(served(download(peer, server.port(), "fb2.bin"), content));
  EXPECT_EQ(nginx_->wait_for_gets("/fb2.bin", 1), 1U);

  ServerHarness alone(config({closed}, "cache-b"));
  alone.start();
  EXPECT_TRUE(refused_with(download(peer, alone.port(), "fb2.bin"), ErrorCode::not_defined, "origin unavailable"));
}

// --origin-timeout 0.5 s against a first byte 5 s away: ERROR 0 long before the origin would have answered.
TEST_F(OriginFailure, ASlowFirstByteIsOriginUnavailableAfterTheOriginTimeout) {
  auto settings = config({fault().url("slow-first-byte/5000/100")});
  settings.origin_timeout = 500ms;
  ServerHarness server(settings);
  server.start();
  RawPeer peer;
  const auto asked = Clock::now();
  const auto got = download(peer, server.port(), "late.bin");
  const auto waited = Clock::now() - asked;
  EXPECT_TRUE(refused_with(got, ErrorCode::not_defined, "origin unavailable"));
  EXPECT_GE(waited, 500ms);  // a lower bound only: had the timeout not worked, the file would have come
  EXPECT_TRUE(list_dir(cache()).empty());
}

TEST_F(OriginFailure, ABodyCutMidwayEndsTheTransferAndLeavesNothingInTheCache) {
  ServerHarness server(config({fault().url("cut/100000/30000")}));
  server.start();
  RawPeer peer;
  const auto got = download(peer, server.port(), "cut.bin", {{"tsize", "0"}});
  EXPECT_TRUE(refused_with(got, ErrorCode::not_defined, "origin unavailable"));
  EXPECT_EQ(oack_value(got, "tsize"), "100000");
  EXPECT_LE(got.bytes.size(), 30'000U);
  EXPECT_EQ(got.bytes, pattern(got.bytes.size()));
  EXPECT_EQ(list_dir(cache()), std::vector<std::string>{}) << "no data, no .part";
  // Nothing was kept: the next request fetches again, and fails again.
  EXPECT_TRUE(refused_with(download(peer, server.port(), "cut.bin"), ErrorCode::not_defined, "origin unavailable"));
  EXPECT_EQ(fault().gets("/cut/100000/30000/cut.bin"), 2U);
  EXPECT_EQ(list_dir(cache()), std::vector<std::string>{});
}

// What ROOT refuses is refused the same way in front of an origin, which never hears of it.
TEST_F(OriginFailure, NamesRootRefusesAreRefusedAlikeAndNeverReachTheOrigin) {
  const std::vector<std::string> names{"../x", "dir/../../x", std::string("a\x01" "b"), "a\nb", "a\x7f" "b"};
  ServerHarness local(test_config());
  local.start();
  ServerHarness in_front(config({nginx_->url()}, "cache-a"));
  in_front.start();
  auto only_config = config({nginx_->url()}, "cache-b");
  only_config.origin_only = true;
  ServerHarness only(only_config);
  only.start();
  for (const auto& name : names) {
    RawPeer peer;
    const auto expected = download(peer, local.port(), name);
    ASSERT_TRUE(expected.error) << name;
    EXPECT_NE(expected.error->code, ErrorCode::file_not_found) << name;
    for (const ServerHarness* server : {&in_front, &only}) {
      const auto got = download(peer, server->port(), name);
      EXPECT_TRUE(refused_with(got, expected.error->code, expected.error->message))
          << testing::PrintToString(name) << (server == &only ? " --origin-only" : "");
    }
  }
  fetch_marker(in_front);
  fetch_marker(only);
  EXPECT_EQ(nginx_->requests().size(), 2U) << "only the markers reached nginx";
}

// ---- A stalled origin ----------------------------------------------------------------------------------

class OriginStall : public OriginTest {};

// The origin sends 2000 bytes of 100000 and goes silent: its client has DATA 1-3 and waits, then gets ERROR
// 0 after --origin-timeout (3 s). A 1 MiB file from ROOT, asked for meanwhile, is served in full before that.
TEST_F(OriginStall, AStalledOriginDoesNotDelayALocalTransfer) {
  auto settings = config({fault().url("stall/100000/2000")});
  settings.origin_timeout = 3s;
  ServerHarness server(settings);
  const Bytes local = pattern(mib, 8);
  write_file(server.root() / "local.bin", local);
  server.start();

  std::atomic<bool> stalled_ended = false;
  Download stalled;
  std::thread stalled_client([&] {
    RawPeer peer;
    stalled = download(peer, server.port(), "stalled.bin");
    stalled_ended = true;
  });
  // The fetch is streaming once its body has a .part file; bounded wait on that condition.
  const auto deadline = Clock::now() + 5s;
  const auto streaming = [&] {
    for (const auto& file : list_dir(cache())) {
      if (file.starts_with(".part-")) return true;
    }
    return false;
  };
  while (!streaming() && Clock::now() < deadline) std::this_thread::sleep_for(5ms);  // polling a directory
  ASSERT_TRUE(streaming());

  RawPeer peer;
  ASSERT_TRUE(served(download(peer, server.port(), "local.bin", {{"blksize", "1428"}, {"windowsize", "16"}}), local));
  EXPECT_FALSE(stalled_ended) << "the local transfer ended only after the stalled one";
  stalled_client.join();
  EXPECT_TRUE(refused_with(stalled, ErrorCode::not_defined, "origin unavailable"));
  EXPECT_EQ(stalled.bytes, pattern(1536));  // blocks 1-3; block 4 needs byte 2047
  EXPECT_EQ(list_dir(cache()), std::vector<std::string>{});
}

// ---- The cache on disk ----------------------------------------------------------------------------------

class OriginCache : public OriginTest {};

TEST_F(OriginCache, SurvivesARestartAndWhatIsHalfWrittenIsRemovedAtStart) {
  const Bytes content = put("kept", 200'000, 10);
  {
    ServerHarness server(config({nginx_->url()}));
    server.start();
    RawPeer peer;
    ASSERT_TRUE(served(download(peer, server.port(), "kept"), content));
  }
  ASSERT_EQ(nginx_->wait_for_gets("/kept", 1), 1U);
  const auto complete = list_dir(cache());
  ASSERT_EQ(complete.size(), 2U);
  EXPECT_TRUE(complete[0].ends_with(".data") && complete[1].ends_with(".meta")) << testing::PrintToString(complete);
  const auto meta = nlohmann::json::parse(read_text(cache() / complete[1]));
  EXPECT_EQ(meta.at("name"), "kept");
  EXPECT_EQ(meta.at("size"), 200'000);
  EXPECT_EQ(meta.at("etag"), nginx_etag("kept"));

  // What a server killed mid-fetch or mid-commit leaves.
  write_file(cache() / ".part-0123456789abcdef-7", pattern(5000));
  write_file(cache() / ".part-0123456789abcdef-7.meta", R"({"name":"half","size":5000,"validated":0})");
  write_file(cache() / "fedcba9876543210.data", pattern(4000));
  write_file(cache() / "0011223344556677.meta", R"({"name":"gone","size":10,"validated":0})");

  ServerHarness restarted(config({nginx_->url()}));
  restarted.start();
  EXPECT_EQ(list_dir(cache()), complete) << "only the complete file with its metadata is left";
  RawPeer peer;
  const auto got = download(peer, restarted.port(), "kept", {{"tsize", "0"}});
  ASSERT_TRUE(served(got, content));
  EXPECT_EQ(oack_value(got, "tsize"), "200000");
  fetch_marker(restarted);
  EXPECT_EQ(nginx_->gets("/kept"), 1U) << "served from the cache a restart found";
}

// A 304 makes the file fresh for another --cache-ttl, and a restart knows it: the metadata on disk says when
// it was validated last.
TEST_F(OriginCache, ARevalidationSurvivesARestart) {
  const Bytes content = put("fresh", 5000, 15);
  const auto serve_once = [&] {
    ServerHarness server(config({nginx_->url()}));
    server.start();
    RawPeer peer;
    EXPECT_TRUE(served(download(peer, server.port(), "fresh"), content));
  };
  serve_once();
  ASSERT_EQ(nginx_->wait_for_gets("/fresh", 1), 1U);
  const auto files = list_dir(cache());
  ASSERT_EQ(files.size(), 2U);
  const auto meta_file = cache() / files[1];
  auto meta = nlohmann::json::parse(read_text(meta_file));
  meta["validated"] = 0;  // validated long ago: stale for any --cache-ttl
  write_file(meta_file, meta.dump());

  serve_once();  // stale: revalidated, 304
  ASSERT_EQ(nginx_->wait_for_gets("/fresh", 2), 2U);
  EXPECT_EQ(nginx_->requests().at(1).status, 304);
  EXPECT_GT(nlohmann::json::parse(read_text(meta_file)).at("validated").get<std::int64_t>(), 0);

  ServerHarness server(config({nginx_->url()}));
  server.start();
  RawPeer peer;
  ASSERT_TRUE(served(download(peer, server.port(), "fresh"), content));
  fetch_marker(server);
  EXPECT_EQ(nginx_->gets("/fresh"), 2U) << "fresh since the 304: served without asking again";
  EXPECT_EQ(list_dir(cache()).size(), 4U) << testing::PrintToString(list_dir(cache()));
}

// 2.5 MiB holds two files of 1 MiB: the third evicts the least recently used.
TEST_F(OriginCache, OverCacheSizeTheLeastRecentlyUsedFileIsEvicted) {
  const Bytes a = put("a", mib, 11);
  const Bytes b = put("b", mib, 12);
  const Bytes c = put("c", mib, 13);
  auto settings = config({nginx_->url()});
  settings.cache_size = 5 * mib / 2;
  ServerHarness server(settings);
  server.start();
  const OptionList fast{{"blksize", "1428"}, {"windowsize", "16"}};
  RawPeer peer;
  ASSERT_TRUE(served(download(peer, server.port(), "a", fast), a));
  ASSERT_TRUE(served(download(peer, server.port(), "b", fast), b));
  ASSERT_TRUE(served(download(peer, server.port(), "c", fast), c));
  EXPECT_EQ(cached_names(), (std::set<std::string>{"b", "c"}));

  ASSERT_TRUE(served(download(peer, server.port(), "a", fast), a));
  EXPECT_EQ(nginx_->wait_for_gets("/a", 2), 2U) << "evicted: fetched again";
  EXPECT_EQ(cached_names(), (std::set<std::string>{"a", "c"})) << "b was used least recently";
  ASSERT_TRUE(served(download(peer, server.port(), "c", fast), c));
  fetch_marker(server);  // 100 bytes: fits beside a and c
  EXPECT_EQ(nginx_->gets("/c"), 1U) << "the most recent stays cached";
  EXPECT_EQ(nginx_->gets("/b"), 1U);
  EXPECT_EQ(list_dir(cache()).size(), 6U) << testing::PrintToString(list_dir(cache()));
}

// ---- Uploads -----------------------------------------------------------------------------------------------

class OriginUpload : public OriginTest {};

TEST_F(OriginUpload, UploadsGoToRootNotToTheOrigin) {
  auto settings = config({nginx_->url()});
  settings.allow_create = true;
  ServerHarness server(settings);
  server.start();
  const Bytes content = pattern(5000, 9);
  RawPeer peer;
  const auto sent = upload(peer, server.port(), "up.bin", content);
  ASSERT_EQ(sent.failure, "");
  ASSERT_FALSE(sent.error) << sent.error->message;
  ASSERT_TRUE(server.wait_for_log({"transfer", "file=up.bin", "direction=write", "result=ok"}));
  EXPECT_EQ(read_file(server.root() / "up.bin"), content);
  EXPECT_FALSE(std::filesystem::exists(nginx_->root() / "up.bin"));
  ASSERT_TRUE(served(download(peer, server.port(), "up.bin"), content));  // now ROOT has it
  fetch_marker(server);
  EXPECT_EQ(nginx_->requests().size(), 1U) << "only the marker reached nginx";
  EXPECT_EQ(cached_names(), std::set<std::string>{"marker-0"});
}

}  // namespace
}  // namespace tftp::test
