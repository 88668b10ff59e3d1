// The file-send header: strict, so that a malformed or ambiguous header is refused rather than guessed at.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <variant>

#include "json_header.hpp"

namespace demos {
namespace {

FileHeader ok(std::string_view text) {
  auto result = parse_file_header(text);
  if (auto* error = std::get_if<HeaderError>(&result)) {
    ADD_FAILURE() << "refused " << text << ": " << describe(*error);
    return {};
  }
  return std::get<FileHeader>(result);
}

std::optional<HeaderError> refusal(std::string_view text) {
  auto result = parse_file_header(text);
  if (auto* error = std::get_if<HeaderError>(&result)) return *error;
  return std::nullopt;
}

TEST(JsonHeader, ParsesBothOrdersAndWhitespace) {
  EXPECT_EQ(ok(R"({"name":"a.txt","size":12})"), (FileHeader{"a.txt", 12}));
  EXPECT_EQ(ok(" \r\n\t{ \"size\" : 0 , \"name\" : \"b\" } \n"), (FileHeader{"b", 0}));
  EXPECT_EQ(ok(R"({"name":"x","size":9007199254740991})"), (FileHeader{"x", max_json_integer}));
}

TEST(JsonHeader, DecodesEscapesToUtf8) {
  EXPECT_EQ(ok(R"({"name":"q\"b\\s\/n\n\t","size":1})").name, "q\"b\\s/n\n\t");
  EXPECT_EQ(ok(R"({"name":"\u00e9\u20ac","size":1})").name, "\xC3\xA9\xE2\x82\xAC");
  EXPECT_EQ(ok(R"({"name":"\ud83d\ude00","size":1})").name, "\xF0\x9F\x98\x80");
  EXPECT_EQ(ok("{\"name\":\"\xC3\xA9\",\"size\":1}").name, "\xC3\xA9");
}

TEST(JsonHeader, RefusesWhatIsNotOneObject) {
  EXPECT_EQ(refusal(""), HeaderError::not_an_object);
  EXPECT_EQ(refusal("[]"), HeaderError::not_an_object);
  EXPECT_EQ(refusal(R"({"name":"a","size":1)"), HeaderError::not_an_object);
  EXPECT_EQ(refusal(R"({"name":"a","size":1}x)"), HeaderError::bad_syntax);
  EXPECT_EQ(refusal(R"({"name":"a","size":1}{})"), HeaderError::bad_syntax);
  EXPECT_EQ(refusal(R"({"name":"a","size":1,})"), HeaderError::bad_syntax);
  EXPECT_EQ(refusal(R"({"name" "a","size":1})"), HeaderError::bad_syntax);
  EXPECT_EQ(refusal(R"({"name":"a" "size":1})"), HeaderError::bad_syntax);
  EXPECT_EQ(refusal(R"({name:"a","size":1})"), HeaderError::bad_syntax);
  EXPECT_EQ(refusal(std::string(max_json_header + 1, ' ')), HeaderError::too_long);
}

TEST(JsonHeader, RefusesMissingUnknownAndRepeatedMembers) {
  EXPECT_EQ(refusal("{}"), HeaderError::missing_member);
  EXPECT_EQ(refusal(R"({"name":"a"})"), HeaderError::missing_member);
  EXPECT_EQ(refusal(R"({"size":1})"), HeaderError::missing_member);
  EXPECT_EQ(refusal(R"({"name":"a","size":1,"mode":"x"})"), HeaderError::unknown_member);
  EXPECT_EQ(refusal(R"({"Name":"a","size":1})"), HeaderError::unknown_member);
  EXPECT_EQ(refusal(R"({"name":"a","name":"b","size":1})"), HeaderError::duplicate_member);
  EXPECT_EQ(refusal(R"({"size":1,"name":"a","size":2})"), HeaderError::duplicate_member);
}

TEST(JsonHeader, RefusesWrongTypesAndBadNumbers) {
  EXPECT_EQ(refusal(R"({"name":1,"size":1})"), HeaderError::wrong_type);
  EXPECT_EQ(refusal(R"({"name":null,"size":1})"), HeaderError::wrong_type);
  EXPECT_EQ(refusal(R"({"name":"a","size":"1"})"), HeaderError::wrong_type);
  EXPECT_EQ(refusal(R"({"name":"a","size":true})"), HeaderError::wrong_type);
  EXPECT_EQ(refusal(R"({"name":"a","size":-1})"), HeaderError::bad_number);
  EXPECT_EQ(refusal(R"({"name":"a","size":01})"), HeaderError::bad_number);
  EXPECT_EQ(refusal(R"({"name":"a","size":1.5})"), HeaderError::bad_number);
  EXPECT_EQ(refusal(R"({"name":"a","size":1e3})"), HeaderError::bad_number);
  EXPECT_EQ(refusal(R"({"name":"a","size":9007199254740992})"), HeaderError::bad_number);
  EXPECT_EQ(refusal(R"({"name":"a","size":99999999999999999999999})"), HeaderError::bad_number);
}

TEST(JsonHeader, RefusesBadStrings) {
  EXPECT_EQ(refusal(R"({"name":"a)"), HeaderError::bad_string);
  EXPECT_EQ(refusal("{\"name\":\"a\nb\",\"size\":1}"), HeaderError::bad_string);
  EXPECT_EQ(refusal(R"({"name":"\x","size":1})"), HeaderError::bad_string);
  EXPECT_EQ(refusal(R"({"name":"\u00","size":1})"), HeaderError::bad_string);
  EXPECT_EQ(refusal(R"({"name":"\u0000","size":1})"), HeaderError::bad_string);
  EXPECT_EQ(refusal(R"({"name":"\ud83d","size":1})"), HeaderError::bad_string);
  EXPECT_EQ(refusal(R"({"name":"\ude00","size":1})"), HeaderError::bad_string);
  EXPECT_EQ(refusal(R"({"name":"\ud83d\u0041","size":1})"), HeaderError::bad_string);
  EXPECT_EQ(refusal("{\"name\":\"\xC0\xAF\",\"size\":1}"), HeaderError::bad_string);      // overlong "/"
  EXPECT_EQ(refusal("{\"name\":\"\xED\xA0\x80\",\"size\":1}"), HeaderError::bad_string);  // surrogate
  EXPECT_EQ(refusal("{\"name\":\"\xC3\",\"size\":1}"), HeaderError::bad_string);          // cut sequence
  EXPECT_EQ(refusal("{\"name\":\"\xFF\",\"size\":1}"), HeaderError::bad_string);
  EXPECT_EQ(refusal(std::string("{\"name\":\"a\0b\",\"size\":1}", 23)), HeaderError::bad_string);
}

TEST(JsonHeader, EveryTruncationIsRefused) {
  const std::string full = R"({"name":"\u00e9 x","size":123})";
  for (std::size_t n = 0; n < full.size(); ++n) {
    EXPECT_TRUE(refusal(full.substr(0, n))) << "accepted prefix " << full.substr(0, n);
  }
}

TEST(JsonHeader, EmitRoundTrips) {
  for (const FileHeader& h : {FileHeader{"plain.txt", 0}, FileHeader{"q\"b\\s/\n\x01\x1f", 42},
                              FileHeader{"\xC3\xA9\xF0\x9F\x98\x80", max_json_integer}}) {
    const std::string text = emit_file_header(h).value_or("");
    EXPECT_EQ(ok(text), h) << text;
  }
  EXPECT_EQ(emit_file_header({"a\"b", 7}), R"({"name":"a\"b","size":7})");
  EXPECT_EQ(emit_file_header({"\x01", 1}), R"({"name":"\u0001","size":1})");
}

// A JSON string holds UTF-8 only: such a name has no header, rather than a header that is not JSON.
TEST(JsonHeader, EmitRefusesANameThatIsNotUtf8) {
  EXPECT_FALSE(emit_file_header({"caf\xE9", 1}));
  EXPECT_FALSE(emit_file_header({"\xED\xA0\x80", 1}));  // a surrogate
}

// Texts that a general JSON reader takes, or takes differently (the last of two members wins, a byte order
// mark is skipped, a NUL byte ends the text, 2^64 becomes a float): the header's rules refuse them.
TEST(JsonHeader, RefusesWhatAGeneralJsonReaderAccepts) {
  const std::pair<std::string, HeaderError> cases[] = {
      {"\xEF\xBB\xBF{\"name\":\"a\",\"size\":1}", HeaderError::not_an_object},
      {R"({"name":"a","size":1}/**/)", HeaderError::bad_syntax},
      {std::string("{\"name\":\"a\",\"size\":1}\0x", 23), HeaderError::bad_syntax},
      {R"("a")", HeaderError::not_an_object},
      {"1", HeaderError::not_an_object},
      {R"([{"name":"a","size":1}])", HeaderError::not_an_object},
      {R"({"name":{"a":1},"size":1})", HeaderError::wrong_type},
      {R"({"name":["a"],"size":1})", HeaderError::wrong_type},
      {R"({"size":[1],"name":"a"})", HeaderError::wrong_type},
      {R"({"name":"a","size":1,"name":"a"})", HeaderError::duplicate_member},
      {R"({"name":"a","size":-0})", HeaderError::bad_number},
      {R"({"name":"a","size":012})", HeaderError::bad_number},
      {R"({"name":"a","size":-})", HeaderError::bad_number},
      {R"({"name":"a","size":1.})", HeaderError::bad_number},
      {R"({"name":"a","size":18446744073709551615})", HeaderError::bad_number},
      {R"({"name":"a","size":18446744073709551616})", HeaderError::bad_number},
      {"{\"name\":\"\xF4\x90\x80\x80\",\"size\":1}", HeaderError::bad_string},  // above U+10FFFF
      {"{\"n\xFF\":\"a\",\"size\":1}", HeaderError::bad_string},
  };
  for (const auto& [text, error] : cases) EXPECT_EQ(refusal(text), error) << text;
}

// Nesting is refused at its first bracket, however deep it would go.
TEST(JsonHeader, RefusesNestingAtOnce) {
  EXPECT_EQ(refusal(R"({"name":)" + std::string(max_json_header - 8, '[')), HeaderError::wrong_type);
  EXPECT_EQ(refusal(std::string(max_json_header, '[')), HeaderError::not_an_object);
}

}  // namespace
}  // namespace demos
