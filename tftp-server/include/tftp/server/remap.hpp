#pragma once
// Filename remapping with tftpd-hpa's rule files (tftpd(8), FILENAME REMAPPING), so that an existing
// /etc/tftpd.remap gives the same names here as under tftpd-hpa 5.2 (Debian 12's in.tftpd).
//
// A rule line is "OPERATIONS REGEX [REPLACEMENT]", fields split on unescaped white space, '#' starts a comment.
// Operations: r (replace the match), g (repeat r until no match), i (case-insensitive), e (end after a match),
// s (after a match, go back to the top), a (refuse on a match), G / P (RRQ / WRQ only; the last of them wins),
// 4 / 6 (IPv4 / IPv6 clients only), ~ (act when the regex does NOT match; not with r).
// Regexes are POSIX extended, compiled by regcomp, so they mean exactly what they mean to tftpd-hpa; a backslash
// in the file reaches regcomp unchanged. Replacement escapes: \0-\9 groups, \i client address, \x client
// address in upper-case hex, \U \L \E case folding, and any other \c gives c (\\ \# "\ ").
//
// tftpd-hpa behaviour kept on purpose, because an existing file relies on it:
// - The replacement keeps the text before and after the match: "r ^/ x" turns "/a" into "xa".
// - "s" restarts at the SECOND rule (tftpd-hpa sets its loop pointer to the first rule and the loop then
//   advances it), and every applicable rule visited counts one step; step 1025 refuses ("Remap table failure").
// - An "a" rule with a replacement sends the expanded replacement (with the text around the match) as the
//   ERROR 2 message; without one the message is "Access denied".
// Where tftpd-hpa has no answer this engine gives one instead of hanging or crashing:
// - a "g" rule whose result keeps matching ("rg a a") loops forever there; here the request is refused after
//   max_rewrites rewrites in total, and any intermediate name longer than max_remapped_length is refused;
// - "~a" with a replacement crashes tftpd-hpa's worker; here the message is the bare expanded replacement;
// - a rule line longer than 16383 bytes is cut in two by tftpd-hpa's fgets; here it is a load error.
// The result can be absolute ("/tftpboot/x" from tftpd-hpa's own sample.rules). tftpd-hpa -s (Debian's default)
// is chrooted to ROOT, so there "/x" and "x" name the same file: a server that wants its names strips the
// leading slashes of the result before confining it beneath ROOT.
// Regexes are compiled and run in the process's locale: leave it at "C" (as tftpd-hpa does) so that bytes such
// as 0xFF from broken PXE ROMs match [^[:print:]].

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "tftp/result.hpp"
#include <vector>

#include <asio/ip/address.hpp>

namespace tftp::server {

// A rule file that cannot be used: where and why. to_string() gives "FILE:LINE: REASON".
struct RemapError {
  std::string source;
  unsigned line = 0;  // 0 when the file itself could not be read
  std::string reason;
  std::string to_string() const;
};

// The request is refused with ERROR 2 (access violation) and this message.
struct RemapRefusal {
  enum class Why {
    rule,         // an "a" rule matched
    loop_limit,   // tftpd-hpa's step limit, or this engine's rewrite limit
    too_long,     // a rewrite made a name longer than max_remapped_length
  };
  Why why = Why::rule;
  unsigned line = 0;  // the rule file line responsible (the aborting rule or the last one run)
  std::string message;
};

// What the rules may look at besides the name.
struct RemapContext {
  bool is_put = false;       // WRQ; false for RRQ
  asio::ip::address client;  // an IPv4-mapped IPv6 address counts as the IPv4 address
};

class RemapRules {
 public:
  static constexpr unsigned deadman_steps = 1024;            // tftpd-hpa's DEADMAN_MAX_STEPS
  static constexpr unsigned max_rewrites = 1024;             // total replacements in one apply()
  static constexpr std::size_t max_remapped_length = 1024;   // bytes, any intermediate name
  static constexpr std::size_t max_line_length = 16383;      // tftpd-hpa's MAXLINE - 1

  // Reads and parses a rule file; every problem is a RemapError, nothing throws on bad content.
  static Result<RemapRules, RemapError> load(const std::string& path);
  // Parses rule text; source_name only labels errors.
  static Result<RemapRules, RemapError> parse(std::string_view text, std::string_view source_name);

  // The name to serve (still to be confined beneath ROOT by the caller), or the refusal.
  // The name ends at its first NUL byte, as it does for tftpd-hpa. Safe to call from several threads.
  Result<std::string, RemapRefusal> apply(std::string_view name, const RemapContext& context) const;

  std::size_t size() const noexcept { return rules_.size(); }

  RemapRules(RemapRules&&) noexcept;
  RemapRules& operator=(RemapRules&&) noexcept;
  ~RemapRules();

  struct Rule;

 private:
  RemapRules();
  std::vector<std::unique_ptr<Rule>> rules_;
};

}  // namespace tftp::server
