// HOST[:PORT] arguments and tftp:// URLs (RFC 3617), without sockets.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "tftp/url.hpp"

namespace tftp {
namespace {

template <class T>
UrlError error_of(const Parsed<T>& parsed) {
  EXPECT_FALSE(parsed.has_value());
  return parsed.has_value() ? UrlError{} : parsed.error();
}

HostPort host_port(std::string_view text) {
  auto parsed = parse_host_port(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.has_value() ? *parsed : HostPort{};
}

TftpUrl url(std::string_view text) {
  auto parsed = parse_tftp_url(text);
  EXPECT_TRUE(parsed.has_value()) << text << ": " << (parsed.has_value() ? "" : describe(parsed.error()));
  return parsed.has_value() ? *parsed : TftpUrl{};
}

TEST(HostPort, AcceptsNamesAddressesAndPorts) {
  EXPECT_EQ(host_port("example.org"), (HostPort{"example.org", 69}));
  EXPECT_EQ(host_port("127.0.0.1:6969"), (HostPort{"127.0.0.1", 6969}));
  EXPECT_EQ(host_port("[::1]:6969"), (HostPort{"::1", 6969}));
  EXPECT_EQ(host_port("[::1]"), (HostPort{"::1", 69}));
  EXPECT_EQ(host_port("::1"), (HostPort{"::1", 69}));
  EXPECT_EQ(host_port("fe80::1%lo"), (HostPort{"fe80::1%lo", 69}));
  EXPECT_EQ(host_port("host:"), (HostPort{"host", 69}));
  EXPECT_EQ(host_port("h:1"), (HostPort{"h", 1}));
  EXPECT_EQ(host_port("h:65535"), (HostPort{"h", 65535}));
}

TEST(HostPort, RefusesBadForms) {
  EXPECT_EQ(error_of(parse_host_port("")), UrlError::empty_host);
  EXPECT_EQ(error_of(parse_host_port(":69")), UrlError::empty_host);
  EXPECT_EQ(error_of(parse_host_port("[]:69")), UrlError::empty_host);
  EXPECT_EQ(error_of(parse_host_port("h:0")), UrlError::bad_port);
  EXPECT_EQ(error_of(parse_host_port("h:65536")), UrlError::bad_port);
  EXPECT_EQ(error_of(parse_host_port("h:99999999999999999999")), UrlError::bad_port);
  EXPECT_EQ(error_of(parse_host_port("h:+69")), UrlError::bad_port);
  EXPECT_EQ(error_of(parse_host_port("h:6x")), UrlError::bad_port);
  EXPECT_EQ(error_of(parse_host_port("h: 69")), UrlError::bad_port);
  EXPECT_EQ(error_of(parse_host_port("[::1")), UrlError::bad_ipv6_literal);
  EXPECT_EQ(error_of(parse_host_port("[::1]69")), UrlError::bad_ipv6_literal);
  EXPECT_EQ(error_of(parse_host_port("user@h")), UrlError::user_info);
}

TEST(TftpUrl, SplitsServerFileAndMode) {
  EXPECT_EQ(url("tftp://h/f"), (TftpUrl{{"h", 69}, "f", std::nullopt}));
  EXPECT_EQ(url("TFTP://127.0.0.1:6969/dir/file.bin"), (TftpUrl{{"127.0.0.1", 6969}, "dir/file.bin", std::nullopt}));
  EXPECT_EQ(url("tftp://[::1]:6969/f"), (TftpUrl{{"::1", 6969}, "f", std::nullopt}));
  EXPECT_EQ(url("tftp://h//etc/x"), (TftpUrl{{"h", 69}, "/etc/x", std::nullopt}));
  EXPECT_EQ(url("tftp://h/f;mode=netascii"), (TftpUrl{{"h", 69}, "f", Mode::netascii}));
  EXPECT_EQ(url("tftp://h/f;MODE=Octet"), (TftpUrl{{"h", 69}, "f", Mode::octet}));
}

TEST(TftpUrl, PercentDecodesTheFileAfterSplittingTheMode) {
  EXPECT_EQ(url("tftp://h/a%20b%2Fc").file, "a b/c");
  EXPECT_EQ(url("tftp://h/a%3bmode=netascii").file, "a;mode=netascii");
  EXPECT_EQ(url("tftp://h/a%3bmode=netascii").mode, std::nullopt);
  EXPECT_EQ(url("tftp://h/%3F%23%25").file, "?#%");
  EXPECT_EQ(url("tftp://h/%e2%82%ac").file, "\xe2\x82\xac");
}

TEST(TftpUrl, RefusesBadUrls) {
  EXPECT_EQ(error_of(parse_tftp_url("http://h/f")), UrlError::not_tftp_url);
  EXPECT_EQ(error_of(parse_tftp_url("tftp:/h/f")), UrlError::not_tftp_url);
  EXPECT_EQ(error_of(parse_tftp_url("tftp:///f")), UrlError::empty_host);
  EXPECT_EQ(error_of(parse_tftp_url("tftp://h")), UrlError::missing_file);
  EXPECT_EQ(error_of(parse_tftp_url("tftp://h/")), UrlError::missing_file);
  EXPECT_EQ(error_of(parse_tftp_url("tftp://h/;mode=octet")), UrlError::missing_file);
  EXPECT_EQ(error_of(parse_tftp_url("tftp://h:0/f")), UrlError::bad_port);
  EXPECT_EQ(error_of(parse_tftp_url("tftp://::1/f")), UrlError::bad_ipv6_literal);
  EXPECT_EQ(error_of(parse_tftp_url("tftp://u@h/f")), UrlError::user_info);
  EXPECT_EQ(error_of(parse_tftp_url("tftp://h/a%2")), UrlError::bad_escape);
  EXPECT_EQ(error_of(parse_tftp_url("tftp://h/a%")), UrlError::bad_escape);
  EXPECT_EQ(error_of(parse_tftp_url("tftp://h/a%zz")), UrlError::bad_escape);
  EXPECT_EQ(error_of(parse_tftp_url("tftp://h/a%00b")), UrlError::nul_in_file);
  EXPECT_EQ(error_of(parse_tftp_url("tftp://h/a?b")), UrlError::query_or_fragment);
  EXPECT_EQ(error_of(parse_tftp_url("tftp://h/a#b")), UrlError::query_or_fragment);
  EXPECT_EQ(error_of(parse_tftp_url("tftp://h?x/a")), UrlError::query_or_fragment);
  EXPECT_EQ(error_of(parse_tftp_url("tftp://h/a;mode=mail")), UrlError::bad_mode);
  EXPECT_EQ(error_of(parse_tftp_url("tftp://h/a;type=i")), UrlError::bad_mode);
  EXPECT_EQ(error_of(parse_tftp_url("tftp://h/a;mode=octet;x")), UrlError::bad_mode);
}

std::string describe_parsed(const Parsed<TftpUrl>& parsed) {
  if (!parsed) return std::string(describe(parsed.error()));
  const auto& value = *parsed;
  return value.server.host + ":" + std::to_string(value.server.port) + " \"" + value.file + "\"" +
         (value.mode ? (*value.mode == Mode::netascii ? " netascii" : " octet") : "");
}

// Each prefix of a valid URL is exactly one of: a URL of its own (once a file name has begun) or the error
// that names what is still missing.
TEST(TftpUrl, EveryPrefixOfAValidUrlIsExactlyWhatItSays) {
  const std::string text = "tftp://[::1]:6969/dir/a%20b;mode=netascii";
  const auto file = [](std::string name) -> Parsed<TftpUrl> { return TftpUrl{{"::1", 6969}, std::move(name), std::nullopt}; };
  std::vector<Parsed<TftpUrl>> expected;                           // for the prefix of n bytes, n = 0 ... size
  expected.insert(expected.end(), 7, UrlError::not_tftp_url);      // "" ... "tftp:/"
  expected.push_back(UrlError::empty_host);                        // "tftp://"
  expected.insert(expected.end(), 4, UrlError::bad_ipv6_literal);  // "tftp://[" ... "tftp://[::1"
  expected.insert(expected.end(), 7, UrlError::missing_file);      // "tftp://[::1]" ... "tftp://[::1]:6969/"
  for (const char* name : {"d", "di", "dir", "dir/", "dir/a"}) expected.push_back(file(name));
  expected.insert(expected.end(), 2, UrlError::bad_escape);        // ".../a%", ".../a%2"
  expected.push_back(file("dir/a "));
  expected.push_back(file("dir/a b"));
  expected.insert(expected.end(), 13, UrlError::bad_mode);         // ".../a%20b;" ... ";mode=netasci"
  expected.push_back(TftpUrl{{"::1", 6969}, "dir/a b", Mode::netascii});
  ASSERT_EQ(expected.size(), text.size() + 1);
  for (std::size_t n = 0; n <= text.size(); ++n) {
    const auto prefix = std::string_view(text).substr(0, n);
    const auto parsed = parse_tftp_url(prefix);
    EXPECT_TRUE(parsed == expected[n]) << "\"" << prefix << "\": " << describe_parsed(parsed) << ", expected "
                                       << describe_parsed(expected[n]);
  }
}

TEST(PercentDecode, Table) {
  EXPECT_EQ(percent_decode(""), "");
  EXPECT_EQ(percent_decode("abc"), "abc");
  EXPECT_EQ(percent_decode("%41%62"), "Ab");
  EXPECT_EQ(percent_decode("%00"), std::string(1, '\0'));
  EXPECT_EQ(percent_decode("%"), std::nullopt);
  EXPECT_EQ(percent_decode("%4"), std::nullopt);
  EXPECT_EQ(percent_decode("%g1"), std::nullopt);
}

TEST(BaseName, LastUsableComponent) {
  EXPECT_EQ(base_name("file"), "file");
  EXPECT_EQ(base_name("pxelinux.cfg/default"), "default");
  EXPECT_EQ(base_name("/abs/x.bin"), "x.bin");
  EXPECT_EQ(base_name("dir/"), "");
  EXPECT_EQ(base_name(".."), "");
  EXPECT_EQ(base_name("a/."), "");
  EXPECT_EQ(base_name(""), "");
}

}  // namespace
}  // namespace tftp

namespace tftp {
namespace {

TEST(PercentEncodePath, OnlyUnreservedBytesAndSlashStayAsTheyAre) {
  EXPECT_EQ(percent_encode_path("pxelinux.cfg/01-aa-bb_c~d"), "pxelinux.cfg/01-aa-bb_c~d");
  EXPECT_EQ(percent_encode_path("a b?c#d%e;f=g+h"), "a%20b%3Fc%23d%25e%3Bf%3Dg%2Bh");
  EXPECT_EQ(percent_encode_path("caf\xc3\xa9\r\n"), "caf%C3%A9%0D%0A");
  EXPECT_EQ(percent_encode_path("boot\\bcd:@"), "boot%5Cbcd%3A%40");
  const std::string every = [] {
    std::string s;
    for (int c = 1; c < 256; ++c) s.push_back(static_cast<char>(c));
    return s;
  }();
  EXPECT_EQ(percent_decode(percent_encode_path(every)), every);
}

}  // namespace
}  // namespace tftp
