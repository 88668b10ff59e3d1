#pragma once
// What the client tests share beyond tests/support: a target on the loopback server under test.
#include <cstdint>
#include <string>
#include <utility>

#include "support/files.hpp"
#include "support/pattern.hpp"
#include "support/temp_dir.hpp"
#include "tftp/client/client.hpp"

namespace tftp::test {

inline client::Target target_at(std::uint16_t port, std::string remote, std::string local) {
  return client::Target{{"127.0.0.1", port}, std::move(remote), std::move(local), std::nullopt};
}

}  // namespace tftp::test
