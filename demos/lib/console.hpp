#pragma once
// What the four demo programs share beyond the library: ADDR:PORT arguments turned into endpoints with a
// readable error, whole lines to stdout from any thread, and stdin read on a thread of its own.

#include <functional>
#include <string>
#include <string_view>
#include <variant>

#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>

#include "tftp/asio/endpoint.hpp"

namespace demos {

// The endpoint, or a message naming the argument and what is wrong with it.
std::variant<asio::ip::udp::endpoint, std::string> udp_endpoint(std::string_view text, tftp::net::Use use);
std::variant<asio::ip::tcp::endpoint, std::string> tcp_endpoint(std::string_view text, tftp::net::Use use);

// One line and a flush, so that output interleaves by line and a pipe sees it at once.
void print_line(std::string_view line);
void print_error(std::string_view line);

// Reads stdin on a detached thread: each line (without its newline) to on_line, then on_end once at end
// of input. Raw read(2) rather than std::cin, so the thread shares no library state with an exit that
// happens while it is blocked.
void read_stdin_lines(std::function<void(std::string)> on_line, std::function<void()> on_end);

// Flushes and ends the process without unwinding: the stdin thread may still be blocked in read(2) with
// references to objects on main's stack, and it cannot be interrupted portably.
[[noreturn]] void exit_now(int status);

}  // namespace demos
