// netascii_fuzzer: decode(encode(x)) == x for any bytes x, and neither side's output depends on how the
// input is split: into DATA blocks of any size, into file reads of any size, into output buffers of any size.
// Each block re-encoded from the encoder state saved at its start comes out the same (retransmission).
// Any bytes also go through the decoder as wire bytes, whole and split, with the same output.
//
// Input: blksize (2 bytes), four chunk sizes (1 byte each, used in turn), then x.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz_support.hpp"
#include "tftp/netascii.hpp"

namespace {

using Bytes = std::vector<std::byte>;
namespace na = tftp::netascii;

// Sizes used in turn, each at least 1; all 1 when default-constructed.
class Chunks {
 public:
  Chunks() { sizes_.fill(1); }
  explicit Chunks(tftp::fuzz::ByteReader& in) {
    for (auto& size : sizes_) size = std::size_t{in.u8()} + 1;
  }
  std::size_t next() noexcept { return sizes_[turn_++ % sizes_.size()]; }

 private:
  std::array<std::size_t, 4> sizes_{};
  std::size_t turn_ = 0;
};

Bytes encode_whole(std::span<const std::byte> x) {
  na::Encoder encoder;
  Bytes wire(2 * x.size());
  const auto progress = encoder.encode(x, wire);
  FUZZ_CHECK(progress.consumed == x.size() && !encoder.pending());
  wire.resize(progress.written);
  return wire;
}

struct Cursor {
  na::Encoder encoder;
  std::size_t offset = 0;
};

// One DATA block from the cursor on, reading the file in chunks.
Bytes fill_block(Cursor& at, std::span<const std::byte> x, std::size_t blksize, Chunks& chunks) {
  Bytes block(blksize);
  std::size_t filled = 0;
  while (filled < blksize && (at.offset < x.size() || at.encoder.pending())) {
    const auto piece = x.subspan(at.offset, std::min(chunks.next(), x.size() - at.offset));
    const auto progress = at.encoder.encode(piece, std::span(block).subspan(filled));
    FUZZ_CHECK(progress.consumed > 0 || progress.written > 0);
    at.offset += progress.consumed;
    filled += progress.written;
  }
  block.resize(filled);
  return block;
}

std::vector<Bytes> encode_blocks(std::span<const std::byte> x, std::size_t blksize, Chunks& chunks) {
  std::vector<Bytes> blocks;
  Cursor at;
  for (;;) {
    const Cursor start = at;
    blocks.push_back(fill_block(at, x, blksize, chunks));
    Cursor again = start;
    Chunks byte_reads;
    FUZZ_CHECK(fill_block(again, x, blksize, byte_reads) == blocks.back());
    FUZZ_CHECK(again.offset == at.offset && again.encoder == at.encoder);
    if (blocks.back().size() < blksize) return blocks;
    FUZZ_CHECK(blocks.size() <= x.size() * 2 / blksize + 1);
  }
}

// Decodes the pieces in order, each into an output of at most out_limit bytes at a time, then finishes.
Bytes decode_pieces(const std::vector<std::span<const std::byte>>& pieces, std::size_t out_limit) {
  na::Decoder decoder;
  Bytes local;
  Bytes out(out_limit);
  for (auto piece : pieces) {
    while (!piece.empty()) {
      const auto progress = decoder.decode(piece, out);
      FUZZ_CHECK(progress.consumed > 0 || progress.written > 0);
      FUZZ_CHECK(progress.written <= piece.size() + 1);
      local.insert(local.end(), out.begin(), out.begin() + static_cast<std::ptrdiff_t>(progress.written));
      piece = piece.subspan(progress.consumed);
    }
  }
  std::byte last{};
  if (decoder.finish(std::span(&last, 1)) == 1) local.push_back(last);
  FUZZ_CHECK(!decoder.held());
  return local;
}

std::vector<std::span<const std::byte>> split(std::span<const std::byte> bytes, Chunks& chunks) {
  std::vector<std::span<const std::byte>> pieces;
  while (!bytes.empty()) {
    const auto n = std::min(chunks.next(), bytes.size());
    pieces.push_back(bytes.first(n));
    bytes = bytes.subspan(n);
  }
  return pieces;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tftp::fuzz::ByteReader in(data, size);
  const std::size_t blksize = in.u16() % 1024 + 1;
  Chunks chunks(in);
  const auto x = in.rest();
  const Bytes expected(x.begin(), x.end());

  const auto wire = encode_whole(x);
  FUZZ_CHECK(na::encoded_size(x) == wire.size());
  FUZZ_CHECK(decode_pieces({wire}, wire.size() + 1) == expected);

  const auto blocks = encode_blocks(x, blksize, chunks);
  Bytes joined;
  std::vector<std::span<const std::byte>> payloads;
  for (const auto& block : blocks) {
    joined.insert(joined.end(), block.begin(), block.end());
    payloads.emplace_back(block);
  }
  FUZZ_CHECK(joined == wire);
  FUZZ_CHECK(decode_pieces(payloads, blksize + 1) == expected);
  FUZZ_CHECK(decode_pieces(split(wire, chunks), chunks.next()) == expected);

  // x read as wire bytes: sloppy netascii decodes the same however it arrives.
  const auto as_wire = decode_pieces({x}, x.size() + 1);
  FUZZ_CHECK(decode_pieces(split(x, chunks), chunks.next()) == as_wire);
  return 0;
}
