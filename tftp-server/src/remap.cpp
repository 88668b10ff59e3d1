#include "tftp/server/remap.hpp"

#include <arpa/inet.h>
#include <regex.h>
#include <sys/socket.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>

namespace tftp::server {

namespace {

enum RuleFlag : unsigned {
  rewrite = 0x01,
  global = 0x02,
  exit_on_match = 0x04,
  restart = 0x08,
  abort_on_match = 0x10,
  inverse = 0x20,
  ipv4_only = 0x40,
  ipv6_only = 0x80,
};

constexpr std::size_t group_count = 10;  // \0-\9
using Groups = std::array<regmatch_t, group_count>;

struct RegexDeleter {
  void operator()(regex_t* rx) const noexcept {
    regfree(rx);
    delete rx;
  }
};
using Regex = std::unique_ptr<regex_t, RegexDeleter>;

bool is_c_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// tftpd-hpa's readescstring: skip white space, then take bytes up to an unescaped white space or '#'.
// The backslashes stay in the token: regcomp and the replacement expander each give them their meaning.
std::string read_escaped_token(std::string_view line, std::size_t& pos) {
  while (pos < line.size() && is_c_space(line[pos])) ++pos;
  std::string token;
  bool after_backslash = false;
  while (pos < line.size()) {
    const char c = line[pos];
    if (!after_backslash && (is_c_space(c) || c == '#')) break;
    // Two backslashes in a row leave the second one unescaping nothing.
    after_backslash = !after_backslash && c == '\\';
    token.push_back(c);
    ++pos;
  }
  return token;
}

// The lines as tftpd-hpa's fgets loop sees them: each keeps its '\n' (a white space that ends a token, or
// an escaped byte after a trailing backslash), and a line ends for the parser at its first NUL byte.
std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const std::size_t newline = text.find('\n');
    const std::size_t length = newline == std::string_view::npos ? text.size() : newline + 1;
    lines.push_back(text.substr(0, length));
    text.remove_prefix(length);
  }
  return lines;
}

char fold(char c, char mode) noexcept {
  // ASCII only: tftpd-hpa runs toupper/tolower in the C locale.
  if (mode == 'U' && c >= 'a' && c <= 'z') return static_cast<char>(c - 'a' + 'A');
  if (mode == 'L' && c >= 'A' && c <= 'Z') return static_cast<char>(c - 'A' + 'a');
  return c;
}

asio::ip::address unmapped(const asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return address;
}

std::string address_text(const asio::ip::address& address) {
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (address.is_v4()) {
    const auto bytes = address.to_v4().to_bytes();
    if (inet_ntop(AF_INET, bytes.data(), text.data(), static_cast<socklen_t>(text.size())) == nullptr) return {};
  } else {
    // Not asio's to_string(): that appends a "%scope", which inet_ntop (tftpd-hpa) does not.
    const auto bytes = address.to_v6().to_bytes();
    if (inet_ntop(AF_INET6, bytes.data(), text.data(), static_cast<socklen_t>(text.size())) == nullptr) return {};
  }
  return text.data();
}

std::string address_hex(const asio::ip::address& address) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string hex;
  const auto append = [&](const auto& bytes) {
    for (const unsigned char byte : bytes) {
      hex.push_back(digits[byte >> 4U]);
      hex.push_back(digits[byte & 0x0FU]);
    }
  };
  if (address.is_v4()) {
    append(address.to_v4().to_bytes());
  } else {
    append(address.to_v6().to_bytes());
  }
  return hex;
}

// The values of \i and \x, computed once per request.
struct Macros {
  std::string ip;
  std::string hex;
};

// tftpd-hpa's genmatchstring: the input before the match, the expanded replacement, the input after the match.
// Without a match (a "~" rule) only the expansion. Folding (\U \L) applies to everything the replacement emits.
std::string expand(const std::string& pattern, const std::string& input, const Groups& groups, bool matched,
                   const Macros& macros) {
  std::string out;
  if (matched) out.append(input, 0, static_cast<std::size_t>(groups[0].rm_so));
  char mode = 'E';
  const auto emit = [&](std::string_view text) {
    for (const char c : text) out.push_back(fold(c, mode));
  };
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c != '\\' || i + 1 == pattern.size()) {
      out.push_back(fold(c, mode));
      continue;
    }
    const char macro = pattern[++i];
    if (macro >= '0' && macro <= '9') {
      const regmatch_t& group = groups[static_cast<std::size_t>(macro - '0')];
      if (group.rm_so != -1) {
        emit(std::string_view(input).substr(static_cast<std::size_t>(group.rm_so),
                                             static_cast<std::size_t>(group.rm_eo - group.rm_so)));
      }
    } else if (macro == 'U' || macro == 'L' || macro == 'E') {
      mode = macro;
    } else if (macro == 'i') {
      emit(macros.ip);
    } else if (macro == 'x') {
      emit(macros.hex);
    } else {
      out.push_back(fold(macro, mode));
    }
  }
  if (matched) out.append(input, static_cast<std::size_t>(groups[0].rm_eo));
  return out;
}

}  // namespace

struct RemapRules::Rule {
  unsigned line = 0;
  unsigned flags = 0;
  char request_kind = '\0';  // 'G', 'P' or none
  Regex regex;
  std::string pattern;
};

namespace {

struct NoRule {};
using LineResult = std::variant<NoRule, std::unique_ptr<RemapRules::Rule>, std::string>;

std::optional<std::string> apply_operation(char op, RemapRules::Rule& rule, int& regex_flags) {
  switch (op) {
    case 'r': rule.flags |= rewrite; break;
    case 'g': rule.flags |= global; break;
    case 'e': rule.flags |= exit_on_match; break;
    case 's': rule.flags |= restart; break;
    case 'a': rule.flags |= abort_on_match; break;
    case 'i': regex_flags |= REG_ICASE; break;
    case '~': rule.flags |= inverse; break;
    case '4': rule.flags |= ipv4_only; break;
    case '6': rule.flags |= ipv6_only; break;
    case 'G':
    case 'P': rule.request_kind = op; break;
    default: {
      std::string reason = "invalid operation \"";
      reason.push_back(op);
      return reason + "\" (valid: r g i e s a G P 4 6 ~)";
    }
  }
  return std::nullopt;
}

// Whether an extended regex uses a back-reference (\1 to \9 outside a bracket expression, a GNU
// extension): matching one is exponential in the name's length (a 50-byte name against
// (.*)(.*)(.*)\1\2\3x took 2.8 s of the only event-loop thread). tftpd-hpa's sample rules need none.
bool has_back_reference(std::string_view expression) {
  bool in_bracket = false;
  for (std::size_t i = 0; i < expression.size(); ++i) {
    const char c = expression[i];
    if (in_bracket) {
      if (c == '[' && i + 1 < expression.size() && (expression[i + 1] == ':' || expression[i + 1] == '.' ||
                                                     expression[i + 1] == '=')) {
        const char kind = expression[i + 1];
        const auto end = expression.find(std::string{kind, ']'}, i + 2);  // [:alpha:], [.x.], [=e=]
        if (end == std::string_view::npos) return false;                 // regcomp rejects it anyway
        i = end + 1;
      } else if (c == ']') {
        in_bracket = false;
      }
      continue;
    }
    if (c == '\\') {
      if (i + 1 < expression.size() && expression[i + 1] >= '1' && expression[i + 1] <= '9') return true;
      ++i;  // the escaped character
    } else if (c == '[') {
      in_bracket = true;
      if (i + 1 < expression.size() && expression[i + 1] == '^') ++i;
      if (i + 1 < expression.size() && expression[i + 1] == ']') ++i;  // a leading ] is a literal
    }
  }
  return false;
}

LineResult parse_line(std::string_view line, unsigned number) {
  line = line.substr(0, line.find('\0'));
  std::size_t pos = 0;
  const std::string operations = read_escaped_token(line, pos);
  if (operations.empty()) return NoRule{};

  auto rule = std::make_unique<RemapRules::Rule>();
  rule->line = number;
  int regex_flags = REG_EXTENDED;
  for (const char op : operations) {
    if (auto reason = apply_operation(op, *rule, regex_flags)) return *reason;
  }
  if ((rule->flags & rewrite) == 0) rule->flags &= ~static_cast<unsigned>(global);
  if ((rule->flags & (rewrite | inverse)) == (rewrite | inverse)) return std::string("r rules cannot be inverted (~)");

  const std::string expression = read_escaped_token(line, pos);
  if (expression.empty()) return std::string("no regex after the operations");
  if (has_back_reference(expression)) {
    return "back-reference in the regex \"" + expression + "\": refused, matching it can take exponential time";
  }
  rule->regex = Regex(new regex_t{});
  if (const int rc = regcomp(rule->regex.get(), expression.c_str(), regex_flags); rc != 0) {
    std::array<char, 256> message{};
    regerror(rc, rule->regex.get(), message.data(), message.size());
    delete rule->regex.release();  // regcomp failed: nothing to regfree
    return "bad regex \"" + expression + "\": " + message.data();
  }
  rule->pattern = read_escaped_token(line, pos);
  return rule;
}

}  // namespace

std::string RemapError::to_string() const {
  if (line == 0) return source + ": " + reason;
  return source + ":" + std::to_string(line) + ": " + reason;
}

RemapRules::RemapRules() = default;
RemapRules::RemapRules(RemapRules&&) noexcept = default;
RemapRules& RemapRules::operator=(RemapRules&&) noexcept = default;
RemapRules::~RemapRules() = default;

Result<RemapRules, RemapError> RemapRules::parse(std::string_view text, std::string_view source_name) {
  RemapRules rules;
  unsigned number = 0;
  for (const std::string_view line : split_lines(text)) {
    ++number;
    if (line.size() > max_line_length) {
      return RemapError{std::string(source_name), number,
                        "line longer than " + std::to_string(max_line_length) + " bytes"};
    }
    LineResult result = parse_line(line, number);
    if (auto* reason = std::get_if<std::string>(&result)) {
      return RemapError{std::string(source_name), number, std::move(*reason)};
    }
    if (auto* rule = std::get_if<std::unique_ptr<Rule>>(&result)) rules.rules_.push_back(std::move(*rule));
  }
  return rules;
}

Result<RemapRules, RemapError> RemapRules::load(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return RemapError{path, 0, "cannot open the rule file"};
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) return RemapError{path, 0, "cannot read the rule file"};
  return parse(text.str(), path);
}

namespace {

bool applies(const RemapRules::Rule& rule, const RemapContext& context, bool v4) {
  if (rule.request_kind != '\0' && rule.request_kind != (context.is_put ? 'P' : 'G')) return false;
  if ((rule.flags & ipv4_only) != 0 && !v4) return false;
  if ((rule.flags & ipv6_only) != 0 && v4) return false;
  return true;
}

RemapRefusal loop_refusal(unsigned line) {
  return RemapRefusal{RemapRefusal::Why::loop_limit, line, "Remap table failure"};
}

}  // namespace

Result<std::string, RemapRefusal> RemapRules::apply(std::string_view name, const RemapContext& context) const {
  const asio::ip::address client = unmapped(context.client);
  const Macros macros{address_text(client), address_hex(client)};
  std::string current(name.substr(0, name.find('\0')));
  unsigned steps = deadman_steps;
  unsigned rewrites = 0;

  for (std::size_t index = 0; index < rules_.size(); ++index) {
    const Rule& rule = *rules_[index];
    if (!applies(rule, context, client.is_v4())) continue;
    if (steps-- == 0) return loop_refusal(rule.line);

    const bool inverted = (rule.flags & inverse) != 0;
    bool was_match = false;
    for (;;) {
      Groups groups{};
      const int rc = regexec(rule.regex.get(), current.c_str(), group_count, groups.data(), 0);
      if (rc != (inverted ? REG_NOMATCH : 0)) break;
      was_match = true;
      if (inverted) groups.fill(regmatch_t{-1, -1});

      if ((rule.flags & abort_on_match) != 0) {
        std::string message =
            rule.pattern.empty() ? std::string("Access denied") : expand(rule.pattern, current, groups, !inverted, macros);
        return RemapRefusal{RemapRefusal::Why::rule, rule.line, std::move(message)};
      }
      if ((rule.flags & rewrite) != 0) {
        if (++rewrites > max_rewrites) return loop_refusal(rule.line);
        current = expand(rule.pattern, current, groups, true, macros);
        if (current.size() > max_remapped_length) {
          return RemapRefusal{RemapRefusal::Why::too_long, rule.line, "Remapped name too long"};
        }
      }
      if ((rule.flags & global) == 0) break;
    }
    if (!was_match) continue;
    if ((rule.flags & exit_on_match) != 0) return current;
    // tftpd-hpa points at the first rule and then its loop steps past it: the restart resumes at rule 2.
    if ((rule.flags & restart) != 0) index = 0;
  }
  return current;
}

}  // namespace tftp::server
