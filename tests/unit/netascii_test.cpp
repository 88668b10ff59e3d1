// Netascii: exact bytes, every block boundary, checkpoint and re-encode, round trips.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include "support/bytes.hpp"
#include "tftp/netascii.hpp"

namespace tftp::netascii {
namespace {

using test::Bytes;
using test::bytes_of;

// Encodes the whole input in one call into a buffer large enough for anything.
Bytes encode_all(const Bytes& in) {
  Encoder encoder;
  Bytes out(in.size() * 2);
  const auto progress = encoder.encode(in, out);
  EXPECT_EQ(progress.consumed, in.size());
  EXPECT_FALSE(encoder.pending());
  out.resize(progress.written);
  return out;
}

// Decodes the wire bytes split into payloads of at most chunk bytes, then finishes.
Bytes decode_chunked(const Bytes& wire, std::size_t chunk) {
  Decoder decoder;
  Bytes out;
  std::size_t offset = 0;
  do {
    const auto n = std::min(chunk, wire.size() - offset);
    Bytes piece(max_decoded_size(n));
    const auto progress = decoder.decode(std::span(wire).subspan(offset, n), piece);
    EXPECT_EQ(progress.consumed, n) << "an out of n + 1 bytes takes the whole payload";
    out.insert(out.end(), piece.begin(), piece.begin() + static_cast<std::ptrdiff_t>(progress.written));
    offset += n;
  } while (offset < wire.size());
  std::byte last{};
  const auto tail = decoder.finish(std::span(&last, 1));
  if (tail == 1) out.push_back(last);
  EXPECT_FALSE(decoder.held());
  return out;
}

Bytes decode_all(const Bytes& wire) { return decode_chunked(wire, std::max<std::size_t>(wire.size(), 1)); }

// The encoder at the start of a block: what a driver keeps to re-send the block.
struct Checkpoint {
  Encoder encoder;
  std::size_t offset = 0;
};

// Fills one block of blksize bytes from in (read chunk bytes at a time) starting at the checkpoint.
Bytes fill_block(Checkpoint& at, const Bytes& in, std::size_t blksize, std::size_t chunk) {
  Bytes block(blksize);
  std::size_t filled = 0;
  while (filled < blksize && (at.offset < in.size() || at.encoder.pending())) {
    const auto n = std::min(chunk, in.size() - at.offset);
    const auto progress = at.encoder.encode(std::span(in).subspan(at.offset, n), std::span(block).subspan(filled));
    EXPECT_TRUE(progress.consumed > 0 || progress.written > 0) << "no progress with room in the block";
    at.offset += progress.consumed;
    filled += progress.written;
  }
  block.resize(filled);
  return block;
}

// Splits the encoding of in into DATA payloads the way a sender does: full blocks, then a short one
// (possibly empty). Each block is also re-encoded from its checkpoint and must come out the same.
std::vector<Bytes> encode_blocks(const Bytes& in, std::size_t blksize, std::size_t chunk) {
  std::vector<Bytes> blocks;
  Checkpoint at;
  for (;;) {
    Checkpoint start = at;
    blocks.push_back(fill_block(at, in, blksize, chunk));
    Checkpoint retry = start;
    EXPECT_EQ(fill_block(retry, in, blksize, chunk == 1 ? 3 : 1), blocks.back()) << "re-encoding from a checkpoint";
    EXPECT_EQ(retry.offset, at.offset);
    EXPECT_EQ(retry.encoder, at.encoder);
    if (blocks.back().size() < blksize) return blocks;
  }
}

Bytes join(const std::vector<Bytes>& blocks) {
  Bytes out;
  for (const auto& block : blocks) out.insert(out.end(), block.begin(), block.end());
  return out;
}

TEST(NetasciiEncode, ExactBytes) {
  const std::vector<std::pair<std::string, std::string>> table = {
      {"", ""},
      {"abc", "abc"},
      {"\n", std::string("\r\n")},
      {"\r", std::string("\r\0", 2)},
      {"\r\n", std::string("\r\0\r\n", 4)},
      {"a\nb\n", "a\r\nb\r\n"},
      {"\n\n", "\r\n\r\n"},
      {"\r\r", std::string("\r\0\r\0", 4)},
      {std::string("\0x", 2), std::string("\0x", 2)},
      {"\x80\xFF", "\x80\xFF"},
  };
  for (const auto& [local, wire] : table) {
    EXPECT_EQ(encode_all(bytes_of(local)), bytes_of(wire)) << "input size " << local.size();
    EXPECT_EQ(encoded_size(bytes_of(local)), wire.size());
  }
}

TEST(NetasciiDecode, ExactBytesIncludingSloppyInput) {
  const std::vector<std::pair<std::string, std::string>> table = {
      {"", ""},
      {"a\r\nb", "a\nb"},
      {std::string("\r\0", 2), "\r"},
      {"\rx", "\rx"},            // CR before anything else keeps the CR (as tftp-hpa)
      {"\r\r\n", "\r\n"},        // the first CR is kept, the second pairs with LF
      {"\r", "\r"},              // a lone CR at the end of the file is kept
      {"abc\r", "abc\r"},
      {"\n", "\n"},              // a bare LF passes through
      {std::string("\0", 1), std::string("\0", 1)},  // a bare NUL too
      {std::string("\r\r\0", 3), "\r\r"},
  };
  for (const auto& [wire, local] : table) {
    for (std::size_t chunk = 1; chunk <= 4; ++chunk) {
      EXPECT_EQ(decode_chunked(bytes_of(wire), chunk), bytes_of(local)) << "wire size " << wire.size() << " chunk " << chunk;
    }
  }
}

TEST(NetasciiEncode, OutputBufferFullBetweenCrAndSecondHalf) {
  Encoder encoder;
  const auto in = bytes_of("a\n");
  std::byte out[2]{};
  EXPECT_EQ(encoder.encode(in, out), (Step{.consumed = 2, .written = 2}));
  EXPECT_EQ(out[1], std::byte{'\r'});
  EXPECT_TRUE(encoder.pending());
  EXPECT_EQ(encoder.encode({}, std::span(out, 0)), (Step{}));  // no room: nothing happens
  EXPECT_EQ(encoder.encode({}, out), (Step{.consumed = 0, .written = 1}));
  EXPECT_EQ(out[0], std::byte{'\n'});
  EXPECT_FALSE(encoder.pending());
}

TEST(NetasciiDecode, SmallOutputTakesWhatFits) {
  Decoder decoder;
  const auto in = bytes_of("\rxy");
  std::byte out[1]{};
  // The CR needs no room yet; the x makes it a literal CR, which fills the output.
  EXPECT_EQ(decoder.decode(in, out), (Step{.consumed = 1, .written = 1}));
  EXPECT_EQ(out[0], std::byte{'\r'});
  EXPECT_EQ(decoder.decode(std::span(in).subspan(1), out), (Step{.consumed = 1, .written = 1}));
  EXPECT_EQ(out[0], std::byte{'x'});
  EXPECT_EQ(decoder.decode(std::span(in).subspan(2), std::span(out, 0)), (Step{}));
  EXPECT_EQ(decoder.finish(out), 0U);
}

TEST(NetasciiDecode, FinishWithoutRoomKeepsTheHeldCr) {
  Decoder decoder;
  const auto in = bytes_of("\r");
  std::byte out[1]{};
  EXPECT_EQ(decoder.decode(in, out).written, 0U);
  EXPECT_TRUE(decoder.held());
  EXPECT_EQ(decoder.finish(std::span(out, 0)), 0U);
  EXPECT_TRUE(decoder.held());
  EXPECT_EQ(decoder.finish(out), 1U);
  EXPECT_EQ(out[0], std::byte{'\r'});
}

// A CR, an LF and a CR LF at every offset of a short line, so that every pair lands on every boundary of
// every block size 1-8, read from the file in chunks of 1-8 bytes.
TEST(NetasciiBlocks, PairsAtEveryBlockBoundary) {
  for (const std::string special : {"\r", "\n", "\r\n", "\n\r", "\r\r"}) {
    for (std::size_t at = 0; at <= 9; ++at) {
      std::string text(9, 'x');
      text.insert(at, special);
      const auto local = bytes_of(text);
      const auto wire = encode_all(local);
      for (std::size_t blksize = 1; blksize <= 8; ++blksize) {
        for (std::size_t chunk = 1; chunk <= 8; ++chunk) {
          const auto blocks = encode_blocks(local, blksize, chunk);
          ASSERT_EQ(join(blocks), wire) << "at " << at << " blksize " << blksize << " chunk " << chunk;
          for (std::size_t i = 0; i + 1 < blocks.size(); ++i) ASSERT_EQ(blocks[i].size(), blksize);
          ASSERT_LT(blocks.back().size(), blksize);
          ASSERT_EQ(blocks.size(), wire.size() / blksize + 1) << "a multiple of blksize ends with an empty block";
          // The receiver decodes each DATA payload as it arrives: a CR may end any of them.
          Decoder decoder;
          Bytes decoded;
          for (const auto& block : blocks) {
            Bytes out(max_decoded_size(block.size()));
            const auto progress = decoder.decode(block, out);
            ASSERT_EQ(progress.consumed, block.size());
            decoded.insert(decoded.end(), out.begin(), out.begin() + static_cast<std::ptrdiff_t>(progress.written));
          }
          std::byte last{};
          if (decoder.finish(std::span(&last, 1)) == 1) decoded.push_back(last);
          ASSERT_EQ(decoded, local) << "at " << at << " blksize " << blksize << " chunk " << chunk;
        }
      }
    }
  }
}

TEST(NetasciiRoundTrip, EveryShortStringOverTheSpecialBytes) {
  const std::byte alphabet[] = {std::byte{'\r'}, std::byte{'\n'}, std::byte{0}, std::byte{'a'}};
  for (std::size_t length = 0; length <= 6; ++length) {
    std::size_t count = 1;
    for (std::size_t i = 0; i < length; ++i) count *= 4;
    for (std::size_t n = 0; n < count; ++n) {
      Bytes local(length);
      for (std::size_t i = 0, v = n; i < length; ++i, v /= 4) local[i] = alphabet[v % 4];
      const auto wire = encode_all(local);
      ASSERT_EQ(encoded_size(local), wire.size());
      ASSERT_EQ(decode_all(wire), local);
      ASSERT_EQ(decode_chunked(wire, 1), local);
    }
  }
}

Bytes random_bytes(std::mt19937& rng, std::size_t size, bool text) {
  std::uniform_int_distribution<int> any(0, 255);
  std::uniform_int_distribution<int> line(0, 40);
  Bytes out(size);
  for (auto& b : out) {
    if (!text) {
      b = static_cast<std::byte>(any(rng));
    } else {
      const int pick = line(rng);
      b = static_cast<std::byte>(pick == 0 ? '\n' : pick == 1 ? '\r' : 'a' + pick % 26);
    }
  }
  return out;
}

TEST(NetasciiRoundTrip, RandomTextAndBinaryInRandomBlocks) {
  std::mt19937 rng(20261125);
  std::uniform_int_distribution<std::size_t> sizes(0, 3000);
  std::uniform_int_distribution<std::size_t> blksizes(8, 600);
  std::uniform_int_distribution<std::size_t> chunks(1, 700);
  for (int round = 0; round < 200; ++round) {
    const bool text = round % 2 == 0;
    const auto local = random_bytes(rng, sizes(rng), text);
    const auto wire = encode_all(local);
    ASSERT_EQ(encoded_size(local), wire.size());
    const auto blocks = encode_blocks(local, blksizes(rng), chunks(rng));
    ASSERT_EQ(join(blocks), wire);
    ASSERT_EQ(decode_all(wire), local);
    ASSERT_EQ(decode_chunked(wire, chunks(rng)), local);
  }
}

TEST(NetasciiSize, ChunkSizesAddUp) {
  const auto local = bytes_of("ab\r\ncd\n\r\n");
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < local.size(); i += 2) {
    total += encoded_size(std::span(local).subspan(i, std::min<std::size_t>(2, local.size() - i)));
  }
  EXPECT_EQ(total, encode_all(local).size());
  EXPECT_EQ(total, 14U);
}

}  // namespace
}  // namespace tftp::netascii
