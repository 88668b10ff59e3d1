#pragma once
// The contents tests move: any size, read from any offset, one sequence per seed, never stored.
//
// Each 8-byte word is a hash of its index and the seed, so a block that arrives shifted, repeated, out of
// order or from another seed's file differs from the expected one (a counter repeats itself every few hundred
// bytes, so a block moved by a multiple of its period would pass), and every byte value occurs.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "support/bytes.hpp"

namespace tftp::test {

namespace detail {

// splitmix64's finaliser: a bijection on 64-bit words in which every input bit changes about half the output.
constexpr std::uint64_t mix(std::uint64_t x) noexcept {
  x ^= x >> 30U;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27U;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31U);
}

// mix(0) is 0: the seed's mask keeps word 0 (and any other) from being all zero bytes.
constexpr std::uint64_t pattern_word(std::uint64_t index, std::uint32_t seed) noexcept {
  return mix(index ^ ((std::uint64_t{seed} + 1) * 0x9e3779b97f4a7c15ULL));
}

}  // namespace detail

// Fills `out` with the pattern's bytes from `offset` on.
inline void fill_pattern(std::span<std::byte> out, std::uint64_t offset, std::uint32_t seed = 0) noexcept {
  std::size_t i = 0;
  while (i < out.size()) {
    const std::uint64_t at = offset + i;
    const std::uint64_t word = detail::pattern_word(at / 8, seed);
    for (std::uint64_t k = at % 8; k < 8 && i < out.size(); ++k, ++i) out[i] = static_cast<std::byte>(word >> (8 * k));
  }
}

inline std::byte pattern_at(std::uint64_t offset, std::uint32_t seed = 0) noexcept {
  return static_cast<std::byte>(detail::pattern_word(offset / 8, seed) >> (8 * (offset % 8)));
}

inline Bytes pattern(std::size_t size, std::uint32_t seed = 0) {
  Bytes out(size);
  fill_pattern(out, 0, seed);
  return out;
}

inline std::string pattern_text(std::size_t size, std::uint32_t seed = 0) { return text_of(pattern(size, seed)); }

}  // namespace tftp::test
