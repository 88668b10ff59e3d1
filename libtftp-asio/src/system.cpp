#include "system.hpp"

#include <fcntl.h>
#include <grp.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <system_error>

#include "tftp/codec.hpp"

namespace tftp::net {

namespace {

constexpr int first_listen_fd = 3;  // SD_LISTEN_FDS_START

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}


asio::ip::address unmapped(const asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return address;
}

bool same_address(const sockaddr* entry, const asio::ip::address& address) {
  if (entry == nullptr) return false;
  if (entry->sa_family == AF_INET && address.is_v4()) {
    const auto bytes = address.to_v4().to_bytes();
    return std::memcmp(&reinterpret_cast<const sockaddr_in*>(entry)->sin_addr, bytes.data(), bytes.size()) == 0;
  }
  if (entry->sa_family == AF_INET6 && address.is_v6()) {
    const auto bytes = address.to_v6().to_bytes();
    return std::memcmp(&reinterpret_cast<const sockaddr_in6*>(entry)->sin6_addr, bytes.data(), bytes.size()) == 0;
  }
  return false;
}

std::optional<unsigned> mtu_of(const char* interface_name) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  ifreq request{};
  std::strncpy(request.ifr_name, interface_name, IFNAMSIZ - 1);
  const int result = ::ioctl(fd, SIOCGIFMTU, &request);
  ::close(fd);
  if (result != 0 || request.ifr_mtu <= 0) return std::nullopt;
  return static_cast<unsigned>(request.ifr_mtu);
}

}  // namespace

void set_reuse_port(asio::ip::udp::socket& socket) {
  const int on = 1;
  if (::setsockopt(socket.native_handle(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) throw_errno("SO_REUSEPORT");
}

asio::ip::udp protocol_of(int fd) {
  int type = 0;
  socklen_t length = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0) throw_errno("passed socket");
  if (type != SOCK_DGRAM) throw std::system_error(EINVAL, std::generic_category(), "passed socket is not UDP");
  sockaddr_storage address{};
  length = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) throw_errno("passed socket");
  if (address.ss_family == AF_INET) return asio::ip::udp::v4();
  if (address.ss_family == AF_INET6) return asio::ip::udp::v6();
  throw std::system_error(EAFNOSUPPORT, std::generic_category(), "passed socket is not IPv4 or IPv6");
}

std::optional<asio::ip::address> source_address_for(const asio::ip::udp::endpoint& client) {
  // Plain system calls: an asio socket would need an io_context, which costs an epoll set per request.
  const asio::ip::udp::endpoint target(unmapped(client.address()), client.port());
  const int fd = ::socket(target.address().is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  asio::ip::udp::endpoint local;
  socklen_t length = static_cast<socklen_t>(local.capacity());
  const bool ok = ::connect(fd, target.data(), static_cast<socklen_t>(target.size())) == 0 &&
                  ::getsockname(fd, local.data(), &length) == 0;
  ::close(fd);
  if (!ok) return std::nullopt;
  local.resize(length);
  return local.address();
}

std::optional<unsigned> interface_mtu(const asio::ip::address& local) {
  const auto address = unmapped(local);
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return std::nullopt;
  const std::unique_ptr<ifaddrs, decltype(&::freeifaddrs)> owned(list, &::freeifaddrs);
  for (const ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
    if (same_address(entry->ifa_addr, address)) return mtu_of(entry->ifa_name);
  }
  return std::nullopt;
}

std::optional<unsigned> interface_mtu(unsigned interface_index) {
  char name[IF_NAMESIZE] = {};
  if (::if_indextoname(interface_index, name) == nullptr) return std::nullopt;
  return mtu_of(name);
}

std::optional<unsigned> listen_fds_count(const char* listen_pid, const char* listen_fds, long self_pid) {
  if (listen_pid == nullptr || listen_fds == nullptr) return std::nullopt;
  const auto pid = parse_decimal(listen_pid);
  const auto count = parse_decimal(listen_fds);
  if (!pid || !count || *count == 0 || *count > 1024) return std::nullopt;
  if (self_pid < 0 || *pid != static_cast<std::uint64_t>(self_pid)) return std::nullopt;
  return static_cast<unsigned>(*count);
}

std::vector<asio::ip::udp::socket> adopt_systemd_sockets(asio::io_context& io) {
  const auto count = listen_fds_count(std::getenv("LISTEN_PID"), std::getenv("LISTEN_FDS"), ::getpid());
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  std::vector<asio::ip::udp::socket> sockets;
  if (!count) return sockets;
  for (int fd = first_listen_fd; fd < first_listen_fd + static_cast<int>(*count); ++fd) {
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    asio::ip::udp::socket socket(io);
    socket.assign(protocol_of(fd), fd);
    sockets.push_back(std::move(socket));
  }
  return sockets;
}

}  // namespace tftp::net
