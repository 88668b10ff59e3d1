#include "tftp/options.hpp"

#include <algorithm>
#include <string>

#include "tftp/codec.hpp"

namespace tftp {
namespace {

enum class Known { blksize, timeout, tsize, windowsize, other };

Known classify(std::string_view name) noexcept {
  if (option_name_equals(name, "blksize")) return Known::blksize;
  if (option_name_equals(name, "timeout")) return Known::timeout;
  if (option_name_equals(name, "tsize")) return Known::tsize;
  if (option_name_equals(name, "windowsize")) return Known::windowsize;
  return Known::other;
}

bool is_refused(const RefusedOptions& refused, Known kind) noexcept {
  switch (kind) {
    case Known::blksize: return refused.blksize;
    case Known::timeout: return refused.timeout;
    case Known::tsize: return refused.tsize;
    case Known::windowsize: return refused.windowsize;
    case Known::other: return false;
  }
  return false;
}

template <class T>
T clamp_to(std::uint64_t value, T low, T high) noexcept {
  return static_cast<T>(std::clamp<std::uint64_t>(value, low, high));
}

// Known option values were checked by the codec; options built by hand may still be garbage.
std::optional<std::uint64_t> value_of(const Option& option) noexcept { return parse_decimal(option.value); }

std::optional<std::uint64_t> requested_value(const OptionList& requested, std::string_view name) noexcept {
  const Option* option = find_option(requested, name);
  return option == nullptr ? std::nullopt : value_of(*option);
}

}  // namespace

OptionList make_request_options(const ClientOptions& wanted) {
  OptionList options;
  if (wanted.block_size) {
    options.push_back({"blksize", std::to_string(clamp_to(*wanted.block_size, min_block_size, max_block_size))});
  }
  if (wanted.timeout_s) {
    options.push_back({"timeout", std::to_string(clamp_to(*wanted.timeout_s, min_timeout_s, max_timeout_s))});
  }
  if (wanted.tsize) options.push_back({"tsize", std::to_string(*wanted.tsize)});
  if (wanted.window_size) {
    options.push_back(
        {"windowsize", std::to_string(clamp_to(*wanted.window_size, min_window_size, max_window_size))});
  }
  return options;
}

Result<Negotiated> check_oack(const OptionList& requested, const OptionList& oack) {
  Negotiated negotiated;
  for (const Option& option : oack) {
    if (find_option(requested, option.name) == nullptr) return errc::option_not_requested;
    const Known kind = classify(option.name);
    if (kind == Known::other) continue;  // requested by the caller, meaning unknown to us
    const auto value = value_of(option);
    const auto asked = requested_value(requested, option.name);
    if (!value) return errc::option_out_of_range;
    switch (kind) {
      case Known::blksize:
        if (*value < min_block_size || *value > max_block_size || (asked && *value > *asked)) {
          return errc::option_out_of_range;
        }
        negotiated.block_size = static_cast<std::uint16_t>(*value);
        break;
      case Known::windowsize:
        if (*value < min_window_size || *value > max_window_size || (asked && *value > *asked)) {
          return errc::option_out_of_range;
        }
        negotiated.window_size = static_cast<std::uint16_t>(*value);
        break;
      case Known::timeout:
        if (!asked || *value != *asked || *value < min_timeout_s || *value > max_timeout_s) {
          return errc::option_out_of_range;
        }
        negotiated.timeout_s = static_cast<std::uint8_t>(*value);
        break;
      case Known::tsize: negotiated.tsize = *value; break;
      case Known::other: break;
    }
  }
  return negotiated;
}

bool refuse_option(RefusedOptions& refused, std::string_view name) noexcept {
  switch (classify(name)) {
    case Known::blksize: refused.blksize = true; return true;
    case Known::timeout: refused.timeout = true; return true;
    case Known::tsize: refused.tsize = true; return true;
    case Known::windowsize: refused.windowsize = true; return true;
    case Known::other: return false;
  }
  return false;
}

ServerAnswer negotiate(const ServerPolicy& policy, const OptionList& requested, Direction direction,
                       std::optional<std::uint64_t> file_size) {
  const auto block_cap = clamp_to(policy.max_block_size, min_block_size, max_block_size);
  const auto window_cap = clamp_to(policy.max_window_size, min_window_size, max_window_size);
  ServerAnswer answer;
  auto grant = [&answer](const Option& asked, std::uint64_t value) {
    answer.oack.push_back({asked.name, std::to_string(value)});
  };
  for (const Option& option : requested) {
    const auto value = value_of(option);
    if (!value) continue;  // unknown options with free-form values, or garbage: ignored
    const Known kind = classify(option.name);
    if (is_refused(policy.refused, kind)) continue;
    switch (kind) {
      case Known::blksize:
        if (*value < min_block_size) break;
        answer.negotiated.block_size = clamp_to(*value, min_block_size, block_cap);
        grant(option, answer.negotiated.block_size);
        break;
      case Known::windowsize:
        if (*value < min_window_size) break;
        answer.negotiated.window_size = clamp_to(*value, min_window_size, window_cap);
        grant(option, answer.negotiated.window_size);
        break;
      case Known::timeout:
        if (*value < std::max(policy.min_timeout_s, min_timeout_s) ||
            *value > std::min(policy.max_timeout_s, max_timeout_s)) {
          break;
        }
        answer.negotiated.timeout_s = static_cast<std::uint8_t>(*value);
        grant(option, *value);
        break;
      case Known::tsize:
        if (direction == Direction::read) {
          if (!file_size) break;
          answer.negotiated.tsize = *file_size;
          grant(option, *file_size);
        } else {
          if (policy.max_upload && *value > *policy.max_upload) {
            answer.refusal = Error{ErrorCode::disk_full, "File too large: " + std::to_string(*value) +
                                                             " bytes, the limit is " +
                                                             std::to_string(*policy.max_upload)};
            answer.oack.clear();
            return answer;
          }
          answer.negotiated.tsize = *value;
          grant(option, *value);
        }
        break;
      case Known::other: break;
    }
  }
  return answer;
}

}  // namespace tftp
