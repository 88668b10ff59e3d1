#pragma once
// What a finished get or put says about itself: --stats prints one line for people, --json one JSON object
// for scripts (the exit class, the bytes, the time, what was negotiated, retransmissions, timeouts,
// duplicates and the measured round trip). Text the server sent (an ERROR message) is escaped in both.

#include <string>

#include "tftp/client/client.hpp"

namespace tftp::client {

// "got 1048576 bytes in 0.512 s (2.0 MiB/s), blksize 1428, windowsize 8, 0 retransmissions, 0 timeouts,
// 0 duplicates, round trip 0.210 ms"
std::string stats_line(Operation operation, const Report& outcome);

// One line, no newline: {"operation":"get","server":"HOST:PORT","remote":...,"local":...,"exit":0,
// "result":"ok",...}. Names that are not valid UTF-8 have the bad bytes replaced (U+FFFD).
std::string json_summary(Operation operation, const Target& target, const Report& outcome);

}  // namespace tftp::client
