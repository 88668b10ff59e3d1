// Encodes an ACK with the installed library and parses it back; prints the block number.
#include <array>
#include <cstdio>
#include <variant>

#include <tftp/codec.hpp>

int main() {
  std::array<std::byte, 4> buffer{};
  auto size = tftp::encode(tftp::Ack{.block = 4242}, buffer);
  if (!size || *size != 4) return 1;
  auto packet = tftp::parse(buffer);
  if (!packet) return 2;
  const auto* ack = std::get_if<tftp::Ack>(&*packet);
  if (ack == nullptr) return 3;
  std::printf("ack %u\n", static_cast<unsigned>(ack->block));
  return 0;
}
