#include "tftp/asio/datagram_batch.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "local_address.hpp"

namespace tftp::net {

DatagramBatch::DatagramBatch(std::size_t count, std::size_t size, bool local_addresses)
    : size_(size),
      control_(local_addresses ? count * local_address_control_size : 0),
      storage_(std::make_unique_for_overwrite<std::byte[]>(size * count)),
      addresses_(count),
      vectors_(count),
      headers_(count) {
  for (std::size_t i = 0; i < count; ++i) vectors_[i] = iovec{storage_.get() + i * size_, size_};
}

std::size_t DatagramBatch::receive(asio::ip::udp::socket& socket, std::error_code& ec) {
  ec.clear();
  for (std::size_t i = 0; i < headers_.size(); ++i) {
    headers_[i] = mmsghdr{};
    headers_[i].msg_hdr.msg_name = &addresses_[i];
    headers_[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    headers_[i].msg_hdr.msg_iov = &vectors_[i];
    headers_[i].msg_hdr.msg_iovlen = 1;
    if (!control_.empty()) {
      headers_[i].msg_hdr.msg_control = control_.data() + i * local_address_control_size;
      headers_[i].msg_hdr.msg_controllen = local_address_control_size;
    }
  }
  for (;;) {
    const int n = ::recvmmsg(socket.native_handle(), headers_.data(), static_cast<unsigned>(headers_.size()),
                             MSG_DONTWAIT, nullptr);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) ec = std::error_code(errno, std::system_category());
    return 0;
  }
}

std::span<std::byte> DatagramBatch::datagram(std::size_t i) noexcept {
  return {storage_.get() + i * size_, headers_[i].msg_len};
}

SocketAddress DatagramBatch::from(std::size_t i) const noexcept { return from_sockaddr(addresses_[i]); }

std::optional<LocalAddress> DatagramBatch::local(std::size_t i) const {
  if (control_.empty()) return std::nullopt;
  return local_address_of(headers_[i].msg_hdr, addresses_[i].ss_family == AF_INET6);
}

}  // namespace tftp::net
