#pragma once
// GET /metrics with the real curl, and one series' value out of the text.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <sstream>
#include <string>

#include "support/child_process.hpp"

namespace tftp::test {

// The body, or "" when curl failed (the test then fails on the values).
inline std::string scrape(std::uint16_t port) {
  ChildProcess child(Spawn{{"/usr/bin/curl", "-sS", "--max-time", "5", "http://127.0.0.1:" + std::to_string(port) + "/metrics"},
                           Stdio::null, Stdio::pipe, Stdio::pipe});
  const auto status = child.wait(std::chrono::seconds(10));
  EXPECT_EQ(status, 0) << child.errors();
  return child.output();
}

inline std::string value_of(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(series + " ", 0) == 0) return line.substr(series.size() + 1);
  }
  return "<missing>";
}

}  // namespace tftp::test
