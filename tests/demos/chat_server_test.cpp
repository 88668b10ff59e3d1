// The TCP chat server on 127.0.0.1 with real clients: what each client receives, byte for byte, and what
// lands on disk. Server and clients share one io_context in the test's thread; every wait is for an event
// (a frame, an end of stream) with a deadline.
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/write.hpp>

#include "chat_client.hpp"
#include "chat_protocol.hpp"
#include "chat_server.hpp"
#include "framed_stream.hpp"
#include "json_header.hpp"
#include "loopback.hpp"
#include "support/files.hpp"
#include "support/pattern.hpp"
#include "support/temp_dir.hpp"

namespace demos::test {
namespace {

namespace fs = std::filesystem;
using asio::ip::tcp;

struct Line {
  MessageType type;
  std::string text;
};

// A client that speaks the frames directly, so tests can also send what the real client never would.
class Peer {
 public:
  Peer(asio::io_context& io, const tcp::endpoint& server, std::optional<int> receive_buffer = std::nullopt)
      : io_(io), socket_(io), reader_(socket_) {
    socket_.open(tcp::v4());
    // Set before connecting, so the window the client offers is small from the first byte.
    if (receive_buffer) socket_.set_option(asio::socket_base::receive_buffer_size(*receive_buffer));
    socket_.connect(server);
  }

  // Frames are collected from here on; a peer that never calls this never reads.
  void start_reading() { asio::co_spawn(io_, read_loop(), asio::detached); }

  void send(MessageType type, std::string_view body) { send_payload(encode_message(type, body)); }

  void send_payload(std::vector<std::byte> payload) {
    std::optional<std::error_code> result;
    asio::co_spawn(io_, write_frame(socket_, payload), [&](std::exception_ptr, std::error_code ec) { result = ec; });
    ASSERT_TRUE(run_until(io_, [&] { return result.has_value(); })) << "write did not finish";
    EXPECT_FALSE(*result) << result->message();
  }

  void send_raw(const std::vector<unsigned char>& raw) { asio::write(socket_, asio::buffer(raw)); }

  // The next frame received, or a failure when none comes before the deadline.
  Line next() {
    if (!run_until(io_, [&] { return !inbox_.empty() || ended_; }) || inbox_.empty()) {
      ADD_FAILURE() << "no frame arrived";
      return {MessageType::error, "<nothing>"};
    }
    Line line = std::move(inbox_.front());
    inbox_.pop_front();
    return line;
  }

  std::string next_text() {
    const Line line = next();
    EXPECT_EQ(line.type, MessageType::text) << line.text;
    return line.text;
  }

  std::string next_error() {
    const Line line = next();
    EXPECT_EQ(line.type, MessageType::error) << line.text;
    return line.text;
  }

  // True when the server closed the connection (after any frames still unread).
  bool wait_closed() { return run_until(io_, [&] { return ended_; }); }
  bool inbox_empty() const { return inbox_.empty(); }
  std::error_code end_reason() const { return end_reason_; }

  void join(std::string_view nickname) {
    send(MessageType::text, nickname);
    const auto welcome = next_text();
    EXPECT_TRUE(welcome.starts_with("Welcome, " + std::string(nickname) + ". Online: ")) << welcome;
  }

 private:
  asio::awaitable<void> read_loop() {
    for (;;) {
      const auto [error, payload] = co_await reader_.read();
      if (error) {
        end_reason_ = error;
        ended_ = true;
        co_return;
      }
      const auto message = decode_message(payload);
      if (!message) {
        ADD_FAILURE() << "undecodable frame";
        continue;
      }
      inbox_.push_back({message->type, std::string(as_text(message->body))});
    }
  }

  asio::io_context& io_;
  tcp::socket socket_;
  FrameReader reader_;
  std::deque<Line> inbox_;
  bool ended_ = false;
  std::error_code end_reason_;
};

using tftp::test::list_dir;
using tftp::test::read_text;
using tftp::test::write_file;

// A scratch directory with the server's files/ directory in it.
struct ChatDir : tftp::test::TempDir {
  ChatDir() { fs::create_directory(files()); }
  fs::path files() const { return path() / "files"; }
};

class ChatServerTest : public ::testing::Test {
 protected:
  void start(ChatServerConfig config = {}) {
    server_.emplace(io_.get_executor(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), std::move(config));
    server_->start();
  }
  std::unique_ptr<Peer> connect(std::optional<int> receive_buffer = std::nullopt) {
    auto peer = std::make_unique<Peer>(io_, server_->local_endpoint(), receive_buffer);
    peer->start_reading();
    return peer;
  }
  std::unique_ptr<Peer> joined(std::string_view nickname) {
    auto peer = connect();
    peer->join(nickname);
    return peer;
  }

  asio::io_context io_;
  std::optional<ChatServer> server_;
};

TEST_F(ChatServerTest, EveryMessageReachesTheTwoOthersInOrderWithTheSendersName) {
  start();
  auto alice = joined("alice");
  auto bob = joined("bob");
  EXPECT_EQ(alice->next_text(), "* bob joined");
  auto carol = joined("carol");
  EXPECT_EQ(alice->next_text(), "* carol joined");
  EXPECT_EQ(bob->next_text(), "* carol joined");

  const std::vector<std::pair<std::string, Peer*>> people = {{"alice", alice.get()}, {"bob", bob.get()}, {"carol", carol.get()}};
  constexpr int rounds = 20;
  for (int i = 0; i < rounds; ++i) {
    for (const auto& [name, peer] : people) peer->send(MessageType::text, name + " says " + std::to_string(i));
  }
  // Per sender, order is kept; across senders the server's arrival order decides, so split by sender.
  for (const auto& [receiver, peer] : people) {
    std::map<std::string, std::vector<std::string>> by_sender;
    for (int i = 0; i < 2 * rounds; ++i) {
      const auto text = peer->next_text();
      const auto colon = text.find(": ");
      ASSERT_NE(colon, std::string::npos) << text;
      by_sender[text.substr(0, colon)].push_back(text.substr(colon + 2));
    }
    EXPECT_FALSE(by_sender.contains(receiver)) << receiver << " got its own message back";
    for (const auto& [sender, messages] : by_sender) {
      ASSERT_EQ(messages.size(), std::size_t{rounds}) << receiver << " from " << sender;
      for (int i = 0; i < rounds; ++i) EXPECT_EQ(messages[static_cast<std::size_t>(i)], sender + " says " + std::to_string(i));
    }
    EXPECT_EQ(by_sender.size(), 2U);
  }

  bob->send(MessageType::text, "/who");
  EXPECT_EQ(bob->next_text(), "Online: alice, bob, carol");
  carol->send(MessageType::text, "/quit");
  EXPECT_EQ(carol->next_text(), "Goodbye, carol.");
  EXPECT_TRUE(carol->wait_closed());
  EXPECT_EQ(carol->end_reason(), asio::error::eof);
  EXPECT_EQ(alice->next_text(), "* carol left");
  EXPECT_EQ(bob->next_text(), "* carol left");
  alice->send(MessageType::text, "/who");
  EXPECT_EQ(alice->next_text(), "Online: alice, bob");
}

TEST_F(ChatServerTest, ANicknameClashIsRefusedAndTheFirstOwnerKeepsIt) {
  start();
  auto alice = joined("alice");
  auto impostor = connect();
  impostor->send(MessageType::text, "alice");
  EXPECT_EQ(impostor->next_error(), "nickname alice is taken");
  EXPECT_TRUE(impostor->wait_closed());
  auto spaced = connect();
  spaced->send(MessageType::text, "* bob joined");
  EXPECT_EQ(spaced->next_error(), "a nickname is 1-32 of A-Z a-z 0-9 _ -");
  EXPECT_TRUE(spaced->wait_closed());

  auto bob = joined("bob");
  bob->send(MessageType::text, "hi");
  EXPECT_EQ(alice->next_text(), "* bob joined");
  EXPECT_EQ(alice->next_text(), "bob: hi");
}

TEST_F(ChatServerTest, AClientThatNeverReadsIsDroppedAndTheOthersGoOn) {
  ChatServerConfig config;
  config.queue_limit = 256 * 1024;
  config.send_buffer = 4096;  // small kernel buffers, so the queue fills after a few messages, not megabytes
  start(config);
  auto alice = joined("alice");
  auto bob = joined("bob");
  EXPECT_EQ(alice->next_text(), "* bob joined");
  auto slow = std::make_unique<Peer>(io_, server_->local_endpoint(), 4096);
  slow->send(MessageType::text, "slow");  // and then it never reads
  EXPECT_EQ(alice->next_text(), "* slow joined");
  EXPECT_EQ(bob->next_text(), "* slow joined");

  const std::string filler(60000, 'x');
  const std::string notice = "* slow left (dropped: its queue is full (not reading))";
  bool dropped = false;
  int sent = 0;
  for (; sent < 200 && !dropped; ++sent) {
    const auto message = std::to_string(sent) + filler;
    alice->send(MessageType::text, message);
    // The notice follows the message that overflowed the queue, so it shows up before the next one.
    auto received = bob->next_text();
    if (received == notice) {
      dropped = true;
      received = bob->next_text();
    }
    ASSERT_EQ(received, "alice: " + message) << "message " << sent;
  }
  ASSERT_TRUE(dropped) << "still connected after " << sent << " messages of 60 KB";
  EXPECT_GT(sent, 1) << "dropped before its queue could have filled";
  EXPECT_EQ(alice->next_text(), notice);

  // The slow client finds the connection closed once it reads what the kernel still holds for it.
  slow->start_reading();
  EXPECT_TRUE(slow->wait_closed());
  bob->send(MessageType::text, "still here");
  EXPECT_EQ(alice->next_text(), "bob: still here");
  alice->send(MessageType::text, "/who");
  EXPECT_EQ(alice->next_text(), "Online: alice, bob");
}

TEST_F(ChatServerTest, AFrameLongerThan64KiBDisconnectsThatClientOnly) {
  start();
  auto alice = joined("alice");
  auto bob = joined("bob");
  EXPECT_EQ(alice->next_text(), "* bob joined");
  bob->send_raw({0x00, 0x01, 0x00, 0x01, 'T'});  // 65537 bytes announced
  EXPECT_TRUE(bob->wait_closed());
  EXPECT_EQ(alice->next_text(), "* bob left");
  auto carol = joined("carol");
  EXPECT_EQ(alice->next_text(), "* carol joined");
}

TEST_F(ChatServerTest, AFileSentByTheClientIsStoredByteForByteAndAnnounced) {
  ChatDir dir;
  ChatServerConfig config;
  config.files = dir.files();
  start(config);
  auto bob = joined("bob");

  std::vector<std::string> shown;
  ChatClient alice(io_.get_executor(), [&](std::string_view line) { shown.emplace_back(line); });
  std::optional<int> status;
  asio::co_spawn(io_, alice.run(server_->local_endpoint(), "alice"), [&](std::exception_ptr, int s) { status = s; });
  ASSERT_TRUE(run_until(io_, [&] { return !shown.empty(); }));
  EXPECT_EQ(bob->next_text(), "* alice joined");

  // A name that is not UTF-8 cannot be put in the JSON header: the client says so and sends nothing.
  const auto latin1 = dir.path() / "caf\xE9.bin";
  write_file(latin1, "x");
  alice.submit("/send " + latin1.string());

  // Three and a bit data frames, every byte value.
  const std::string content = tftp::test::pattern_text(3 * file_chunk + 17);
  const auto source = dir.path() / "report.bin";
  write_file(source, content);

  const auto size = std::to_string(content.size());
  alice.submit("/send " + source.string());
  EXPECT_EQ(bob->next_text(), "* alice sent file report.bin (" + size + " bytes)");
  EXPECT_EQ(read_text(dir.files() / "report.bin"), content);
  EXPECT_EQ(list_dir(dir.files()), std::vector<std::string>{"report.bin"}) << "a temporary file was left behind";

  // The same name again: refused, and the stored file stays as it was.
  write_file(source, "other bytes");
  alice.submit("/send " + source.string());
  alice.submit("after");
  EXPECT_EQ(bob->next_text(), "alice: after");
  EXPECT_EQ(read_text(dir.files() / "report.bin"), content);
  EXPECT_EQ(list_dir(dir.files()), std::vector<std::string>{"report.bin"});

  alice.end_of_input();
  ASSERT_TRUE(run_until(io_, [&] { return status.has_value(); }));
  EXPECT_EQ(*status, 0);
  const std::vector<std::string> expected = {
      "Welcome, alice. Online: alice, bob. Commands: /who /quit /send PATH",
      "! cannot send " + latin1.string() + ": the file name is not valid UTF-8",
      "* sending report.bin (" + size + " bytes)",
      "Stored report.bin (" + size + " bytes)",
      "* sending report.bin (11 bytes)",
      "! file report.bin refused: a file named report.bin exists already",
      "Goodbye, alice.",
      "* connection closed",
  };
  EXPECT_EQ(shown, expected);
  EXPECT_EQ(bob->next_text(), "* alice left");
}

TEST_F(ChatServerTest, AFileNameWithADirectoryPartIsRefusedAndTheClientStays) {
  ChatDir dir;
  ChatServerConfig config;
  config.files = dir.files();
  start(config);
  auto mallory = joined("mallory");
  for (const std::string name : {"../x", "a/../../x", ".hidden", "/etc/x"}) {
    mallory->send(MessageType::file_header, *emit_file_header({name, 3}));
    mallory->send(MessageType::file_data, "abc");
    EXPECT_TRUE(mallory->next_error().starts_with("file " + name + " refused: ")) << name;
  }
  mallory->send(MessageType::text, "/who");
  EXPECT_EQ(mallory->next_text(), "Online: mallory");
  EXPECT_TRUE(list_dir(dir.files()).empty());
  EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"files"});
}

TEST_F(ChatServerTest, MoreFileBytesThanAnnouncedCloseTheConnection) {
  ChatDir dir;
  ChatServerConfig config;
  config.files = dir.files();
  start(config);
  auto mallory = joined("mallory");
  mallory->send(MessageType::file_header, *emit_file_header({"short.txt", 2}));
  mallory->send(MessageType::file_data, "abc");
  EXPECT_EQ(mallory->next_error(), "more bytes than the header announced");
  EXPECT_TRUE(mallory->wait_closed());
  EXPECT_TRUE(list_dir(dir.files()).empty());
}

// ---- Limits against abuse ----------------------------------------------------------------------------

TEST_F(ChatServerTest, BeyondMaxConnectionsANewClientIsToldAndClosed) {
  ChatServerConfig config;
  config.max_connections = 2;
  start(config);
  auto alice = joined("alice");
  auto bob = joined("bob");
  EXPECT_EQ(alice->next_text(), "* bob joined");
  auto third = connect();
  EXPECT_EQ(third->next_error(), "the server is full, try later");
  EXPECT_TRUE(third->wait_closed());
  alice->send(MessageType::text, "still here");
  EXPECT_EQ(bob->next_text(), "alice: still here");
  alice->send(MessageType::text, "/quit");
  EXPECT_EQ(alice->next_text(), "Goodbye, alice.");
  EXPECT_EQ(bob->next_text(), "* alice left");
  auto carol = joined("carol");  // a slot is free again: alice is on her way out
}

TEST_F(ChatServerTest, AClientThatSendsNothingIsDroppedAfterTheIdleTimeout) {
  std::vector<std::string> log;
  ChatServerConfig config;
  config.idle_timeout = std::chrono::milliseconds(300);
  config.log = [&](std::string_view line) { log.emplace_back(line); };
  start(config);
  auto silent = connect();  // never names itself, never sends a byte
  EXPECT_TRUE(silent->wait_closed());
  EXPECT_TRUE(silent->inbox_empty());
  ASSERT_FALSE(log.empty());
  EXPECT_NE(log.back().find("idle for 300 ms"), std::string::npos) << log.back();
}

// Files stored together stay within the quota: one more is refused, and the client stays connected.
TEST_F(ChatServerTest, FilesBeyondTheQuotaAreRefused) {
  ChatDir dir;
  ChatServerConfig config;
  config.files = dir.files();
  config.files_quota = 1000;
  start(config);
  auto alice = joined("alice");
  const auto send_file = [&](const std::string& name, std::size_t size) {
    alice->send_payload(encode_message(MessageType::file_header, *emit_file_header(FileHeader{name, size})));
    if (size > 0) alice->send_payload(encode_message(MessageType::file_data, std::string(size, 'q')));
  };
  send_file("a.bin", 600);
  EXPECT_EQ(alice->next_text(), "Stored a.bin (600 bytes)");
  send_file("b.bin", 600);
  EXPECT_EQ(alice->next_error(), "file b.bin refused: the server's space for files is used up");
  send_file("c.bin", 400);
  EXPECT_EQ(alice->next_text(), "Stored c.bin (400 bytes)");
  EXPECT_EQ(list_dir(dir.files()), (std::vector<std::string>{"a.bin", "c.bin"}));
}

TEST_F(ChatServerTest, EchoModeAnswersHelloToThatClientAlone) {
  ChatServerConfig config;
  config.echo = true;
  start(config);
  auto ann = connect();
  auto ben = connect();
  EXPECT_EQ(ann->next_text(), "Welcome to the echo server. Send your name; /quit ends.");
  EXPECT_EQ(ben->next_text(), "Welcome to the echo server. Send your name; /quit ends.");
  ann->send(MessageType::text, "Ann");
  ben->send(MessageType::text, "Ben");
  ann->send(MessageType::text, "again");
  EXPECT_EQ(ann->next_text(), "Hello, Ann");
  EXPECT_EQ(ann->next_text(), "Hello, again");
  EXPECT_EQ(ben->next_text(), "Hello, Ben");
  ann->send(MessageType::text, "/quit");
  EXPECT_EQ(ann->next_text(), "Goodbye.");
  EXPECT_TRUE(ann->wait_closed());
  ben->send(MessageType::text, "still");
  EXPECT_EQ(ben->next_text(), "Hello, still");
  EXPECT_TRUE(ben->inbox_empty());
}

}  // namespace
}  // namespace demos::test
