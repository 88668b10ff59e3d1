// name_fuzzer: a requested file name, as a client sends it, through the confinement rules (posix::check_name)
// and, when they accept it, into the path of an origin's URL (percent_encode_path), as tftp-server --origin
// does. A name either is refused, or becomes a relative name without "..", "." or empty components and
// without control characters, whose URL path holds only unreserved characters, "/" and %XX escapes (no
// query, fragment, authority, space or line break can come from a client) and decodes back to the name.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "tftp/posix/root.hpp"
#include "tftp/url.hpp"

namespace {

bool unreserved_or_slash(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~' || c == '/';
}

bool hex_digit(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view requested(reinterpret_cast<const char*>(data), size);
  const auto checked = tftp::posix::check_name(requested);
  if (!checked) return 0;
  const std::string& name = *checked;
  FUZZ_CHECK(!name.empty());
  FUZZ_CHECK(name.front() != '/');
  FUZZ_CHECK(name.size() <= tftp::posix::max_name_length);
  std::size_t start = 0;
  while (start <= name.size()) {
    const auto end = std::min(name.find('/', start), name.size());
    const std::string_view component(name.data() + start, end - start);
    FUZZ_CHECK(!component.empty() && component != "." && component != "..");
    start = end + 1;
  }
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    FUZZ_CHECK(u >= 0x20 && u != 0x7f && c != '\\');
  }

  const std::string path = tftp::percent_encode_path(name);
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '%') {
      FUZZ_CHECK(i + 2 < path.size() && hex_digit(path[i + 1]) && hex_digit(path[i + 2]));
      i += 2;
    } else {
      FUZZ_CHECK(unreserved_or_slash(path[i]));
    }
  }
  const auto decoded = tftp::percent_decode(path);
  FUZZ_CHECK(decoded && *decoded == name);
  return 0;
}
