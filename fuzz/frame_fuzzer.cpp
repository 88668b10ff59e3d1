// frame_fuzzer: a byte stream cut into reads chosen by the input, through demos::FrameDecoder. However the
// stream is split and however lazily next() is drained, the decoder returns exactly the frames a
// straightforward reading of the whole stream finds, fails exactly where that reading meets a length above
// the limit, and ends mid-frame exactly when bytes of an unfinished frame are left. Each payload re-encodes
// to the bytes it came from. Each payload also goes through parse_file_header, as the chat demos read the
// announcement of a file: a header it accepts is emitted and parsed back to the same header.
//
// Input: the payload limit (2 bytes), four read sizes (1 byte each, used in turn), a drain mask (1 byte:
// bit i set means drain after the i-th read of each eight), then the stream.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "frame.hpp"
#include "fuzz_support.hpp"
#include "json_header.hpp"

namespace {

using Bytes = std::vector<std::byte>;

struct Reading {
  std::vector<Bytes> frames;
  bool failed = false;
  std::uint64_t rejected_length = 0;
  bool mid_frame = false;
};

std::uint32_t length_at(std::span<const std::byte> bytes) {
  std::uint32_t length = 0;
  for (std::size_t i = 0; i < demos::frame_header_size; ++i) length = (length << 8U) | std::to_integer<std::uint32_t>(bytes[i]);
  return length;
}

// The frames of the whole stream read at once, the obvious way.
Reading read_whole(std::span<const std::byte> stream, std::size_t max_payload) {
  Reading r;
  while (stream.size() >= demos::frame_header_size) {
    const auto length = length_at(stream);
    if (length > max_payload) {
      r.failed = true;
      r.rejected_length = length;
      return r;
    }
    if (stream.size() - demos::frame_header_size < length) break;
    const auto payload = stream.subspan(demos::frame_header_size, length);
    r.frames.emplace_back(payload.begin(), payload.end());
    stream = stream.subspan(demos::frame_header_size + length);
  }
  r.mid_frame = !stream.empty();
  return r;
}

void drain(demos::FrameDecoder& decoder, std::vector<Bytes>& frames) {
  while (const auto payload = decoder.next()) {
    FUZZ_CHECK(payload->size() <= decoder.max_payload());
    frames.emplace_back(payload->begin(), payload->end());
  }
}

Reading read_in_pieces(std::span<const std::byte> stream, std::size_t max_payload, const std::array<std::size_t, 4>& sizes,
                       std::uint8_t drain_mask) {
  demos::FrameDecoder decoder(max_payload);
  Reading r;
  decoder.feed({});  // an empty read changes nothing
  for (std::size_t turn = 0; !stream.empty(); ++turn) {
    const auto piece = stream.first(std::min(sizes[turn % sizes.size()], stream.size()));
    decoder.feed(piece);
    stream = stream.subspan(piece.size());
    if (((drain_mask >> (turn % 8)) & 1U) != 0) drain(decoder, r.frames);
  }
  drain(decoder, r.frames);
  FUZZ_CHECK(!decoder.next().has_value());  // nullopt is sticky until more bytes come
  r.failed = decoder.failed();
  r.rejected_length = decoder.rejected_length();
  r.mid_frame = decoder.mid_frame();
  FUZZ_CHECK(!(r.failed && r.mid_frame));
  FUZZ_CHECK(r.failed == (r.rejected_length != 0));
  return r;
}

void check_reencoding(const std::vector<Bytes>& frames, std::span<const std::byte> stream, std::size_t max_payload) {
  std::size_t offset = 0;
  for (const auto& payload : frames) {
    const auto encoded = demos::encode_frame(payload, max_payload);
    FUZZ_CHECK(encoded.has_value());
    FUZZ_CHECK(encoded->size() == demos::frame_header_size + payload.size());
    FUZZ_CHECK(std::equal(encoded->begin(), encoded->end(), stream.begin() + static_cast<std::ptrdiff_t>(offset)));
    offset += encoded->size();
  }
  // One byte over the limit is refused rather than framed (kept small: the limit comes from the input).
  if (max_payload < 4096) FUZZ_CHECK(!demos::encode_frame(Bytes(max_payload + 1), max_payload).has_value());
}

void check_file_header(const Bytes& payload) {
  const std::string_view text(reinterpret_cast<const char*>(payload.data()), payload.size());
  const auto parsed = demos::parse_file_header(text);
  if (const auto* error = std::get_if<demos::HeaderError>(&parsed)) {
    FUZZ_CHECK(!demos::describe(*error).empty());
    return;
  }
  const auto& header = std::get<demos::FileHeader>(parsed);
  FUZZ_CHECK(header.size <= demos::max_json_integer);
  FUZZ_CHECK(header.name.find('\0') == std::string::npos);
  const auto emitted = demos::emit_file_header(header);
  FUZZ_CHECK(emitted.has_value());  // an accepted name is UTF-8
  // Escaping can lengthen a name that came in unescaped; past the limit the parser rightly says too_long.
  if (emitted->size() > demos::max_json_header) return;
  const auto again = demos::parse_file_header(*emitted);
  FUZZ_CHECK(std::holds_alternative<demos::FileHeader>(again));
  FUZZ_CHECK(std::get<demos::FileHeader>(again) == header);
  FUZZ_CHECK(demos::emit_file_header(std::get<demos::FileHeader>(again)) == emitted);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tftp::fuzz::ByteReader in(data, size);
  const std::size_t max_payload = in.u16();
  std::array<std::size_t, 4> sizes{};
  for (auto& s : sizes) s = std::size_t{in.u8()} + 1;
  const auto drain_mask = in.u8();
  const auto stream = in.rest();

  const auto expected = read_whole(stream, max_payload);
  const auto got = read_in_pieces(stream, max_payload, sizes, drain_mask);
  FUZZ_CHECK(got.frames == expected.frames);
  FUZZ_CHECK(got.failed == expected.failed);
  FUZZ_CHECK(got.rejected_length == expected.rejected_length);
  FUZZ_CHECK(got.mid_frame == expected.mid_frame);

  check_reencoding(got.frames, stream, max_payload);
  for (const auto& payload : got.frames) check_file_header(payload);
  return 0;
}
