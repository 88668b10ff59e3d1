#pragma once
// Length-prefixed frames for byte streams (TCP): a 4-byte big-endian payload length, then the payload.
//
//   4 bytes (big-endian)     length bytes
//  -----------------------------------------
// |       length       |     payload       |
//  -----------------------------------------
//
// TCP delivers a byte stream, not messages: one read may hold several frames ("sticky packets") or part
// of one. FrameDecoder turns whatever the reads return into whole frames, and knows nothing of sockets.
// Call order: feed(bytes) after each read, then next() until it returns nullopt, then read again.
// A length above the decoder's limit puts it in a failed state for good: the peer is broken or hostile,
// and the only safe answer is to close the connection (nothing after that length can be trusted).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace demos {

inline constexpr std::size_t frame_header_size = 4;
// The largest payload accepted by default: 64 KiB.
inline constexpr std::size_t max_frame_payload = 64 * 1024;

class FrameDecoder {
 public:
  explicit FrameDecoder(std::size_t max_payload = max_frame_payload) noexcept : max_payload_(max_payload) {}

  // Appends the bytes of one read. Ignored once failed().
  void feed(std::span<const std::byte> bytes);

  // The next whole payload, or nullopt when more bytes are needed (or after failure). The span points into
  // the decoder and stays valid until the next call to feed() or next().
  std::optional<std::span<const std::byte>> next();

  // A length larger than the limit was seen; the stream cannot be resynchronised.
  bool failed() const noexcept { return failed_; }
  // The length that made the decoder fail (0 when it has not failed).
  std::uint64_t rejected_length() const noexcept { return rejected_length_; }

  // Bytes of an unfinished frame are buffered: an end of stream now means a truncated frame.
  bool mid_frame() const noexcept { return !failed_ && buffer_.size() > start_; }

  std::size_t max_payload() const noexcept { return max_payload_; }

 private:
  void compact();

  std::vector<std::byte> buffer_;
  std::size_t start_ = 0;  // first byte not yet returned by next()
  std::size_t max_payload_;
  std::uint64_t rejected_length_ = 0;
  bool failed_ = false;
};

// Writes the 4-byte big-endian header of a payload of this size.
void encode_frame_header(std::uint32_t payload_size, std::span<std::byte, frame_header_size> out) noexcept;

// Header and payload in one buffer; nullopt when the payload is larger than max_payload.
std::optional<std::vector<std::byte>> encode_frame(std::span<const std::byte> payload,
                                                   std::size_t max_payload = max_frame_payload);

}  // namespace demos
