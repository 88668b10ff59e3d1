#pragma once
// What the server driver needs from the operating system besides its own sockets: the sockets systemd
// passes (sd_listen_fds(3) protocol, without libsystemd), the address routing picks, and interface MTUs.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>

namespace tftp::net {

// How many sockets systemd passed to this process (LISTEN_PID must name it): they are fds 3, 4, ...
// nullopt when the variables are missing, malformed or meant for another process.
std::optional<unsigned> listen_fds_count(const char* listen_pid, const char* listen_fds, long self_pid);

// Takes the passed datagram sockets (and unsets the variables, so that children do not see them);
// throws std::system_error for a passed socket that is not a UDP socket.
std::vector<asio::ip::udp::socket> adopt_systemd_sockets(asio::io_context& io);

// The protocol of an already-bound socket (systemd's, a duplicate); throws for one that is not UDP over IPv4/6.
asio::ip::udp protocol_of(int fd);

// SO_REUSEPORT before bind: several sockets of this user share the address and port, each client sticking
// to one (the kernel hashes its address and port); throws std::system_error.
void set_reuse_port(asio::ip::udp::socket& socket);

// The local address the kernel answers `client` from: a throwaway UDP socket connect()ed to the client (a
// route look-up, nothing is sent) and getsockname. An IPv4-mapped client is looked up as IPv4.
std::optional<asio::ip::address> source_address_for(const asio::ip::udp::endpoint& client);

// The MTU of the interface that owns `local` (getifaddrs to find the interface's name, then SIOCGIFMTU);
// nullopt when no interface has that address. An IPv4-mapped address is looked up as IPv4.
std::optional<unsigned> interface_mtu(const asio::ip::address& local);
// The MTU of the interface with this index (if_indextoname, then SIOCGIFMTU).
std::optional<unsigned> interface_mtu(unsigned interface_index);

}  // namespace tftp::net
