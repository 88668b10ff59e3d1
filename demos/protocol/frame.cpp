#include "frame.hpp"

#include <algorithm>

namespace demos {
namespace {

std::uint32_t read_length(const std::byte* p) noexcept {
  return (std::to_integer<std::uint32_t>(p[0]) << 24) | (std::to_integer<std::uint32_t>(p[1]) << 16) |
         (std::to_integer<std::uint32_t>(p[2]) << 8) | std::to_integer<std::uint32_t>(p[3]);
}

}  // namespace

void FrameDecoder::compact() {
  // Moving the unread tail to the front only when it is cheap keeps a stream of small frames linear.
  if (start_ == 0) return;
  if (start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
    return;
  }
  buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(start_));
  start_ = 0;
}

void FrameDecoder::feed(std::span<const std::byte> bytes) {
  if (failed_ || bytes.empty()) return;
  compact();
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

std::optional<std::span<const std::byte>> FrameDecoder::next() {
  if (failed_) return std::nullopt;
  const std::size_t available = buffer_.size() - start_;
  if (available < frame_header_size) return std::nullopt;
  const std::uint32_t length = read_length(buffer_.data() + start_);
  if (length > max_payload_) {
    // Checked as soon as the header is complete, so that a hostile length never makes us buffer its bytes.
    failed_ = true;
    rejected_length_ = length;
    buffer_.clear();
    buffer_.shrink_to_fit();
    start_ = 0;
    return std::nullopt;
  }
  if (available - frame_header_size < length) return std::nullopt;
  const std::span<const std::byte> payload(buffer_.data() + start_ + frame_header_size, length);
  start_ += frame_header_size + length;
  return payload;
}

void encode_frame_header(std::uint32_t payload_size, std::span<std::byte, frame_header_size> out) noexcept {
  out[0] = static_cast<std::byte>((payload_size >> 24) & 0xFFU);
  out[1] = static_cast<std::byte>((payload_size >> 16) & 0xFFU);
  out[2] = static_cast<std::byte>((payload_size >> 8) & 0xFFU);
  out[3] = static_cast<std::byte>(payload_size & 0xFFU);
}

std::optional<std::vector<std::byte>> encode_frame(std::span<const std::byte> payload, std::size_t max_payload) {
  if (payload.size() > max_payload || payload.size() > UINT32_MAX) return std::nullopt;
  std::vector<std::byte> out(frame_header_size + payload.size());
  encode_frame_header(static_cast<std::uint32_t>(payload.size()), std::span<std::byte, frame_header_size>(out.data(), frame_header_size));
  std::copy(payload.begin(), payload.end(), out.begin() + frame_header_size);
  return out;
}

}  // namespace demos
