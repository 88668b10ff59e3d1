// options_fuzzer: requested options and server policies chosen by the input, through tftp::negotiate (the
// server) and tftp::check_oack (the client). The OACK holds only requested options, in the order and
// spelling requested, with values inside the RFC ranges, the request and the policy; the client accepts
// every OACK the server produces and reads the same parameters from it; the OACK survives the codec.
// A third mode checks the client alone against an arbitrary OACK.
//
// Input: a mode byte, the server policy, then the mode's part (see read_* below). Requested options come
// from make_request_options (mode 0) or from the bytes of a request's option section parsed by the codec
// (modes 1 and 2), as a server would receive them.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "fuzz_support.hpp"
#include "tftp/codec.hpp"
#include "tftp/options.hpp"

namespace {

using tftp::fuzz::ByteReader;

struct Scenario {
  tftp::ServerPolicy policy;
  tftp::Direction direction = tftp::Direction::read;
  std::optional<std::uint64_t> file_size;
};

Scenario read_scenario(ByteReader& in) {
  Scenario s;
  s.policy.max_block_size = in.u16();
  s.policy.max_window_size = in.u16();
  s.policy.min_timeout_s = in.u8();
  s.policy.max_timeout_s = in.u8();
  if (in.flag()) s.policy.max_upload = in.u64();
  s.direction = in.flag() ? tftp::Direction::write : tftp::Direction::read;
  if (in.flag()) s.file_size = in.u64();
  return s;
}

tftp::OptionList read_client_options(ByteReader& in) {
  tftp::ClientOptions wanted;
  if (in.flag()) wanted.block_size = in.u16();
  if (in.flag()) wanted.window_size = in.u16();
  if (in.flag()) wanted.timeout_s = in.u8();
  if (in.flag()) wanted.tsize = in.u64();
  return tftp::make_request_options(wanted);
}

// The options of a packet made of prefix and the given option section, or nullopt when the codec refuses it.
std::optional<tftp::OptionList> parse_options(std::span<const std::byte> prefix, std::span<const std::byte> section) {
  std::vector<std::byte> packet(prefix.begin(), prefix.end());
  packet.insert(packet.end(), section.begin(), section.end());
  auto parsed = tftp::parse(packet);
  if (!parsed) return std::nullopt;
  if (auto* rrq = std::get_if<tftp::Rrq>(&*parsed)) return std::move(rrq->options);
  if (auto* oack = std::get_if<tftp::Oack>(&*parsed)) return std::move(oack->options);
  return std::nullopt;
}

std::optional<tftp::OptionList> parse_request_options(std::span<const std::byte> section) {
  return parse_options(tftp::as_bytes(std::string_view("\0\1f\0octet\0", 10)), section);
}

std::optional<tftp::OptionList> parse_oack_options(std::span<const std::byte> section) {
  return parse_options(tftp::as_bytes(std::string_view("\0\6", 2)), section);
}

std::uint64_t value_of(const tftp::Option& option) {
  const auto value = tftp::parse_decimal(option.value);
  FUZZ_CHECK(value.has_value());
  return *value;
}

std::uint64_t clamp_cap(std::uint64_t cap, std::uint64_t low, std::uint64_t high) { return std::clamp(cap, low, high); }

void check_granted(const Scenario& s, const tftp::Option& asked, const tftp::Option& granted,
                   const tftp::Negotiated& negotiated) {
  FUZZ_CHECK(granted.name == asked.name);  // echoed in the client's spelling
  const auto value = value_of(granted);
  const auto wanted = value_of(asked);
  if (tftp::option_name_equals(asked.name, "blksize")) {
    FUZZ_CHECK(value >= tftp::min_block_size && value <= wanted);
    FUZZ_CHECK(value <= clamp_cap(s.policy.max_block_size, tftp::min_block_size, tftp::max_block_size));
    FUZZ_CHECK(value == negotiated.block_size);
  } else if (tftp::option_name_equals(asked.name, "windowsize")) {
    FUZZ_CHECK(value >= tftp::min_window_size && value <= wanted);
    FUZZ_CHECK(value <= clamp_cap(s.policy.max_window_size, tftp::min_window_size, tftp::max_window_size));
    FUZZ_CHECK(value == negotiated.window_size);
  } else if (tftp::option_name_equals(asked.name, "timeout")) {
    FUZZ_CHECK(value == wanted && value >= tftp::min_timeout_s && value <= tftp::max_timeout_s);
    FUZZ_CHECK(value >= s.policy.min_timeout_s && value <= s.policy.max_timeout_s);
    FUZZ_CHECK(negotiated.timeout_s == value);
  } else if (tftp::option_name_equals(asked.name, "tsize")) {
    FUZZ_CHECK(value == (s.direction == tftp::Direction::read ? s.file_size.value_or(value + 1) : wanted));
    FUZZ_CHECK(negotiated.tsize == value);
  } else {
    FUZZ_CHECK(false && "an unknown option was granted");
  }
}

void check_server_and_client(const Scenario& s, const tftp::OptionList& requested) {
  const auto answer = tftp::negotiate(s.policy, requested, s.direction, s.file_size);
  if (answer.refusal) {
    FUZZ_CHECK(answer.oack.empty());
    FUZZ_CHECK(s.direction == tftp::Direction::write && s.policy.max_upload.has_value());
    FUZZ_CHECK(answer.refusal->code == tftp::ErrorCode::disk_full);
    const auto* tsize = tftp::find_option(requested, "tsize");
    FUZZ_CHECK(tsize != nullptr && value_of(*tsize) > *s.policy.max_upload);
    return;
  }
  // Only requested options, each once, in the order requested.
  std::size_t next = 0;
  for (const auto& granted : answer.oack) {
    while (next < requested.size() && !tftp::option_name_equals(requested[next].name, granted.name)) ++next;
    FUZZ_CHECK(next < requested.size());
    check_granted(s, requested[next], granted, answer.negotiated);
    ++next;
  }
  const auto client = tftp::check_oack(requested, answer.oack);
  FUZZ_CHECK(client.has_value());
  FUZZ_CHECK(*client == answer.negotiated);
  if (answer.oack.empty()) return;
  // What the server sends must come back through the codec unchanged.
  std::vector<std::byte> out(tftp::max_packet_size);
  const auto written = tftp::encode(tftp::Oack{answer.oack}, out);
  FUZZ_CHECK(written.has_value());
  const auto reparsed = tftp::parse(std::span(out).first(*written));
  FUZZ_CHECK(reparsed.has_value() && *reparsed == tftp::Packet{tftp::Oack{answer.oack}});
}

// The client against whatever a server may send: anything accepted lies inside what was asked.
void check_client_alone(const tftp::OptionList& requested, const tftp::OptionList& oack) {
  const auto result = tftp::check_oack(requested, oack);
  if (!result) {
    FUZZ_CHECK(result.error() == tftp::errc::option_not_requested || result.error() == tftp::errc::option_out_of_range);
    return;
  }
  for (const auto& option : oack) FUZZ_CHECK(tftp::find_option(requested, option.name) != nullptr);
  auto asked = [&](std::string_view name, std::uint64_t otherwise) {
    const auto* option = tftp::find_option(requested, name);
    return option == nullptr ? otherwise : tftp::parse_decimal(option->value).value_or(otherwise);
  };
  // An option the server left out keeps its RFC 1350 default, even when the client asked for less.
  const auto& n = *result;
  if (tftp::find_option(oack, "blksize") == nullptr) {
    FUZZ_CHECK(n.block_size == tftp::default_block_size);
  } else {
    FUZZ_CHECK(n.block_size >= tftp::min_block_size && n.block_size <= asked("blksize", tftp::max_block_size));
  }
  if (tftp::find_option(oack, "windowsize") == nullptr) {
    FUZZ_CHECK(n.window_size == 1);
  } else {
    FUZZ_CHECK(n.window_size >= tftp::min_window_size && n.window_size <= asked("windowsize", tftp::max_window_size));
  }
  if (n.timeout_s) FUZZ_CHECK(tftp::find_option(requested, "timeout") != nullptr && *n.timeout_s == asked("timeout", 0));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteReader in(data, size);
  const auto mode = in.u8() % 3;
  const auto scenario = read_scenario(in);
  if (mode == 0) {
    check_server_and_client(scenario, read_client_options(in));
    return 0;
  }
  if (mode == 1) {
    if (const auto requested = parse_request_options(in.rest())) check_server_and_client(scenario, *requested);
    return 0;
  }
  const auto requested = parse_request_options(in.take(in.u8()));
  const auto oack = parse_oack_options(in.rest());
  if (requested && oack) check_client_alone(*requested, *oack);
  return 0;
}
