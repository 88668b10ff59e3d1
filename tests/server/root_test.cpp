// Confinement beneath ROOT: the name rules, and both resolvers against a real directory tree with
// symlinks pointing in and out, a FIFO, a directory and a device node.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "support/files.hpp"
#include "support/temp_dir.hpp"
#include "tftp/posix/root.hpp"

namespace tftp::posix {
namespace {

std::string checked(std::string_view name) {
  auto result = check_name(name);
  if (result) return *result;
  return "REFUSED: " + result.error().message;
}

bool refused(std::string_view name) { return !check_name(name); }

TEST(CheckName, AcceptsPlainNamesAndNormalisesSeparators) {
  EXPECT_EQ(checked("f"), "f");
  EXPECT_EQ(checked("pxelinux.cfg/default"), "pxelinux.cfg/default");
  EXPECT_EQ(checked("boot\\bcd"), "boot/bcd");  // Windows separator
  EXPECT_EQ(checked("a//b"), "a/b");
  EXPECT_EQ(checked("./a/./b/"), "a/b");
  EXPECT_EQ(checked("....//x"), "..../x");       // "...." is an ordinary name, nothing stripped
  EXPECT_EQ(checked("...x"), "...x");
  EXPECT_EQ(checked("caf\xc3\xa9"), "caf\xc3\xa9");  // UTF-8 bytes pass through
}

TEST(CheckName, RefusesTraversalAbsoluteControlAndLength) {
  for (const char* name : {"..", "../x", "..\\x", "sub/../../x", "a/../b", "a/..", "a\\..\\..\\x", "/etc/passwd",
                           "\\x", "/", "", ".", "./", "a\nb", "a\tb", "\x7f", "x\x1b[2J"}) {
    EXPECT_TRUE(refused(name)) << name;
  }
  EXPECT_TRUE(refused(std::string(max_name_length + 1, 'a')));
  EXPECT_TRUE(refused(std::string(NAME_MAX + 1, 'a')));
  EXPECT_FALSE(refused(std::string(NAME_MAX, 'a')));
  EXPECT_EQ(check_name("../x").error().code, ErrorCode::access_violation);
}

std::string read_all(int fd) {
  std::string out;
  char buffer[256];
  for (;;) {
    const auto n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) return out;
    out.append(buffer, static_cast<std::size_t>(n));
  }
}

class RootTree : public ::testing::TestWithParam<Resolver> {
 protected:
  void SetUp() override {
    namespace fs = std::filesystem;
    test::write_file(outside_.path() / "secret", "SECRET");
    fs::create_directories(dir_.path() / "root" / "sub" / "deeper");
    test::write_file(root() / "f", "hello");
    test::write_file(root() / "sub" / "g", "in sub");
    fs::create_symlink(outside_.path() / "secret", root() / "abs_out");
    fs::create_symlink("../../" + outside_.path().filename().string() + "/secret", root() / "rel_out");
    fs::create_symlink(outside_.path(), root() / "dir_out");
    fs::create_symlink("f", root() / "rel_in");
    fs::create_symlink("sub", root() / "sub_link");
    fs::create_symlink("/proc/self/root/etc/hostname", root() / "magic");
    ASSERT_EQ(::mkfifo((root() / "fifo").c_str(), 0644), 0);
    if (GetParam() == Resolver::openat2) {
      try {
        Root probe(root().string(), Resolver::openat2);
      } catch (const std::system_error&) {
        GTEST_SKIP() << "openat2 is not available on this kernel; the fallback resolver is tested instead";
      }
    }
  }

  std::filesystem::path root() const { return dir_.path() / "root"; }
  Root make_root() const { return Root(root().string(), GetParam()); }

  std::string read(std::string_view name) const {
    auto result = make_root().open_for_read(name);
    if (result) return read_all(result->get());
    return "ERROR " + std::to_string(static_cast<int>(result.error().code));
  }

  test::TempDir dir_;
  test::TempDir outside_;
};

TEST_P(RootTree, ServesRegularFilesInside) {
  EXPECT_EQ(read("f"), "hello");
  EXPECT_EQ(read("sub/g"), "in sub");
  EXPECT_EQ(read("sub\\g"), "in sub");
  EXPECT_EQ(read("missing"), "ERROR 1");
  EXPECT_EQ(read("sub/missing/x"), "ERROR 1");
  EXPECT_EQ(read("f/x"), "ERROR 1");  // ENOTDIR reads as not found
}

TEST_P(RootTree, NoTraversalReturnsAByteFromOutside) {
  for (const char* name : {"../x", "/etc/passwd", "..\\x", "....//x", "sub/../../x", "abs_out", "rel_out",
                           "dir_out/secret", "magic", "../root/f", "sub/../f"}) {
    const auto got = read(name);
    EXPECT_EQ(got.rfind("ERROR ", 0), 0U) << name << " gave " << got;
    EXPECT_EQ(got.find("SECRET"), std::string::npos) << name;
  }
  EXPECT_EQ(read("/etc/passwd"), "ERROR 2");
  EXPECT_EQ(read("abs_out"), "ERROR 2");
  EXPECT_EQ(read("rel_out"), "ERROR 2");
}

TEST_P(RootTree, SymlinksInsideRootFollowOnlyWithOpenat2) {
  if (GetParam() == Resolver::openat2) {
    EXPECT_EQ(read("rel_in"), "hello");
    EXPECT_EQ(read("sub_link/g"), "in sub");
  } else {
    EXPECT_EQ(read("rel_in"), "ERROR 2");
    EXPECT_EQ(read("sub_link/g"), "ERROR 2");
  }
}

TEST_P(RootTree, RefusesNonRegularFiles) {
  EXPECT_EQ(read("fifo"), "ERROR 2");  // and does not block: the open is O_NONBLOCK
  EXPECT_EQ(read("sub"), "ERROR 2");
  EXPECT_EQ(read("sub/deeper"), "ERROR 2");
  if (::mknod((root() / "null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0) {
    EXPECT_EQ(read("null"), "ERROR 2");
  }
}

TEST_P(RootTree, UploadTargetsStayInsideAndReportExistence) {
  const Root r = make_root();
  auto fresh = r.open_for_upload("sub/new");
  ASSERT_TRUE(fresh.has_value());
  auto& target = *fresh;
  EXPECT_EQ(target.leaf, "new");
  EXPECT_FALSE(target.exists);
  struct stat dir_stat {}, sub_stat {};
  ASSERT_EQ(::fstat(target.directory.get(), &dir_stat), 0);
  ASSERT_EQ(::stat((root() / "sub").c_str(), &sub_stat), 0);
  EXPECT_EQ(dir_stat.st_ino, sub_stat.st_ino);

  auto existing = r.open_for_upload("f");
  ASSERT_TRUE(existing.has_value());
  EXPECT_TRUE(existing->exists);

  for (const char* name : {"../x", "/tmp/x", "..\\x", "dir_out/x", "abs_out", "rel_in", "fifo", "sub", "missing/x"}) {
    EXPECT_FALSE(r.open_for_upload(name).has_value()) << name;
  }
}

// Per-client roots (--unique-root): a directory beneath ROOT becomes a root of its own, confined beneath it.
TEST_P(RootTree, SubdirectoryIsARootConfinedBeneathIt) {
  std::filesystem::create_symlink("../f", root() / "sub" / "up");
  const Root r = make_root();
  const auto missing = r.subdirectory("missing");
  EXPECT_TRUE(missing.has_value() && !*missing);
  const auto file = r.subdirectory("f");
  EXPECT_TRUE(file.has_value() && !*file);  // a file is no client directory
  auto found = r.subdirectory("sub");
  ASSERT_TRUE(found.has_value() && *found);
  const auto& sub = **found;
  auto read_sub = [&](std::string_view name) {
    auto result = sub.open_for_read(name);
    if (result) return read_all(result->get());
    return "ERROR " + std::to_string(static_cast<int>(result.error().code));
  };
  EXPECT_EQ(read_sub("g"), "in sub");
  EXPECT_EQ(read_sub("f"), "ERROR 1");  // ROOT's files are not the client's
  EXPECT_EQ(read_sub("../f"), "ERROR 2");
  EXPECT_EQ(read_sub("up"), "ERROR 2");  // a symlink leaving the client's directory, even into ROOT
  EXPECT_TRUE(sub.open_for_upload("new").has_value());
  EXPECT_FALSE(sub.open_for_upload("../new").has_value());
}

TEST_P(RootTree, SubdirectoryThatLeavesRootIsRefusedNotSkipped) {
  const Root r = make_root();
  for (const char* name : {"dir_out", "abs_out", "..", "../root", "a/../..", ""}) {
    EXPECT_FALSE(r.subdirectory(name).has_value()) << name;
  }
  // A symlink to a directory inside ROOT: followed by openat2, refused by the component walk.
  auto linked = r.subdirectory("sub_link");
  if (GetParam() == Resolver::openat2) {
    EXPECT_TRUE(linked.has_value() && *linked);
  } else {
    EXPECT_FALSE(linked.has_value());
  }
}

INSTANTIATE_TEST_SUITE_P(Resolvers, RootTree, ::testing::Values(Resolver::openat2, Resolver::component_walk),
                         [](const ::testing::TestParamInfo<Resolver>& param_info) {
                           return param_info.param == Resolver::openat2 ? std::string("openat2")
                                                                        : std::string("component_walk");
                         });

TEST(Root, MissingRootThrows) { EXPECT_THROW(Root("/nonexistent/tftp-root-for-test"), std::system_error); }

}  // namespace
}  // namespace tftp::posix
