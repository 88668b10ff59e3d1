// The raw UDP loopback ceiling: one thread sends 64 KB datagrams as fast as it can, another receives them,
// for a fixed time. The bytes received per second are what no TFTP transfer on this machine can beat.
//
//   udp_ceiling [SECONDS] [DATAGRAM_BYTES]      prints "bytes_per_second <N>"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 2.0;
  const std::size_t size = argc > 2 ? static_cast<std::size_t>(std::atol(argv[2])) : 65000;

  const int rx = ::socket(AF_INET, SOCK_DGRAM, 0);
  const int tx = ::socket(AF_INET, SOCK_DGRAM, 0);
  int buffer = 8 << 20;
  ::setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(0x7f000001U);
  socklen_t length = sizeof address;
  if (::bind(rx, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(rx, reinterpret_cast<sockaddr*>(&address), &length) != 0 ||
      ::connect(tx, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    std::perror("udp_ceiling");
    return 1;
  }
  timeval timeout{0, 200'000};
  ::setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);

  std::atomic<bool> stop{false};
  std::thread sender([&] {
    std::vector<char> datagram(size, 'x');
    while (!stop.load(std::memory_order_relaxed)) ::send(tx, datagram.data(), datagram.size(), 0);
  });
  std::vector<char> in(size + 1);
  std::uint64_t received = 0;
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    const ssize_t n = ::recv(rx, in.data(), in.size(), 0);
    if (n > 0) received += static_cast<std::uint64_t>(n);
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  stop = true;
  sender.join();
  std::printf("bytes_per_second %.0f\n", static_cast<double>(received) / elapsed);
  return 0;
}
