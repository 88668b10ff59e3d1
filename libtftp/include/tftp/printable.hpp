#pragma once
// Text from the network made safe to print: an ERROR message, an option name, a file name can carry
// terminal escape sequences (ESC ] 0 ; ... BEL retitles the window, ESC [ 2 J clears it, CR rewrites the
// line, 0x9B is CSI on an 8-bit terminal, U+202E reverses what follows). Printable ASCII and valid UTF-8
// for U+00A0 and up pass as they are; every other byte is written as \xNN: C0 controls, DEL, C1 controls
// (0x80-0x9F, alone or as U+0080-U+009F), bidirectional overrides and isolates, bytes that are not UTF-8.
// A backslash is doubled, so the escapes cannot be forged either.

#include <string>
#include <string_view>

namespace tftp {

std::string printable(std::string_view text);

}  // namespace tftp
