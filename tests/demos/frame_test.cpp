// FrameDecoder: TCP hands over arbitrary slices of the stream; the decoder must give back exactly the frames sent.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "frame.hpp"
#include "support/bytes.hpp"

namespace demos {
namespace {

using tftp::test::byte_view;
using tftp::test::text_of;

std::vector<std::byte> stream_of(const std::vector<std::string>& payloads) {
  std::vector<std::byte> out;
  for (const auto& p : payloads) {
    auto frame = encode_frame(byte_view(p));
    EXPECT_TRUE(frame.has_value());
    out.insert(out.end(), frame->begin(), frame->end());
  }
  return out;
}

std::vector<std::string> drain(FrameDecoder& decoder) {
  std::vector<std::string> out;
  while (auto frame = decoder.next()) out.push_back(text_of(*frame));
  return out;
}

std::vector<std::byte> raw(std::initializer_list<int> values) {
  std::vector<std::byte> out;
  for (int v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

const std::vector<std::string> sample = {"hello", "", std::string(300, 'x'), "a", std::string("\0\1\2", 3)};

TEST(FrameEncode, HeaderIsBigEndianLength) {
  auto frame = encode_frame(byte_view("abc"));
  ASSERT_TRUE(frame);
  EXPECT_EQ(*frame, (std::vector<std::byte>{std::byte{0}, std::byte{0}, std::byte{0}, std::byte{3},
                                            std::byte{'a'}, std::byte{'b'}, std::byte{'c'}}));
  std::array<std::byte, 4> header{};
  encode_frame_header(0x01020304, header);
  EXPECT_EQ(header, (std::array<std::byte, 4>{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}}));
}

TEST(FrameEncode, RefusesPayloadAboveLimit) {
  const std::string big(max_frame_payload + 1, 'x');
  EXPECT_FALSE(encode_frame(byte_view(big)));
  EXPECT_TRUE(encode_frame(byte_view(std::string_view(big).substr(1))));
  EXPECT_FALSE(encode_frame(byte_view("abcd"), 3));
}

TEST(FrameDecoder, ManyFramesInOneRead) {
  FrameDecoder decoder;
  decoder.feed(stream_of(sample));
  EXPECT_EQ(drain(decoder), sample);
  EXPECT_FALSE(decoder.mid_frame());
}

TEST(FrameDecoder, OneByteAtATime) {
  const auto stream = stream_of(sample);
  FrameDecoder decoder;
  std::vector<std::string> got;
  for (std::byte b : stream) {
    decoder.feed(std::span<const std::byte>(&b, 1));
    for (auto& f : drain(decoder)) got.push_back(f);
  }
  EXPECT_EQ(got, sample);
  EXPECT_FALSE(decoder.mid_frame());
}

TEST(FrameDecoder, EverySplitPointOfTheStream) {
  // Beast's "parsegrind": two reads split at every offset, including inside a header.
  const auto stream = stream_of(sample);
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    FrameDecoder decoder;
    const std::span<const std::byte> all(stream);
    decoder.feed(all.first(split));
    auto got = drain(decoder);
    decoder.feed(all.subspan(split));
    for (auto& f : drain(decoder)) got.push_back(f);
    EXPECT_EQ(got, sample) << "split at " << split;
  }
}

TEST(FrameDecoder, ZeroLengthFrameIsAFrame) {
  FrameDecoder decoder;
  decoder.feed(raw({0, 0, 0, 0}));
  auto frame = decoder.next();
  ASSERT_TRUE(frame);
  EXPECT_TRUE(frame->empty());
  EXPECT_FALSE(decoder.next());
}

TEST(FrameDecoder, SplitHeaderWaitsForTheRest) {
  FrameDecoder decoder;
  decoder.feed(raw({0, 0}));
  EXPECT_FALSE(decoder.next());
  EXPECT_TRUE(decoder.mid_frame());
  decoder.feed(raw({0, 2, 'h'}));
  EXPECT_FALSE(decoder.next());
  decoder.feed(raw({'i', 0}));
  auto frame = decoder.next();
  ASSERT_TRUE(frame);
  EXPECT_EQ(text_of(*frame), "hi");
  EXPECT_TRUE(decoder.mid_frame());  // the 0 that starts the next header
}

TEST(FrameDecoder, TruncatedStreamLeavesAPartialFrame) {
  const auto stream = stream_of({"complete", "cut short"});
  FrameDecoder decoder;
  decoder.feed(std::span<const std::byte>(stream).first(stream.size() - 1));
  EXPECT_EQ(drain(decoder), std::vector<std::string>{"complete"});
  EXPECT_TRUE(decoder.mid_frame());
  EXPECT_FALSE(decoder.failed());
}

TEST(FrameDecoder, LargestPayloadAccepted) {
  const std::string big(max_frame_payload, 'z');
  FrameDecoder decoder;
  decoder.feed(stream_of({big}));
  auto frame = decoder.next();
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->size(), max_frame_payload);
}

TEST(FrameDecoder, OversizeLengthFailsForGood) {
  FrameDecoder decoder;
  decoder.feed(stream_of({"ok"}));
  decoder.feed(raw({0, 1, 0, 1}));  // 65537: one more than allowed
  EXPECT_EQ(drain(decoder), std::vector<std::string>{"ok"});
  EXPECT_TRUE(decoder.failed());
  EXPECT_EQ(decoder.rejected_length(), max_frame_payload + 1);
  EXPECT_FALSE(decoder.mid_frame());
  decoder.feed(stream_of({"later"}));
  EXPECT_FALSE(decoder.next());
}

TEST(FrameDecoder, OversizeDetectedFromTheHeaderAlone) {
  FrameDecoder decoder(10);
  decoder.feed(raw({0xFF, 0xFF, 0xFF, 0xFF}));
  EXPECT_FALSE(decoder.next());
  EXPECT_TRUE(decoder.failed());
  EXPECT_EQ(decoder.rejected_length(), 0xFFFFFFFFU);
}

TEST(FrameDecoder, SmallLimitIsInclusive) {
  FrameDecoder decoder(3);
  decoder.feed(stream_of({"abc"}));
  auto frame = decoder.next();
  ASSERT_TRUE(frame);
  EXPECT_EQ(text_of(*frame), "abc");
  decoder.feed(stream_of({"abcd"}));
  EXPECT_FALSE(decoder.next());
  EXPECT_TRUE(decoder.failed());
}

}  // namespace
}  // namespace demos
