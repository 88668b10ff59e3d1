// Codec: exact bytes per packet type, round trips, every truncation, option edge cases.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/bytes.hpp"
#include "tftp/codec.hpp"

namespace tftp {
namespace {

using test::Bytes;
using test::bytes_of;

// Literal with embedded NULs: sizeof - 1 keeps every byte.
template <std::size_t N>
Bytes lit(const char (&s)[N]) {
  return bytes_of(std::string_view(s, N - 1));
}

Bytes encoded(const Packet& packet) {
  Bytes out(max_packet_size);
  auto size = encode(packet, out);
  EXPECT_TRUE(size.has_value()) << size.error_code().message();
  out.resize(size ? *size : 0);
  return out;
}

errc parse_error_of(const Bytes& bytes) { return parse(bytes).error(); }

TEST(Codec, RrqExactBytes) {
  const Rrq rrq{"boot/pxelinux.0", Mode::octet, {{"blksize", "1428"}, {"tsize", "0"}}};
  EXPECT_EQ(encoded(rrq), lit("\0\1boot/pxelinux.0\0octet\0blksize\0" "1428\0tsize\0" "0\0"));
  auto parsed = parse(encoded(rrq));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(std::get<Rrq>(*parsed), rrq);
}

TEST(Codec, WrqExactBytes) {
  const Wrq wrq{"a.txt", Mode::netascii, {}};
  EXPECT_EQ(encoded(wrq), lit("\0\2a.txt\0netascii\0"));
  EXPECT_EQ(std::get<Wrq>(*parse(encoded(wrq))), wrq);
}

TEST(Codec, DataAckErrorOackExactBytes) {
  const Bytes payload = bytes_of("hello");
  EXPECT_EQ(encoded(Data{0x1234, payload}), lit("\0\3\x12\x34hello"));
  EXPECT_EQ(encoded(Data{65535, {}}), lit("\0\3\xff\xff"));
  EXPECT_EQ(encoded(Ack{258}), lit("\0\4\1\2"));
  EXPECT_EQ(encoded(Error{ErrorCode::file_not_found, "File not found."}), lit("\0\5\0\1" "File not found.\0"));
  EXPECT_EQ(encoded(Oack{{{"blksize", "8192"}, {"windowsize", "16"}}}),
            lit("\0\6blksize\0" "8192\0windowsize\0" "16\0"));
}

TEST(Codec, ParsesDataAsViewOfBuffer) {
  const Bytes wire = lit("\0\3\0\7abc");
  auto parsed = parse(wire);
  ASSERT_TRUE(parsed);
  const auto& data = std::get<Data>(*parsed);
  EXPECT_EQ(data.block, 7);
  ASSERT_EQ(data.payload.size(), 3U);
  EXPECT_EQ(data.payload.data(), wire.data() + 4);
}

TEST(Codec, RoundTripsEveryPacketType) {
  const Bytes payload = bytes_of(std::string(512, 'x'));
  const std::vector<Packet> packets = {
      Rrq{"f", Mode::octet, {}},
      Rrq{"dir/file.bin", Mode::netascii, {{"BlkSize", "65464"}, {"x-vendor", "anything goes"}}},
      Wrq{"up", Mode::octet, {{"tsize", "18446744073709551615"}, {"windowsize", "65535"}, {"timeout", "255"}}},
      Data{1, payload}, Data{0, {}}, Ack{0}, Ack{65535},
      Error{ErrorCode::option_refused, ""}, Error{static_cast<ErrorCode>(99), "custom"},
      Oack{{{"tsize", "123456"}}},
  };
  for (const auto& packet : packets) {
    const Bytes wire = encoded(packet);
    auto parsed = parse(wire);
    ASSERT_TRUE(parsed) << parsed.error_code().message();
    EXPECT_EQ(*parsed, packet);
    EXPECT_EQ(encoded(*parsed), wire);
  }
}

TEST(Codec, EveryTruncationOfEveryValidPacketIsAnError) {
  const std::vector<Bytes> valid = {
      lit("\0\1file\0octet\0"), lit("\0\2file\0netascii\0blksize\0" "1024\0"),
      lit("\0\4\0\1"), lit("\0\5\0\2nope\0"), lit("\0\6tsize\0" "99\0"), lit("\0\5\0\0\0"),
      lit("\0\6blksize\0" "8\0windowsize\0" "4\0"),
  };
  for (const auto& wire : valid) {
    auto whole = parse(wire);
    ASSERT_TRUE(whole) << "valid packet rejected";
    for (std::size_t n = 0; n < wire.size(); ++n) {
      const Bytes cut(wire.begin(), wire.begin() + static_cast<std::ptrdiff_t>(n));
      auto parsed = parse(cut);
      // A cut right after a complete option pair is itself a valid, different packet; every other cut fails.
      if (parsed) {
        EXPECT_NE(*parsed, *whole);
        EXPECT_TRUE(n > 2 && cut.back() == std::byte{0}) << n;
        EXPECT_LT(std::visit([](const auto& p) {
                    if constexpr (requires { p.options; }) return p.options.size(); else return std::size_t{99};
                  }, *parsed),
                  std::visit([](const auto& p) {
                    if constexpr (requires { p.options; }) return p.options.size(); else return std::size_t{0};
                  }, *whole))
            << "prefix of " << n << " bytes parsed without dropping an option";
      } else {
        EXPECT_EQ(parsed.error(), errc::truncated_packet) << "prefix of " << n << " bytes";
      }
    }
  }
  const Bytes data = lit("\0\3\0\1");
  for (std::size_t n = 0; n < data.size(); ++n) {
    EXPECT_EQ(parse_error_of(Bytes(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n))), errc::truncated_packet);
  }
}

TEST(Codec, EmptyOackRefused) { EXPECT_EQ(parse_error_of(lit("\0\6")), errc::truncated_packet); }

TEST(Codec, RejectsBadOpcodes) {
  EXPECT_EQ(parse_error_of(lit("\0\0\0\1")), errc::unknown_opcode);
  EXPECT_EQ(parse_error_of(lit("\0\7\0\1")), errc::unknown_opcode);
  EXPECT_EQ(parse_error_of(lit("\1\1\0\1")), errc::unknown_opcode);
  EXPECT_EQ(parse_error_of(lit("\0")), errc::truncated_packet);
  EXPECT_EQ(parse_error_of({}), errc::truncated_packet);
}

TEST(Codec, RequestModesAndFilenames) {
  EXPECT_EQ(std::get<Rrq>(*parse(lit("\0\1f\0OcTeT\0"))).mode, Mode::octet);
  EXPECT_EQ(std::get<Rrq>(*parse(lit("\0\1f\0NETASCII\0"))).mode, Mode::netascii);
  EXPECT_EQ(parse_error_of(lit("\0\1f\0mail\0")), errc::unsupported_mode);
  EXPECT_EQ(parse_error_of(lit("\0\1f\0binary\0")), errc::unsupported_mode);
  EXPECT_EQ(parse_error_of(lit("\0\1f\0octe\0")), errc::unsupported_mode);
  EXPECT_EQ(parse_error_of(lit("\0\1\0octet\0")), errc::empty_filename);
  EXPECT_EQ(parse_error_of(lit("\0\2f\0octet")), errc::truncated_packet);
  EXPECT_EQ(parse_error_of(lit("\0\2f")), errc::truncated_packet);
}

TEST(Codec, RequestSizeLimit) {
  const std::string head("\0\1", 2);
  const std::string tail("\0octet\0", 7);
  const std::string fits = head + std::string(max_request_size - head.size() - tail.size(), 'a') + tail;
  ASSERT_EQ(fits.size(), max_request_size);
  EXPECT_TRUE(parse(bytes_of(fits)));
  const std::string over = head + std::string(max_request_size + 1 - head.size() - tail.size(), 'a') + tail;
  EXPECT_EQ(parse_error_of(bytes_of(over)), errc::request_too_large);
}

TEST(Codec, RequestNulPaddingIgnoredOtherTrailingBytesRefused) {
  auto padded = parse(lit("\0\1f\0octet\0\0\0\0"));
  ASSERT_TRUE(padded);
  EXPECT_TRUE(std::get<Rrq>(*padded).options.empty());
  EXPECT_EQ(parse_error_of(lit("\0\1f\0octet\0blksize")), errc::truncated_packet);
  EXPECT_EQ(parse_error_of(lit("\0\1f\0octet\0blksize\0")), errc::truncated_packet);
  EXPECT_EQ(parse_error_of(lit("\0\1f\0octet\0\0" "512\0")), errc::bad_option_name);
}

TEST(Codec, OptionNamesExactAndCaseInsensitive) {
  auto parsed = parse(lit("\0\1f\0octet\0BLKSIZE\0" "1024\0blksizeFOO\0abc\0"));
  ASSERT_TRUE(parsed);
  const auto& options = std::get<Rrq>(*parsed).options;
  ASSERT_EQ(options.size(), 2U);
  EXPECT_EQ(options[0].name, "BLKSIZE");  // case kept as sent
  ASSERT_NE(find_option(options, "blksize"), nullptr);
  EXPECT_EQ(find_option(options, "blksize")->value, "1024");
  EXPECT_EQ(find_option(options, "blksizefoo")->value, "abc");  // unknown: kept, not checked
  EXPECT_EQ(find_option(options, "blk"), nullptr);
}

TEST(Codec, DuplicateOptionsRefused) {
  EXPECT_EQ(parse_error_of(lit("\0\1f\0octet\0blksize\0" "512\0BlkSize\0" "1024\0")), errc::duplicate_option);
  EXPECT_EQ(parse_error_of(lit("\0\1f\0octet\0x\0" "1\0X\0" "2\0")), errc::duplicate_option);
  EXPECT_EQ(parse_error_of(lit("\0\6tsize\0" "1\0tsize\0" "1\0")), errc::duplicate_option);
}

TEST(Codec, NumericOptionValueEdgeCases) {
  struct Case {
    std::string value;
    bool accepted;
  };
  const std::vector<Case> cases = {
      {"0", true}, {"7", true}, {"8", true}, {"65464", true}, {"65465", true},
      {"18446744073709551615", true}, {"00000000000000000008", true},
      {"-1", false}, {"99999999999999999999", false}, {"18446744073709551616", false},
      {"", false}, {"abc", false}, {" 8", false}, {"8 ", false}, {"+8", false}, {"0x10", false},
      {"000000000000000000008", false},
  };
  for (const char* name : {"blksize", "timeout", "tsize", "windowsize", "WindowSize"}) {
    for (const auto& c : cases) {
      const std::string wire = std::string("\0\1f\0octet\0", 10) + name + '\0' + c.value + '\0';
      auto parsed = parse(bytes_of(wire));
      if (c.accepted) {
        ASSERT_TRUE(parsed) << name << "=" << c.value;
        EXPECT_EQ(find_option(std::get<Rrq>(*parsed).options, name)->value, c.value);
      } else {
        EXPECT_EQ(parsed.error(), errc::bad_option_value) << name << "=" << c.value;
      }
    }
  }
  EXPECT_EQ(parse_decimal("65464"), 65464U);
  EXPECT_EQ(parse_decimal("18446744073709551615"), UINT64_MAX);
  EXPECT_FALSE(parse_decimal("18446744073709551616"));
}

TEST(Codec, AckMustBeExactlyFourBytes) {
  EXPECT_EQ(parse_error_of(lit("\0\4\0\1\0")), errc::trailing_bytes);
  EXPECT_EQ(parse_error_of(lit("\0\4\0")), errc::truncated_packet);
}

TEST(Codec, ErrorMessageNeedsNulAndIgnoresPadding) {
  EXPECT_EQ(parse_error_of(lit("\0\5\0\1oops")), errc::truncated_packet);
  auto parsed = parse(lit("\0\5\0\3full\0garbage"));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(std::get<Error>(*parsed), (Error{ErrorCode::disk_full, "full"}));
}

TEST(Codec, EncodeChecksBufferAndFields) {
  Bytes small(3);
  EXPECT_EQ(encode(Ack{1}, small).error(), errc::buffer_too_small);
  Bytes big(64);
  EXPECT_EQ(encode(Rrq{std::string("a\0b", 3), Mode::octet, {}}, big).error(), errc::field_too_long);
  EXPECT_EQ(encode(Rrq{"", Mode::octet, {}}, big).error(), errc::empty_filename);
  Bytes exact(4 + 5);
  const Bytes payload = bytes_of("12345");
  EXPECT_EQ(*encode(Data{1, payload}, exact), 9U);
  EXPECT_EQ(encode(Data{1, payload}, std::span(exact).first(8)).error(), errc::buffer_too_small);
}

TEST(Codec, ErrorCategory) {
  const std::error_code ec = errc::duplicate_option;
  EXPECT_STREQ(ec.category().name(), "tftp");
  EXPECT_EQ(ec.message(), "option given twice");
  EXPECT_EQ(default_message(ErrorCode::option_refused), "Terminate transfer due to option negotiation.");
  EXPECT_EQ(default_message(ErrorCode::file_not_found), "File not found.");
  EXPECT_EQ(default_message(static_cast<ErrorCode>(42)), "Unknown error");
}

}  // namespace
}  // namespace tftp
