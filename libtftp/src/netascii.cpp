#include "tftp/netascii.hpp"

namespace tftp::netascii {
namespace {

constexpr std::byte cr{0x0D};
constexpr std::byte lf{0x0A};
constexpr std::byte nul{0x00};

}  // namespace

Progress Encoder::encode(std::span<const std::byte> in, std::span<std::byte> out) noexcept {
  Progress progress;
  auto put = [&](std::byte b) { out[progress.written++] = b; };
  if (pending_ != none) {
    if (out.empty()) return progress;
    put(static_cast<std::byte>(pending_));
    pending_ = none;
  }
  while (progress.consumed < in.size() && progress.written < out.size()) {
    const std::byte b = in[progress.consumed++];
    if (b != cr && b != lf) {
      put(b);
      continue;
    }
    put(cr);
    const std::byte second = b == lf ? lf : nul;
    if (progress.written < out.size()) {
      put(second);
    } else {
      // The block is full between the halves of a pair: the rest opens the next block.
      pending_ = std::to_integer<int>(second);
    }
  }
  return progress;
}

Progress Decoder::decode(std::span<const std::byte> in, std::span<std::byte> out) noexcept {
  Progress progress;
  while (progress.consumed < in.size()) {
    const std::byte b = in[progress.consumed];
    if (saw_cr_) {
      if (progress.written == out.size()) break;
      saw_cr_ = false;
      if (b == lf) {
        out[progress.written++] = lf;
        ++progress.consumed;
      } else {
        // CR NUL is a CR; CR before anything else keeps the CR and leaves the byte for the next round.
        out[progress.written++] = cr;
        if (b == nul) ++progress.consumed;
      }
      continue;
    }
    if (b == cr) {
      saw_cr_ = true;
      ++progress.consumed;
      continue;
    }
    if (progress.written == out.size()) break;
    out[progress.written++] = b;
    ++progress.consumed;
  }
  return progress;
}

std::size_t Decoder::finish(std::span<std::byte> out) noexcept {
  if (!saw_cr_ || out.empty()) return 0;
  saw_cr_ = false;
  out[0] = cr;
  return 1;
}

std::uint64_t encoded_size(std::span<const std::byte> local) noexcept {
  std::uint64_t size = local.size();
  for (std::byte b : local) {
    if (b == cr || b == lf) ++size;
  }
  return size;
}

}  // namespace tftp::netascii
