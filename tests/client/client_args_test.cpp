// The client's positional arguments: server, remote and local names, URLs and their defaults.
#include <gtest/gtest.h>

#include "tftp/client/args.hpp"

namespace tftp::client {
namespace {

Target resolved(Operation operation, const std::vector<std::string>& args) {
  auto result = resolve_target(operation, args);
  EXPECT_TRUE(result.has_value()) << (result.has_value() ? "" : result.error().message);
  return result.has_value() ? *result : Target{};
}

std::string refused(Operation operation, const std::vector<std::string>& args) {
  auto result = resolve_target(operation, args);
  EXPECT_FALSE(result.has_value());
  return result.has_value() ? "" : result.error().message;
}

TEST(ClientArgs, GetWithHostPort) {
  EXPECT_EQ(resolved(Operation::get, {"127.0.0.1:6969", "dir/f.bin"}),
            (Target{{"127.0.0.1", 6969}, "dir/f.bin", "f.bin", std::nullopt}));
  EXPECT_EQ(resolved(Operation::get, {"[::1]", "f", "out"}), (Target{{"::1", 69}, "f", "out", std::nullopt}));
  EXPECT_EQ(resolved(Operation::get, {"h", "f", "-"}), (Target{{"h", 69}, "f", "-", std::nullopt}));
}

TEST(ClientArgs, GetWithUrl) {
  EXPECT_EQ(resolved(Operation::get, {"tftp://h:6969/a%20b;mode=netascii"}),
            (Target{{"h", 6969}, "a b", "a b", Mode::netascii}));
  EXPECT_EQ(resolved(Operation::get, {"tftp://h/x/y", "local"}), (Target{{"h", 69}, "x/y", "local", std::nullopt}));
}

TEST(ClientArgs, PutForms) {
  EXPECT_EQ(resolved(Operation::put, {"h:70", "/tmp/up.bin"}), (Target{{"h", 70}, "up.bin", "/tmp/up.bin", std::nullopt}));
  EXPECT_EQ(resolved(Operation::put, {"h", "up.bin", "dir/r"}), (Target{{"h", 69}, "dir/r", "up.bin", std::nullopt}));
  EXPECT_EQ(resolved(Operation::put, {"up.bin", "tftp://h/r;mode=octet"}),
            (Target{{"h", 69}, "r", "up.bin", Mode::octet}));
  EXPECT_EQ(resolved(Operation::put, {"-", "tftp://h/r"}), (Target{{"h", 69}, "r", "-", std::nullopt}));
  EXPECT_EQ(resolved(Operation::put, {"h", "-", "r"}), (Target{{"h", 69}, "r", "-", std::nullopt}));
}

TEST(ClientArgs, UsageErrorsSayWhatIsWrong) {
  EXPECT_EQ(refused(Operation::get, {}), "missing HOST[:PORT] or tftp:// URL");
  EXPECT_EQ(refused(Operation::get, {"h"}), "get needs REMOTE (or a tftp:// URL)");
  EXPECT_EQ(refused(Operation::get, {"h", "dir/"}), "cannot derive LOCAL from \"dir/\": name it");
  EXPECT_EQ(refused(Operation::get, {"h", "f", "l", "extra"}), "get takes HOST[:PORT] REMOTE [LOCAL] or URL [LOCAL]");
  EXPECT_EQ(refused(Operation::get, {"tftp://h/f", "l", "extra"}), "get takes HOST[:PORT] REMOTE [LOCAL] or URL [LOCAL]");
  EXPECT_EQ(refused(Operation::get, {"h:0", "f"}), "bad HOST[:PORT] \"h:0\": the port is not a number from 1 to 65535");
  EXPECT_EQ(refused(Operation::get, {"tftp://h/a%zz"}),
            "bad URL \"tftp://h/a%zz\": a \"%\" in the URL is not followed by two hex digits");
  EXPECT_EQ(refused(Operation::put, {"h"}), "put needs LOCAL");
  EXPECT_EQ(refused(Operation::put, {"h", "-"}), "cannot derive REMOTE from \"-\": name it");
  EXPECT_EQ(refused(Operation::put, {"l", "tftp://h/r", "extra"}), "put takes HOST[:PORT] LOCAL [REMOTE] or LOCAL URL");
  EXPECT_EQ(refused(Operation::put, {"h", "l", "r", "extra"}), "put takes HOST[:PORT] LOCAL [REMOTE] or LOCAL URL");
}

// --help prints this line; each exit code once, with its meaning, in order.
TEST(ClientArgs, ExitCodeSummaryNamesEveryCode) {
  EXPECT_EQ(exit_code_summary(),
            std::string_view("0 success; 1 the server answered with a TFTP ERROR; 2 usage; 3 timed out; 4 local file error; "
                             "5 protocol violation by the server"));
}

}  // namespace
}  // namespace tftp::client
