// printable(): text from the network made safe for a terminal.
#include <gtest/gtest.h>

#include "tftp/printable.hpp"

namespace tftp {
namespace {

TEST(Printable, ControlsAreEscapedAndTextIsKept) {
  EXPECT_EQ(printable("File not found"), "File not found");
  EXPECT_EQ(printable("\x1b]0;x\x07"), "\\x1b]0;x\\x07");
  EXPECT_EQ(printable("a\r\nb\tc\x7f"), "a\\x0d\\x0ab\\x09c\\x7f");
  EXPECT_EQ(printable(std::string_view("nul\0end", 7)), "nul\\x00end");
  EXPECT_EQ(printable("back\\slash"), "back\\\\slash");  // an escape cannot be forged
}

TEST(Printable, C1ControlsAreEscapedRawOrAsUtf8) {
  EXPECT_EQ(printable("\x9b" "31m"), "\\x9b31m");        // CSI on an 8-bit terminal
  EXPECT_EQ(printable("\xc2\x9b" "31m"), "\\xc2\\x9b31m");  // U+009B
  EXPECT_EQ(printable("\xc2\x85"), "\\xc2\\x85");           // U+0085 NEL
}

TEST(Printable, Utf8TextPassesAndBrokenUtf8IsEscaped) {
  EXPECT_EQ(printable("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80"), "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80");
  EXPECT_EQ(printable("\xc2\xa0"), "\xc2\xa0");       // U+00A0, the first after the C1 range
  EXPECT_EQ(printable("\xc3("), "\\xc3(");             // a lead byte without its continuation
  EXPECT_EQ(printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a UTF-16 surrogate
  EXPECT_EQ(printable("\xc0\xaf"), "\\xc0\\xaf");           // an over-long '/'
  EXPECT_EQ(printable("\xe2\x82"), "\\xe2\\x82");           // cut short
}

TEST(Printable, BidiOverridesAreEscaped) {
  EXPECT_EQ(printable("a\xe2\x80\xae" "b"), "a\\xe2\\x80\\xaeb");  // U+202E RIGHT-TO-LEFT OVERRIDE
  EXPECT_EQ(printable("\xe2\x81\xa6"), "\\xe2\\x81\\xa6");         // U+2066 LEFT-TO-RIGHT ISOLATE
}

}  // namespace
}  // namespace tftp
