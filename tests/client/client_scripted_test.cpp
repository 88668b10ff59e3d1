// The client against a scripted server on loopback that sends what no correct server sends: the exit
// class, the packets the client sent back and the local file after each case.
#include <gtest/gtest.h>
#include <sys/stat.h>


#include "client_test_support.hpp"
#include "support/file_size_limit.hpp"
#include "scripted_server.hpp"
#include "tftp/client/client.hpp"

namespace tftp::test {
namespace {

using namespace std::chrono_literals;
using client::Exit;

// Long enough that no retransmission is due while a script takes its turn on a loaded machine; the cases
// that test timeouts set their own.
client::Settings patient() {
  client::Settings settings;
  settings.timeout = 2000ms;
  settings.retries = 2;
  return settings;
}

client::Settings impatient() {
  client::Settings settings;
  settings.timeout = 100ms;
  settings.retries = 2;
  return settings;
}

std::vector<Arrival> at_socket(const std::vector<Arrival>& record, std::size_t socket) {
  std::vector<Arrival> result;
  for (const auto& d : record) {
    if (d.socket == socket) result.push_back(d);
  }
  return result;
}

bool has_error(const std::vector<Arrival>& record, std::size_t socket, ErrorCode code) {
  for (const auto& d : at_socket(record, socket)) {
    if (is_error(d, code)) return true;
  }
  return false;
}

std::size_t count_packets(const std::vector<Arrival>& record, const Packet& packet) {
  std::size_t n = 0;
  for (const auto& d : record) n += parsed(d) == packet ? 1U : 0U;
  return n;
}

Bytes error_bytes(std::uint16_t code, std::string_view message, bool with_nul) {
  Bytes bytes{std::byte{0}, std::byte{5}, std::byte{static_cast<unsigned char>(code >> 8U)},
              std::byte{static_cast<unsigned char>(code & 0xFFU)}};
  for (char c : message) bytes.push_back(static_cast<std::byte>(c));
  if (with_nul) bytes.push_back(std::byte{0});
  return bytes;
}

// ---- The request -------------------------------------------------------------------------------

TEST(ClientScripted, RrqAsksForBlksizeTsizeAndWindowsizeByDefault) {
  TempDir dir;
  ScriptedServer server([](ScriptedServer& s) {
    const auto rrq = s.expect(0);
    s.send(0, Error{ErrorCode::file_not_found, "File not found"}, rrq.from);
  });
  const auto outcome = client::get(target_at(server.port(), "dir/f.bin", dir / "f.bin"), patient());
  const auto record = server.finish();
  ASSERT_FALSE(record.empty());
  EXPECT_EQ(parsed(record.front()),
            Packet(Rrq{"dir/f.bin", Mode::octet, {{"blksize", "1428"}, {"tsize", "0"}, {"windowsize", "8"}}}));
  EXPECT_EQ(outcome.exit, Exit::server_error);
  EXPECT_EQ(outcome.message, "server error 1: File not found");
  EXPECT_TRUE(list_dir(dir.path()).empty());
}

TEST(ClientScripted, NoOptionsSendsAPlainRfc1350Request) {
  TempDir dir;
  ScriptedServer server([](ScriptedServer& s) {
    const auto rrq = s.expect(0);
    const auto tid = s.open_socket();
    s.send(tid, data_packet(1, 3, 'a'), rrq.from);
    s.expect(tid);
  });
  auto settings = patient();
  settings.options = false;
  settings.mode = Mode::netascii;
  const auto outcome = client::get(target_at(server.port(), "f", dir / "f"), settings);
  const auto record = server.finish();
  ASSERT_FALSE(record.empty());
  EXPECT_EQ(parsed(record.front()), Packet(Rrq{"f", Mode::netascii, {}}));
  EXPECT_EQ(outcome.exit, Exit::success) << outcome.message;
  EXPECT_EQ(read_text(dir / "f"), "aaa");
  EXPECT_EQ(count_packets(at_socket(record, 1), Ack{1}), 1U);
}

// The default window (8) is only asked for: a server that leaves windowsize out of its OACK (tftpd-hpa,
// dnsmasq) gets every block acknowledged, lock-step.
TEST(ClientScripted, AServerIgnoringWindowsizeGetsLockStep) {
  TempDir dir;
  ScriptedServer server([](ScriptedServer& s) {
    const auto rrq = s.expect(0);
    const auto tid = s.open_socket();
    s.send(tid, Oack{{{"blksize", "1428"}, {"tsize", "3000"}}}, rrq.from);
    s.expect(tid);  // ACK 0
    s.send(tid, data_packet(1, 1428, 'a'), rrq.from);
    s.expect(tid);  // ACK 1: the client does not wait for a window of 8
    s.send(tid, data_packet(2, 1428, 'b'), rrq.from);
    s.expect(tid);
    s.send(tid, data_packet(3, 144, 'c'), rrq.from);
    s.expect(tid);
  });
  const auto outcome = client::get(target_at(server.port(), "f", dir / "f"), patient());
  const auto record = server.finish();
  EXPECT_EQ(outcome.exit, Exit::success) << outcome.message;
  EXPECT_EQ(outcome.negotiated.window_size, 1U);
  const auto acks = at_socket(record, 1);
  ASSERT_EQ(acks.size(), 4U);
  for (std::uint16_t n = 0; n < 4; ++n) EXPECT_EQ(parsed(acks[n]), Packet(Ack{n}));
  EXPECT_EQ(read_text(dir / "f"), std::string(1428, 'a') + std::string(1428, 'b') + std::string(144, 'c'));
}

// ---- The local file's mode -------------------------------------------------------------------------

// A download replaces a file keeping its mode, and creates one with 0666 & ~umask (it was always 0644).
TEST(ClientScripted, ADownloadKeepsTheFilesModeOrFollowsTheUmask) {
  TempDir dir;
  const auto serve_one_block = [](ScriptedServer& s) {
    const auto rrq = s.expect(0);
    const auto tid = s.open_socket();
    s.send(tid, data_packet(1, 10, 'z'), rrq.from);
    s.expect(tid);
  };
  auto settings = patient();
  settings.options = false;
  const auto mode_of = [](const std::filesystem::path& path) {
    return static_cast<unsigned>(std::filesystem::status(path).permissions()) & 07777U;
  };
  const mode_t saved = ::umask(077);
  {
    ScriptedServer server(serve_one_block);
    EXPECT_EQ(client::get(target_at(server.port(), "f", dir / "new"), settings).exit, Exit::success);
  }
  ::umask(022);
  for (const unsigned mode : {0600U, 0640U}) {
    write_file(dir / "old", "previous");
    std::filesystem::permissions(dir / "old", static_cast<std::filesystem::perms>(mode));
    ScriptedServer server(serve_one_block);
    EXPECT_EQ(client::get(target_at(server.port(), "f", dir / "old"), settings).exit, Exit::success);
    EXPECT_EQ(mode_of(dir / "old"), mode);
    EXPECT_EQ(read_text(dir / "old"), std::string(10, 'z'));
  }
  ::umask(saved);
  EXPECT_EQ(mode_of(dir / "new"), 0600U);
}

// --max-size: a download larger than the limit ends with ERROR 3 to the server, exit 4 and no file.
TEST(ClientScripted, ADownloadBeyondMaxSizeIsRefusedAndLeavesNothing) {
  TempDir dir;
  ScriptedServer server([](ScriptedServer& s) {
    const auto rrq = s.expect(0);
    const auto tid = s.open_socket();
    for (std::uint16_t block = 1; block <= 3; ++block) {
      s.send(tid, data_packet(block, 512, 'b'), rrq.from);
      s.expect(tid);
    }
  });
  auto settings = patient();
  settings.options = false;
  settings.max_size = 1000;
  const auto outcome = client::get(target_at(server.port(), "f", dir / "f"), settings);
  const auto record = server.finish();
  EXPECT_EQ(outcome.exit, Exit::local_error) << outcome.message;
  EXPECT_TRUE(has_error(record, 1, ErrorCode::disk_full));
  EXPECT_TRUE(list_dir(dir.path()).empty());
}

// A large block is written after its ACK went out (write-behind). When that write fails, the get still
// ends with ERROR 3 to the server, exit 4 and the old file untouched. The file size limit stands in for a
// full disk (EFBIG, SIGXFSZ ignored).
TEST(ClientScripted, AFailedWriteBehindIsError3Exit4AndLeavesTheOldFile) {
  TempDir dir;
  write_file(dir / "f", "old");
  ScriptedServer server([](ScriptedServer& s) {
    const auto rrq = s.expect(0);
    const auto tid = s.open_socket();
    s.send(tid, Oack{{{"blksize", "10000"}}}, rrq.from);
    s.expect(tid);  // ACK 0
    s.send(tid, data_packet(1, 10000, 'a'), rrq.from);
    s.expect(tid);  // ACK 1, before the block is written
    s.expect(tid);  // ERROR 3
  });
  auto settings = patient();
  settings.block_size = 10000;
  settings.window_size.reset();
  settings.tsize = false;
  const auto outcome = [&] {
    FileSizeLimit limit(5000);
    EXPECT_TRUE(limit.active());
    return client::get(target_at(server.port(), "f", dir / "f"), settings);
  }();
  const auto record = server.finish();
  EXPECT_EQ(outcome.exit, Exit::local_error) << outcome.message;
  const auto sent = at_socket(record, 1);
  ASSERT_EQ(sent.size(), 3U);
  EXPECT_EQ(parsed(sent[1]), Packet(Ack{1}));
  EXPECT_TRUE(is_error(sent[2], ErrorCode::disk_full));
  EXPECT_EQ(read_text(dir / "f"), "old");
  EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"f"});
}

// ---- Server-controlled text -------------------------------------------------------------------------

// No C0 control, DEL or C1 byte in what the client would print.
bool terminal_safe(std::string_view text) {
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F || (u >= 0x80 && u <= 0x9F)) return false;
  }
  return true;
}

// An ERROR message that retitles the window, clears the screen and forges a line must reach the terminal
// escaped; so must the option names of an OACK in the -v trace.
TEST(ClientScripted, WhatTheServerSentIsEscapedBeforeItIsPrinted) {
  TempDir dir;
  const std::string hostile = "\x1b]0;owned\x07\x1b[2J\r\ntftp-client: all good \x9b" "31m\xc2\x9b";
  ScriptedServer refusing([&](ScriptedServer& s) {
    const auto rrq = s.expect(0);
    s.send(s.open_socket(), Error{ErrorCode::file_not_found, hostile}, rrq.from);
  });
  const auto refused = client::get(target_at(refusing.port(), "f", dir / "f"), patient());
  refusing.finish();
  EXPECT_EQ(refused.exit, Exit::server_error);
  EXPECT_TRUE(terminal_safe(refused.message)) << refused.message;
  EXPECT_NE(refused.message.find("\\x1b]0;owned\\x07\\x1b[2J\\x0d\\x0atftp-client: all good \\x9b31m\\xc2\\x9b"),
            std::string::npos)
      << refused.message;

  ScriptedServer oacking([](ScriptedServer& s) {
    const auto rrq = s.expect(0);
    const auto tid = s.open_socket();
    s.send(tid, Oack{{{"\x1b[2Jblksize", "\r512"}}}, rrq.from);
    s.expect(tid);
  });
  std::vector<std::string> trace;
  client::Hooks hooks;
  hooks.trace = [&](std::string_view line) { trace.emplace_back(line); };
  const auto bad = client::get(target_at(oacking.port(), "f", dir / "f"), patient(), hooks);
  oacking.finish();
  EXPECT_EQ(bad.exit, Exit::protocol_error);
  ASSERT_FALSE(trace.empty());
  bool seen = false;
  for (const auto& line : trace) {
    EXPECT_TRUE(terminal_safe(line)) << line;
    seen = seen || line.find("OACK \\x1b[2Jblksize=\\x0d512") != std::string::npos;
  }
  EXPECT_TRUE(seen);
  EXPECT_TRUE(terminal_safe(bad.message)) << bad.message;
}

// ---- The OACK ------------------------------------------------------------------------------------

void expect_oack_refused(const OptionList& oack) {
  TempDir dir;
  ScriptedServer server([&oack](ScriptedServer& s) {
    const auto rrq = s.expect(0);
    const auto tid = s.open_socket();
    s.send(tid, Oack{oack}, rrq.from);
    s.expect(tid);
  });
  const auto outcome = client::get(target_at(server.port(), "f", dir / "f"), patient());
  const auto record = server.finish();
  EXPECT_EQ(outcome.exit, Exit::protocol_error) << outcome.message;
  EXPECT_TRUE(has_error(record, 1, ErrorCode::option_refused));
  EXPECT_EQ(count_if_opcode(record, Opcode::ack), 0U);
  EXPECT_TRUE(list_dir(dir.path()).empty());
}

TEST(ClientScripted, UnrequestedOptionInOackIsRefusedWithError8) {
  expect_oack_refused({{"blksize", "1428"}, {"timeout", "3"}});
}

TEST(ClientScripted, LargerBlksizeThanAskedIsRefusedWithError8) { expect_oack_refused({{"blksize", "1429"}}); }

// ---- DATA ----------------------------------------------------------------------------------------

void expect_violation_after_oack(const Bytes& bad) {
  TempDir dir;
  write_file(dir / "f", "old");
  ScriptedServer server([&bad](ScriptedServer& s) {
    const auto rrq = s.expect(0);
    const auto tid = s.open_socket();
    s.send(tid, Oack{{{"blksize", "512"}}}, rrq.from);
    s.expect(tid);  // ACK 0
    s.send(tid, bad, rrq.from);
    s.expect(tid);
  });
  auto settings = patient();
  settings.block_size = 512;
  const auto outcome = client::get(target_at(server.port(), "f", dir / "f"), settings);
  const auto record = server.finish();
  EXPECT_EQ(outcome.exit, Exit::protocol_error) << outcome.message;
  EXPECT_TRUE(has_error(record, 1, ErrorCode::illegal_operation));
  EXPECT_GE(count_packets(record, Ack{0}), 1U);  // more when the script was slower than the adaptive timeout
  EXPECT_EQ(count_packets(record, Ack{1}), 0U);
  EXPECT_EQ(read_text(dir / "f"), "old");
  EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"f"});
}

TEST(ClientScripted, DataLongerThanTheBlockSizeIsAProtocolViolation) { expect_violation_after_oack(data_packet(1, 513)); }

TEST(ClientScripted, TruncatedDataIsAProtocolViolation) {
  expect_violation_after_oack(Bytes{std::byte{0}, std::byte{3}, std::byte{0}});
}

TEST(ClientScripted, TruncatedOackIsAProtocolViolation) {
  TempDir dir;
  ScriptedServer server([](ScriptedServer& s) {
    const auto rrq = s.expect(0);
    const auto tid = s.open_socket();
    s.send(tid, Bytes{std::byte{0}, std::byte{6}, std::byte{'b'}, std::byte{'l'}}, rrq.from);
    s.expect(tid);
  });
  const auto outcome = client::get(target_at(server.port(), "f", dir / "f"), patient());
  const auto record = server.finish();
  EXPECT_EQ(outcome.exit, Exit::protocol_error) << outcome.message;
  EXPECT_TRUE(has_error(record, 1, ErrorCode::illegal_operation));
  EXPECT_TRUE(list_dir(dir.path()).empty());
}

// ---- ERROR ---------------------------------------------------------------------------------------

TEST(ClientScripted, ServerErrorMidwayLeavesTheExistingFileUntouched) {
  TempDir dir;
  write_file(dir / "f", "old");
  ScriptedServer server([](ScriptedServer& s) {
    const auto rrq = s.expect(0);
    const auto tid = s.open_socket();
    s.send(tid, data_packet(1, 512), rrq.from);
    s.expect(tid);  // ACK 1
    s.send(tid, Error{ErrorCode::not_defined, "read failed"}, rrq.from);
  });
  auto settings = patient();
  settings.options = false;
  const auto outcome = client::get(target_at(server.port(), "f", dir / "f"), settings);
  const auto record = server.finish();
  EXPECT_EQ(outcome.exit, Exit::server_error);
  EXPECT_EQ(outcome.message, "server error 0: read failed");
  EXPECT_EQ(count_if_opcode(record, Opcode::error), 0U);  // an ERROR is never answered
  EXPECT_EQ(read_text(dir / "f"), "old");
  EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"f"});
}

TEST(ClientScripted, ErrorWithoutItsNulStillEndsWithTheServersMessage) {
  TempDir dir;
  ScriptedServer server([](ScriptedServer& s) {
    const auto rrq = s.expect(0);
    s.send(s.open_socket(), error_bytes(1, "no such file", false), rrq.from);
  });
  const auto outcome = client::get(target_at(server.port(), "f", dir / "f"), patient());
  const auto record = server.finish();
  EXPECT_EQ(outcome.exit, Exit::server_error);
  EXPECT_EQ(outcome.message, "server error 1: no such file");
  EXPECT_EQ(count_if_opcode(record, Opcode::error), 0U);
  EXPECT_TRUE(list_dir(dir.path()).empty());
}

TEST(ClientScripted, RefusedWrqIsAServerError) {
  TempDir dir;
  write_file(dir / "up", pattern_text(1000));
  ScriptedServer server([](ScriptedServer& s) {
    const auto wrq = s.expect(0);
    s.send(s.open_socket(), Error{ErrorCode::access_violation, "Access violation"}, wrq.from);
  });
  const auto outcome = client::put(target_at(server.port(), "remote", dir / "up"), patient());
  const auto record = server.finish();
  ASSERT_FALSE(record.empty());
  EXPECT_EQ(parsed(record.front()),
            Packet(Wrq{"remote", Mode::octet, {{"blksize", "1428"}, {"tsize", "1000"}, {"windowsize", "8"}}}));
  EXPECT_EQ(outcome.exit, Exit::server_error);
  EXPECT_EQ(count_if_opcode(record, Opcode::data), 0U);
}

// ---- Transfer IDs --------------------------------------------------------------------------------

TEST(ClientScripted, StrangerPortMidwayGetsError5AndTheTransferGoesOn) {
  TempDir dir;
  ScriptedServer server([](ScriptedServer& s) {
    const auto rrq = s.expect(0);
    const auto tid = s.open_socket();
    const auto stranger = s.open_socket();
    s.send(tid, data_packet(1, 512, 'x'), rrq.from);
    s.expect(tid);  // ACK 1
    s.send(stranger, data_packet(2, 7, 'z'), rrq.from);
    s.expect(stranger);  // ERROR 5
    s.send(tid, data_packet(2, 100, 'y'), rrq.from);
    s.expect(tid);  // ACK 2
  });
  auto settings = patient();
  settings.options = false;
  const auto outcome = client::get(target_at(server.port(), "f", dir / "f"), settings);
  const auto record = server.finish();
  EXPECT_EQ(outcome.exit, Exit::success) << outcome.message;
  EXPECT_EQ(read_text(dir / "f"), std::string(512, 'x') + std::string(100, 'y'));
  const auto to_stranger = at_socket(record, 2);
  ASSERT_EQ(to_stranger.size(), 1U);
  EXPECT_TRUE(is_error(to_stranger.front(), ErrorCode::unknown_transfer_id));
  EXPECT_EQ(count_packets(at_socket(record, 1), Ack{2}), 1U);
}

// A window arrives back to back and is read in batches: a stranger's datagram among its DATA gets ERROR 5
// and the blocks around it are all kept.
TEST(ClientScripted, StrangerInsideAWindowGetsError5AndTheWindowIsKept) {
  TempDir dir;
  ScriptedServer server([](ScriptedServer& s) {
    const auto rrq = s.expect(0);
    const auto tid = s.open_socket();
    const auto stranger = s.open_socket();
    s.send(tid, Oack{{{"blksize", "512"}, {"windowsize", "4"}}}, rrq.from);
    s.expect(tid);  // ACK 0
    s.send(tid, data_packet(1, 512, '1'), rrq.from);
    s.send(tid, data_packet(2, 512, '2'), rrq.from);
    s.send(stranger, data_packet(3, 7, 'z'), rrq.from);
    s.send(tid, data_packet(3, 512, '3'), rrq.from);
    s.send(tid, data_packet(4, 512, '4'), rrq.from);
    s.expect(tid);  // ACK 4
    s.send(tid, data_packet(5, 100, '5'), rrq.from);
    s.expect(tid);  // ACK 5
  });
  auto settings = patient();
  settings.block_size = 512;
  settings.window_size = 4;
  settings.tsize = false;
  const auto outcome = client::get(target_at(server.port(), "f", dir / "f"), settings);
  const auto record = server.finish();
  EXPECT_EQ(outcome.exit, Exit::success) << outcome.message;
  EXPECT_EQ(read_text(dir / "f"), std::string(512, '1') + std::string(512, '2') + std::string(512, '3') +
                                      std::string(512, '4') + std::string(100, '5'));
  const auto to_stranger = at_socket(record, 2);
  ASSERT_EQ(to_stranger.size(), 1U);
  EXPECT_TRUE(is_error(to_stranger.front(), ErrorCode::unknown_transfer_id));
  const auto acks = at_socket(record, 1);
  ASSERT_EQ(acks.size(), 3U);
  EXPECT_EQ(parsed(acks[1]), Packet(Ack{4}));
  EXPECT_EQ(parsed(acks[2]), Packet(Ack{5}));
}

TEST(ClientScripted, ReplyFromTheListeningPortIsFollowedThere) {
  TempDir dir;
  ScriptedServer server([](ScriptedServer& s) {
    const auto rrq = s.expect(0);
    s.send(0, data_packet(1, 5, 'q'), rrq.from);
    s.expect(0);
  });
  auto settings = patient();
  settings.options = false;
  const auto outcome = client::get(target_at(server.port(), "f", dir / "f"), settings);
  const auto record = server.finish();
  EXPECT_EQ(outcome.exit, Exit::success) << outcome.message;
  EXPECT_EQ(read_text(dir / "f"), "qqqqq");
  EXPECT_EQ(count_packets(at_socket(record, 0), Ack{1}), 1U);
}

// ---- Silence -------------------------------------------------------------------------------------

TEST(ClientScripted, SilentServerTimesOutAfterOneRequestPerRetry) {
  TempDir dir;
  ScriptedServer server([](ScriptedServer&) {});
  const auto settings = impatient();
  const auto outcome = client::get(target_at(server.port(), "f", dir / "f"), settings);
  const auto record = server.finish();
  EXPECT_EQ(outcome.exit, Exit::timed_out) << outcome.message;
  EXPECT_EQ(count_if_opcode(record, Opcode::rrq), 1U + settings.retries);
  EXPECT_TRUE(list_dir(dir.path()).empty());
}

TEST(ClientScripted, SilenceMidwayTimesOutAndKeepsNoFile) {
  TempDir dir;
  ScriptedServer server([](ScriptedServer& s) {
    const auto rrq = s.expect(0);
    s.send(s.open_socket(), data_packet(1, 512), rrq.from);
  });
  auto settings = impatient();
  settings.options = false;
  const auto outcome = client::get(target_at(server.port(), "f", dir / "f"), settings);
  const auto record = server.finish();
  EXPECT_EQ(outcome.exit, Exit::timed_out) << outcome.message;
  // Patience: given up only after the whole give-up time (100 + 200 + 400 ms), however short the measured
  // round trip; the ACK is re-sent as often as the 50 ms floor of the adaptive timeout allows in it.
  EXPECT_GE(outcome.elapsed, client::give_up_after(settings));
  const auto acks = count_packets(at_socket(record, 1), Ack{1});
  EXPECT_GE(acks, 1U + settings.retries);
  EXPECT_LE(acks, 4U);  // at 0, 50, 150 and 350 ms at most
  EXPECT_TRUE(list_dir(dir.path()).empty());
}

TEST(ClientScripted, GiveUpTimeFollowsTheBackoff) {
  client::Settings settings;
  EXPECT_EQ(client::give_up_after(settings), 31s);  // 1 + 2 + 4 + 8 + 8 + 8
  settings.timeout = 100ms;
  settings.retries = 2;
  EXPECT_EQ(client::give_up_after(settings), 700ms);
  settings.timeout = 10s;
  settings.retries = 1;
  EXPECT_EQ(client::give_up_after(settings), 20s);  // never below the asked timeout
}

// ---- Local failures before any packet ----------------------------------------------------------

// Loopback delivers within sendto, so an empty queue after the call means nothing was sent.
bool nothing_arrived(const RawPeer& socket) { return !socket.receive(std::chrono::milliseconds(0)); }

TEST(ClientScripted, PutOfAMissingFileExits4BeforeAnyPacket) {
  TempDir dir;
  RawPeer listener;
  const auto outcome = client::put(target_at(listener.port(), "r", dir / "missing"), patient());
  EXPECT_EQ(outcome.exit, Exit::local_error);
  EXPECT_EQ(outcome.message, "cannot read \"" + (dir / "missing").string() + "\": No such file or directory");
  EXPECT_TRUE(nothing_arrived(listener));
}

TEST(ClientScripted, PutOfADirectoryExits4BeforeAnyPacket) {
  TempDir dir;
  RawPeer listener;
  const auto outcome = client::put(target_at(listener.port(), "r", dir.path().string()), patient());
  EXPECT_EQ(outcome.exit, Exit::local_error);
  EXPECT_TRUE(nothing_arrived(listener));
}

TEST(ClientScripted, GetIntoAMissingDirectoryExits4BeforeAnyPacket) {
  TempDir dir;
  RawPeer listener;
  const auto outcome = client::get(target_at(listener.port(), "f", dir / "no/such/dir/f"), patient());
  EXPECT_EQ(outcome.exit, Exit::local_error);
  EXPECT_TRUE(nothing_arrived(listener));
  EXPECT_TRUE(list_dir(dir.path()).empty());
}

// ---- stdout -------------------------------------------------------------------------------------

TEST(ClientScripted, GetToStdoutWritesNothingWhenTheTransferFails) {
  ScriptedServer server([](ScriptedServer& s) {
    const auto rrq = s.expect(0);
    const auto tid = s.open_socket();
    s.send(tid, data_packet(1, 512), rrq.from);
    s.expect(tid);
    s.send(tid, Error{ErrorCode::not_defined, "gone"}, rrq.from);
  });
  auto settings = patient();
  settings.options = false;
  testing::internal::CaptureStdout();
  const auto outcome = client::get(target_at(server.port(), "f", "-"), settings);
  const auto out = testing::internal::GetCapturedStdout();
  server.finish();
  EXPECT_EQ(outcome.exit, Exit::server_error);
  EXPECT_EQ(out, "");
}

TEST(ClientScripted, GetToStdoutWritesTheWholeFile) {
  ScriptedServer server([](ScriptedServer& s) {
    const auto rrq = s.expect(0);
    const auto tid = s.open_socket();
    s.send(tid, data_packet(1, 512, 'a'), rrq.from);
    s.expect(tid);
    s.send(tid, data_packet(2, 0), rrq.from);
    s.expect(tid);
  });
  auto settings = patient();
  settings.options = false;
  testing::internal::CaptureStdout();
  const auto outcome = client::get(target_at(server.port(), "f", "-"), settings);
  const auto out = testing::internal::GetCapturedStdout();
  server.finish();
  EXPECT_EQ(outcome.exit, Exit::success) << outcome.message;
  EXPECT_EQ(out, std::string(512, 'a'));
}

// ---- tsize ---------------------------------------------------------------------------------------

TEST(ClientScripted, TsizeThatDisagreesWithTheBytesIsReported) {
  TempDir dir;
  ScriptedServer server([](ScriptedServer& s) {
    const auto rrq = s.expect(0);
    const auto tid = s.open_socket();
    s.send(tid, Oack{{{"tsize", "10"}}}, rrq.from);
    s.expect(tid);  // ACK 0
    s.send(tid, data_packet(1, 4, 'k'), rrq.from);
    s.expect(tid);
  });
  const auto outcome = client::get(target_at(server.port(), "f", dir / "f"), patient());
  server.finish();
  EXPECT_EQ(outcome.exit, Exit::success) << outcome.message;
  EXPECT_EQ(outcome.warning, std::optional<std::string>("the server announced 10 bytes (tsize) but sent 4"));
  EXPECT_EQ(read_text(dir / "f"), "kkkk");
}

}  // namespace
}  // namespace tftp::test
