// The remap engine on rule tables, one group per operation and escape. Expected values follow tftpd-hpa 5.2's
// remap.c; the differential tests check the interesting ones against the real in.tftpd.

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "support/files.hpp"
#include "support/temp_dir.hpp"
#include "tftp/server/remap.hpp"

namespace {

using tftp::server::RemapContext;
using tftp::server::RemapError;
using tftp::server::RemapRules;
using tftp::server::RemapRefusal;

RemapContext get_from(const char* address) { return RemapContext{false, asio::ip::make_address(address)}; }
RemapContext put_from(const char* address) { return RemapContext{true, asio::ip::make_address(address)}; }

RemapRules parsed(std::string_view text) {
  auto result = RemapRules::parse(text, "rules");
  if (!result) {
    ADD_FAILURE() << "parse failed: " << result.error().to_string();
    return std::move(RemapRules::parse("", "empty")).value();
  }
  return std::move(result).value();
}

// The mapped name, or "REFUSED: message".
std::string map(std::string_view rules, std::string_view name, const RemapContext& context = get_from("127.0.0.1")) {
  const auto result = parsed(rules).apply(name, context);
  if (!result) return "REFUSED: " + result.error().message;
  return result.value();
}

RemapError parse_error(std::string_view text) {
  auto result = RemapRules::parse(text, "tftpd.remap");
  if (!result) return result.error();
  ADD_FAILURE() << "expected a parse error for: " << text;
  return {};
}

struct Case {
  const char* rules;
  const char* name;
  const char* expected;
};

void check_table(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    EXPECT_EQ(map(c.rules, c.name), c.expected) << "rules: " << c.rules << "\nname: " << c.name;
  }
}

TEST(RemapParse, CommentsBlankLinesAndTrailingTextMakeNoRules) {
  EXPECT_EQ(parsed("").size(), 0U);
  EXPECT_EQ(parsed("# only a comment\n\n   \t\n#r a b\n").size(), 0U);
  EXPECT_EQ(parsed("r a b # comment\nr c d extra words ignored\n").size(), 2U);
  EXPECT_EQ(map("r a b c d\n", "a"), "b");
}

TEST(RemapParse, CrLfLinesAndNoFinalNewline) {
  EXPECT_EQ(map("r a b\r\nr b c", "a"), "c");
}

TEST(RemapParse, BadLinesGiveTheLineAndTheReason) {
  const RemapError flag = parse_error("# header\n\nrx a b\n");
  EXPECT_EQ(flag.line, 3U);
  EXPECT_EQ(flag.reason, "invalid operation \"x\" (valid: r g i e s a G P 4 6 ~)");
  EXPECT_EQ(flag.to_string().rfind("tftpd.remap:3: ", 0), 0U) << flag.to_string();

  EXPECT_EQ(parse_error("r~ a b\n").reason, "r rules cannot be inverted (~)");
  EXPECT_EQ(parse_error("r\n").reason, "no regex after the operations");
  // '#' ends the operations token, so the regex is missing.
  EXPECT_EQ(parse_error("r#a b\n").reason, "no regex after the operations");
  const RemapError regex = parse_error("r a b\nr (unclosed x\n");
  EXPECT_EQ(regex.line, 2U);
  // After the colon comes the C++ library's own text for the regex error.
  EXPECT_TRUE(regex.reason.starts_with("bad regex \"(unclosed\": ")) << regex.reason;
  EXPECT_EQ(parse_error(std::string("r ") + std::string(RemapRules::max_line_length, 'a') + " b\n").reason,
            "line longer than " + std::to_string(RemapRules::max_line_length) + " bytes");
}

TEST(RemapParse, LoadReadsAFileAndReportsAMissingOne) {
  const tftp::test::TempDir dir;
  const std::string path = (dir / "tftpd.remap").string();
  tftp::test::write_file(path, "rg \\\\ /\nr ^/+\n");
  auto loaded = RemapRules::load(path);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded.value().apply("\\a\\b", get_from("127.0.0.1")).value(), "a/b");
  tftp::test::write_file(path, "r a b\nq a b\n");
  auto bad = RemapRules::load(path);
  ASSERT_TRUE(!bad.has_value());
  EXPECT_EQ(bad.error().to_string().rfind(path + ":2: ", 0), 0U);

  auto missing = RemapRules::load("/nonexistent/tftpd.remap");
  ASSERT_TRUE(!missing.has_value());
  EXPECT_EQ(missing.error().line, 0U);
}

TEST(RemapReplace, ReplacesTheFirstMatchAndKeepsTheRest) {
  check_table({
      {"r b X\n", "abcb", "aXcb"},
      {"r ^/\n", "/boot/a", "boot/a"},          // empty replacement deletes
      {"r ^/+\n", "///boot", "boot"},
      {"r zzz y\n", "abc", "abc"},              // no match, no change
      {"r ^BOOT boot\n", "boot/x", "boot/x"},   // case-sensitive by default
      {"r \\\\ /\n", "a\\b\\c", "a/b\\c"},      // regex \\ is one backslash
  });
}

TEST(RemapGlobal, RepeatsUntilNoMatchAndNeedsR) {
  check_table({
      {"rg \\\\ /\n", "\\Boot\\X64\\wdsnbp.com", "/Boot/X64/wdsnbp.com"},
      {"rg a b\n", "aaa", "bbb"},
      {"g a b\n", "aaa", "aaa"},  // g without r does nothing (and is no error)
      {"rg // /\n", "a////b", "a/b"},
  });
}

TEST(RemapIgnoreCase, IMatchesAnyCase) {
  check_table({
      {"ri ^boot/ BOOT/\n", "BoOt/x", "BOOT/x"},
      {"ri ^(pxelinux\\.cfg)/ \\1/\n", "PXELINUX.CFG/default", "PXELINUX.CFG/default"},
  });
}

TEST(RemapEscapes, GroupsCaseFoldingAndLiterals) {
  check_table({
      {"r ^(a)|(b)$ [\\1][\\2]\n", "b", "[][b]"},            // a group that did not take part is empty
      {"r ^(.)(.)(.)(.)(.)(.)(.)(.)(.)(.) \\9\\8\\7\\6\\5\\4\\3\\2\\1\\0\n", "abcdefghij",
       "ihgfedcbaabcdefghij"},
      {"r .* \\U\\0\n", "Boot/x.efi", "BOOT/X.EFI"},
      {"r .* \\L\\0\n", "Boot/X.EFI", "boot/x.efi"},
      {"r (.)(.*) \\U\\1\\E\\2\n", "abc", "Abc"},
      {"r a \\Lx\\UyZ\n", "a", "xYZ"},                     // folding applies to literal text too
      {"r a \\\\\n", "a", "\\"},
      {"r a \\#\n", "a", "#"},
      {"r a x\\ y\n", "a", "x y"},
      {"r a\\ b X\n", "a b", "X"},                           // backslash-space in the regex
      {"r a \\q\\.\n", "a", "q."},                           // any other escape is the byte itself
      {"r a b\\", "a", "b\\"},                               // a trailing backslash at end of file
      {"r a b\\\n", "a", "b\n"},                             // ... escapes the newline that fgets keeps
  });
}

TEST(RemapEscapes, ClientAddressInTextAndHex) {
  EXPECT_EQ(map("r ^ \\i/\n", "pxelinux.0", get_from("192.0.2.169")), "192.0.2.169/pxelinux.0");
  EXPECT_EQ(map("r ^ \\x/\n", "pxelinux.0", get_from("192.0.2.169")), "C00002A9/pxelinux.0");
  EXPECT_EQ(map("r ^ \\L\\x/\n", "f", get_from("192.0.2.169")), "c00002a9/f");
  EXPECT_EQ(map("r ^ \\i/\n", "f", get_from("2001:db8::1")), "2001:db8::1/f");
  EXPECT_EQ(map("r ^ \\x/\n", "f", get_from("2001:db8::1")), "20010DB8000000000000000000000001/f");
  EXPECT_EQ(map("r ^ \\i-\\x/\n", "f", get_from("::ffff:10.0.0.1")), "10.0.0.1-0A000001/f");
}

TEST(RemapEnd, EStopsAfterAMatchingRule) {
  check_table({
      {"e ^keep/\nr .* X\n", "keep/a", "keep/a"},
      {"e ^keep/\nr .* X\n", "other", "X"},
      {"re ^a b\nr b c\n", "a", "b"},
      {"re ^a b\nr b c\n", "b", "c"},  // e only ends processing when its rule matched
      {"res ^a b\nr b c\n", "a", "b"},  // e wins over s
  });
}

TEST(RemapRestart, SRestartsAtTheSecondRuleLikeTftpdHpa) {
  // Rule 1 would turn "x" into "y"; the restart after rule 2 resumes at rule 2, so rule 1 never sees "x".
  check_table({
      {"r ^x y\nrs ^a x\nr ^x z\n", "a", "z"},
      {"r ^q r\nrs ^a b\nrs ^b c\nr ^c d\n", "a", "d"},
  });
}

TEST(RemapRestart, AnEndlessRestartHitsTheStepLimit) {
  const auto result = parsed("s .\ns .\n").apply("a", get_from("127.0.0.1"));
  ASSERT_TRUE(!result.has_value());
  EXPECT_EQ(result.error().why, RemapRefusal::Why::loop_limit);
  EXPECT_EQ(result.error().message, "Remap table failure");
}

TEST(RemapRestart, TheStepLimitCountsEveryApplicableRuleVisited) {
  std::string many;
  for (unsigned i = 0; i < RemapRules::deadman_steps; ++i) many += "r zz y\n";
  EXPECT_EQ(map(many, "a"), "a");
  EXPECT_EQ(map(many + "r zz y\n", "a"), "REFUSED: Remap table failure");
  EXPECT_EQ(map(many + "rP zz y\n", "a"), "a");  // not applicable to a GET, so not a step
}

TEST(RemapAbort, ARefusesWithTheDefaultOrTheExpandedMessage) {
  check_table({
      {"a ^secret\n", "secret/key", "REFUSED: Access denied"},
      {"a ^secret\n", "public/key", "public/key"},
      {"a ^secret No\\ way\n", "secret/key", "REFUSED: No way/key"},  // the text around the match stays
      {"ai \\.\\.\n", "a/../b", "REFUSED: Access denied"},
      {"r ^/\na ^etc/\n", "/etc/passwd", "REFUSED: Access denied"},
      {"ra ^a b\n", "a", "REFUSED: b"},  // a wins over r
  });
  const auto result = parsed("r x y\na ^s\n").apply("s", get_from("127.0.0.1"));
  ASSERT_TRUE(!result.has_value());
  EXPECT_EQ(result.error().line, 2U);
  EXPECT_EQ(result.error().why, RemapRefusal::Why::rule);
}

TEST(RemapInverse, TildeActsWhenTheRegexDoesNotMatch) {
  check_table({
      {"~a ^boot/\n", "boot/x", "boot/x"},
      {"~a ^boot/\n", "etc/x", "REFUSED: Access denied"},
      {"~a ^boot/ only\\ boot\n", "etc/x", "REFUSED: only boot"},
      {"~e ^a\nr . X\n", "b", "b"},
      {"~e ^a\nr . X\n", "a", "X"},
  });
}

TEST(RemapRequestKind, GAndPSelectRrqOrWrq) {
  const char* rules = "rG ^ get/\nrP ^ put/\n";
  EXPECT_EQ(map(rules, "f", get_from("127.0.0.1")), "get/f");
  EXPECT_EQ(map(rules, "f", put_from("127.0.0.1")), "put/f");
  // Both letters: the last one wins, as in tftpd-hpa.
  EXPECT_EQ(map("rGP ^ x/\n", "f", get_from("127.0.0.1")), "f");
  EXPECT_EQ(map("rGP ^ x/\n", "f", put_from("127.0.0.1")), "x/f");
  EXPECT_EQ(map("aP .\n", "f", put_from("127.0.0.1")), "REFUSED: Access denied");
  EXPECT_EQ(map("aP .\n", "f", get_from("127.0.0.1")), "f");
}

TEST(RemapFamily, FourAndSixSelectTheClientFamily) {
  const char* rules = "r4 ^ v4/\nr6 ^ v6/\n";
  EXPECT_EQ(map(rules, "f", get_from("127.0.0.1")), "v4/f");
  EXPECT_EQ(map(rules, "f", get_from("::1")), "v6/f");
  EXPECT_EQ(map(rules, "f", get_from("::ffff:127.0.0.1")), "v4/f");
  EXPECT_EQ(map("r46 ^ both/\n", "f", get_from("::1")), "f");  // both letters: no client qualifies
}

TEST(RemapBounds, AGlobalRuleThatKeepsMatchingIsRefused) {
  const auto looping = parsed("rg a a\n").apply("a", get_from("127.0.0.1"));
  ASSERT_TRUE(!looping.has_value());
  EXPECT_EQ(looping.error().why, RemapRefusal::Why::loop_limit);
  EXPECT_EQ(looping.error().message, "Remap table failure");

  const auto growing = parsed("rg x xx\n").apply("x", get_from("127.0.0.1"));
  ASSERT_TRUE(!growing.has_value());
  EXPECT_EQ(growing.error().why, RemapRefusal::Why::too_long);

  const auto doubling = parsed("r .* \\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\n").apply(std::string(200, 'a'), get_from("::1"));
  ASSERT_TRUE(!doubling.has_value());
  EXPECT_EQ(doubling.error().why, RemapRefusal::Why::too_long);
}

TEST(RemapBounds, ALegitimateGlobalRuleOnALongNameStaysWithinTheLimits) {
  std::string name;
  for (int i = 0; i < 400; ++i) name += "\\a";
  std::string expected;
  for (int i = 0; i < 400; ++i) expected += "/a";
  EXPECT_EQ(map("rg \\\\ /\n", name), expected);
}

TEST(RemapInput, TheNameEndsAtItsFirstNul) {
  EXPECT_EQ(map("r $ .x\n", std::string_view("ab\0cd", 5)), "ab.x");
}

TEST(RemapPxe, WindowsPathsAndFirmwareGarbage) {
  const char* rules =
      "rg \\\\ /          # backslashes are separators\n"
      "r ^/+              # no leading slash\n"
      "rg [^[:print:]]    # drop bytes some UEFI ROMs append (0xFF)\n"
      "r .* \\L\\0         # the tree is lower case\n";
  check_table({
      {rules, "\\Boot\\X64\\wdsnbp.com", "boot/x64/wdsnbp.com"},
      {rules, "/pxelinux.0\xff\xff", "pxelinux.0"},
      {rules, "boot/bcd", "boot/bcd"},
  });
}

}  // namespace

// A back-reference in a pattern makes matching exponential: (.*)(.*)(.*)\1\2\3x against a 50-byte name
// stalled the server 2.8 s. Refused at load time; a backslash-digit in a bracket or after an escaped
// backslash is no back-reference, and replacements keep \1 to \9.
namespace {

TEST(RemapBounds, BackReferencesInPatternsAreRefusedAtLoadTime) {
  const auto error = parse_error("r (.*)(.*)(.*)\\1\\2\\3x y\n");
  EXPECT_EQ(error.line, 1U);
  EXPECT_NE(error.reason.find("back-reference"), std::string::npos) << error.reason;
  EXPECT_NE(parse_error("r a b\nr ^(a)\\1$ b\n").reason.find("back-reference"), std::string::npos);
  EXPECT_EQ(map("r [\\1]x y\n", "1x"), "y");          // in a bracket: the characters \ and 1
  EXPECT_EQ(map("r a\\\\1 y\n", "a\\1"), "y");        // an escaped backslash, then 1
  EXPECT_EQ(map("r []\\1]x y\n", "]x"), "y");         // a leading ] is part of the bracket
  EXPECT_EQ(map("r [[:digit:]\\1]x y\n", "7x"), "y");
  EXPECT_EQ(map("r ^(a)(b)$ \\2\\1\n", "ab"), "ba");  // replacements are untouched
}

}  // namespace
