#pragma once
// Shared by the fuzz targets: a property check that survives NDEBUG, and a reader that turns the fuzzer's
// bytes into parameters (FuzzedDataProvider is clang-only, and the replay build uses g++).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

// A macro, not a function, so that the report names the failing expression and line (std::source_location
// is not usable with clang 14 and libstdc++ 12).
#define FUZZ_CHECK(condition)                                                                  \
  do {                                                                                         \
    if (!(condition)) {                                                                        \
      std::fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                            \
    }                                                                                          \
  } while (false)

namespace tftp::fuzz {

// Takes values from the front of the input; past the end every value is zero, so any input is usable.
class ByteReader {
 public:
  ByteReader(const std::uint8_t* data, std::size_t size) : bytes_(data, size) {}

  std::uint8_t u8() noexcept { return pos_ < bytes_.size() ? bytes_[pos_++] : std::uint8_t{0}; }

  std::uint16_t u16() noexcept { return static_cast<std::uint16_t>((u8() << 8U) | u8()); }

  std::uint64_t u64() noexcept {
    std::uint64_t value = 0;
    for (int i = 0; i < 8; ++i) value = (value << 8U) | u8();
    return value;
  }

  bool flag() noexcept { return (u8() & 1U) != 0; }

  // The next n bytes (fewer at the end of the input).
  std::span<const std::byte> take(std::size_t n) noexcept {
    const auto count = std::min(n, bytes_.size() - pos_);
    const auto out = std::as_bytes(bytes_.subspan(pos_, count));
    pos_ += count;
    return out;
  }

  std::span<const std::byte> rest() noexcept { return take(bytes_.size() - pos_); }

  bool empty() const noexcept { return pos_ == bytes_.size(); }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
};

}  // namespace tftp::fuzz
