#pragma once
// Netascii (RFC 1350 via RFC 764, the Telnet NVT): streaming conversion between local text (POSIX: lines end
// in LF) and the wire form, with the state carried across block boundaries. No allocation.
//
//   local      wire
//   LF    ->   CR LF
//   CR    ->   CR NUL
//   other ->   itself
//
// Decoding is the reverse, and lenient the way tftp-hpa is, since peers send sloppy netascii:
//   CR LF  -> LF
//   CR NUL -> CR
//   CR X   -> CR, then X decoded as usual (so CR CR LF -> CR LF)
//   a CR that ends the file -> CR (Decoder::finish)
// Every byte string round-trips: decode(encode(x)) == x, whatever x is and however it is split.
//
// tsize and netascii: RFC 2349 says tsize is the size of the file, and leaves open whether that means the
// local size or the size on the wire. This library means the size on the wire, i.e. after encoding: the
// only size both ends can count, since the local sizes differ by the line-end convention. A server that does not
// know that size should not answer tsize at all (negotiate() ignores tsize when the file size is unknown);
// one that wants to answer can count it with encoded_size() in one pass over the file.

#include <cstddef>
#include <cstdint>
#include <span>

namespace tftp::netascii {

// How far one call got: bytes taken from the input, bytes written to the output.
struct Step {
  std::size_t consumed = 0;
  std::size_t written = 0;
  friend bool operator==(const Step&, const Step&) = default;
};

// Local bytes to wire bytes. Fill a DATA block of blksize bytes by calling encode() with the next input
// chunks until the block is full (written adds up to blksize) or the input is over and pending() is false;
// a short block ends the transfer. When the block fills between the CR and the LF (or NUL) of a pair, the
// input byte counts as consumed and its second half opens the next block.
//
// The state is a value: copy the encoder together with the input offset at the start of a block, and
// encoding again from that copy and offset reproduces the block byte for byte (retransmission, windows).
class Encoder {
 public:
  // Encodes as much of in as fits into out: first the pending half of a pair, then the input.
  Step encode(std::span<const std::byte> in, std::span<std::byte> out) noexcept;

  // True when the second half of a pair is still to be written (it needs one more output byte even when
  // the input is over).
  bool pending() const noexcept { return pending_ != none; }

  friend bool operator==(const Encoder&, const Encoder&) = default;

 private:
  static constexpr int none = -1;
  int pending_ = none;  // the byte still owed after a CR, or none
};

// Wire bytes to local bytes. Feed each DATA payload as it arrives, then call finish() once at the end
// of the file. The output never exceeds the input plus one (a CR held back from the previous payload),
// so an out of in.size() + 1 bytes always takes the whole payload; a smaller out takes what fits.
class Decoder {
 public:
  Step decode(std::span<const std::byte> in, std::span<std::byte> out) noexcept;

  // At the end of the file: writes a CR still held back (a lone trailing CR is kept). Needs out of at least
  // one byte when held() is true; returns the number of bytes written (0 or 1).
  std::size_t finish(std::span<std::byte> out) noexcept;

  // True when the last byte seen was a CR whose meaning depends on the next byte.
  bool held() const noexcept { return saw_cr_; }

  friend bool operator==(const Decoder&, const Decoder&) = default;

 private:
  bool saw_cr_ = false;
};

// The number of wire bytes the local bytes encode to. Each byte encodes on its own, so the sizes of
// consecutive chunks add up to the size of the whole (count a file chunk by chunk).
std::uint64_t encoded_size(std::span<const std::byte> local) noexcept;

// The largest decoded size of a payload of n wire bytes (a held CR may come out in front of it).
constexpr std::size_t max_decoded_size(std::size_t n) noexcept { return n + 1; }

}  // namespace tftp::netascii
