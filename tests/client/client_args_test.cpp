// The client's positional arguments: server, remote and local names, URLs and their defaults.
#include <gtest/gtest.h>

#include "tftp/client/args.hpp"

namespace tftp::client {
namespace {

Target resolved(Operation operation, const std::vector<std::string>& args) {
  auto result = resolve_target(operation, args);
  EXPECT_TRUE(std::holds_alternative<Target>(result))
      << (std::holds_alternative<UsageError>(result) ? std::get<UsageError>(result).message : "");
  return std::holds_alternative<Target>(result) ? std::get<Target>(result) : Target{};
}

std::string refused(Operation operation, const std::vector<std::string>& args) {
  auto result = resolve_target(operation, args);
  EXPECT_TRUE(std::holds_alternative<UsageError>(result));
  return std::holds_alternative<UsageError>(result) ? std::get<UsageError>(result).message : "";
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
  EXPECT_NE(refused(Operation::get, {}).find("HOST"), std::string::npos);
  EXPECT_NE(refused(Operation::get, {"h"}).find("REMOTE"), std::string::npos);
  EXPECT_NE(refused(Operation::get, {"h", "dir/"}).find("LOCAL"), std::string::npos);
  EXPECT_NE(refused(Operation::get, {"h", "f", "l", "extra"}).find("get takes"), std::string::npos);
  EXPECT_NE(refused(Operation::get, {"tftp://h/f", "l", "extra"}).find("get takes"), std::string::npos);
  EXPECT_NE(refused(Operation::get, {"h:0", "f"}).find("port"), std::string::npos);
  EXPECT_NE(refused(Operation::get, {"tftp://h/a%zz"}).find("bad URL"), std::string::npos);
  EXPECT_NE(refused(Operation::put, {"h"}).find("LOCAL"), std::string::npos);
  EXPECT_NE(refused(Operation::put, {"h", "-"}).find("REMOTE"), std::string::npos);
  EXPECT_NE(refused(Operation::put, {"l", "tftp://h/r", "extra"}).find("put takes"), std::string::npos);
  EXPECT_NE(refused(Operation::put, {"h", "l", "r", "extra"}).find("put takes"), std::string::npos);
}

TEST(ClientArgs, ExitCodeSummaryNamesEveryCode) {
  const auto summary = exit_code_summary();
  for (const char* code : {"0 ", "1 ", "2 ", "3 ", "4 ", "5 "}) EXPECT_NE(summary.find(code), std::string::npos) << code;
}

}  // namespace
}  // namespace tftp::client
