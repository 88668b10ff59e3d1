#include "trace.hpp"

#include <fmt/format.h>

#include <type_traits>
#include <variant>

#include "tftp/codec.hpp"
#include "tftp/printable.hpp"

namespace tftp::client::detail {
namespace {

std::string_view mode_name(Mode mode) { return mode == Mode::netascii ? "netascii" : "octet"; }

std::string options_text(const OptionList& options) {
  std::string text;
  for (const auto& option : options) text += fmt::format(" {}={}", printable(option.name), printable(option.value));
  return text;
}

struct Describe {
  std::string operator()(const Rrq& p) const {
    return fmt::format("RRQ \"{}\" {}{}", printable(p.filename), mode_name(p.mode), options_text(p.options));
  }
  std::string operator()(const Wrq& p) const {
    return fmt::format("WRQ \"{}\" {}{}", printable(p.filename), mode_name(p.mode), options_text(p.options));
  }
  std::string operator()(const Data& p) const { return fmt::format("DATA {} ({} bytes)", p.block, p.payload.size()); }
  std::string operator()(const Ack& p) const { return fmt::format("ACK {}", p.block); }
  std::string operator()(const Error& p) const {
    return fmt::format("ERROR {} \"{}\"", static_cast<unsigned>(p.code), printable(p.message));
  }
  std::string operator()(const Oack& p) const { return "OACK" + options_text(p.options); }
};

}  // namespace

std::string describe_datagram(std::span<const std::byte> bytes) {
  auto packet = parse(bytes);
  if (!packet) return fmt::format("malformed ({}, {} bytes)", packet.error_code().message(), bytes.size());
  return std::visit(Describe{}, *packet);
}

}  // namespace tftp::client::detail
