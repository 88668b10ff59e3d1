#pragma once
// What a test needs that the machine may lack: a peer program (tftpd-hpa, atftpd, tftp-hpa), root, network
// namespaces. Without it the test skips with the reason; under TFTP_REQUIRE_PEERS=1 (CI, which runs as root
// after scripts/setup.sh installed every peer) it fails instead, so a missing peer cannot pass unnoticed.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <string_view>

namespace tftp::test {

inline bool peers_required() {
  const char* value = std::getenv("TFTP_REQUIRE_PEERS");
  return value != nullptr && std::string_view(value) == "1";
}

}  // namespace tftp::test

// Ends the test (or the fixture's SetUp) here: a skip for `reason`, or a failure under TFTP_REQUIRE_PEERS=1.
#define TFTP_SKIP_MISSING(reason)                                                  \
  do {                                                                             \
    const std::string tftp_missing_reason_(reason);                                \
    if (::tftp::test::peers_required()) {                                          \
      GTEST_FAIL() << "TFTP_REQUIRE_PEERS=1, but " << tftp_missing_reason_;        \
    }                                                                              \
    GTEST_SKIP() << tftp_missing_reason_;                                          \
  } while (false)
