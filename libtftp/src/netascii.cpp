#include "tftp/netascii.hpp"

namespace tftp::netascii {
namespace {

constexpr std::byte cr{0x0D};
constexpr std::byte lf{0x0A};
constexpr std::byte nul{0x00};

}  // namespace

Step Encoder::encode(std::span<const std::byte> in, std::span<std::byte> out) noexcept {
  Step step;
  auto put = [&](std::byte b) { out[step.written++] = b; };
  if (pending_ != none) {
    if (out.empty()) return step;
    put(static_cast<std::byte>(pending_));
    pending_ = none;
  }
  while (step.consumed < in.size() && step.written < out.size()) {
    const std::byte b = in[step.consumed++];
    if (b != cr && b != lf) {
      put(b);
      continue;
    }
    put(cr);
    const std::byte second = b == lf ? lf : nul;
    if (step.written < out.size()) {
      put(second);
    } else {
      // The block is full between the halves of a pair: the rest opens the next block.
      pending_ = std::to_integer<int>(second);
    }
  }
  return step;
}

Step Decoder::decode(std::span<const std::byte> in, std::span<std::byte> out) noexcept {
  Step step;
  while (step.consumed < in.size()) {
    const std::byte b = in[step.consumed];
    if (saw_cr_) {
      if (step.written == out.size()) break;
      saw_cr_ = false;
      if (b == lf) {
        out[step.written++] = lf;
        ++step.consumed;
      } else {
        // CR NUL is a CR; CR before anything else keeps the CR and leaves the byte for the next round.
        out[step.written++] = cr;
        if (b == nul) ++step.consumed;
      }
      continue;
    }
    if (b == cr) {
      saw_cr_ = true;
      ++step.consumed;
      continue;
    }
    if (step.written == out.size()) break;
    out[step.written++] = b;
    ++step.consumed;
  }
  return step;
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
