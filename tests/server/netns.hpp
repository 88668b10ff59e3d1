#pragma once
// Network namespaces a test makes for itself (ip netns add), and entering one from a thread: sockets a
// thread opens inside, threads it starts and processes it forks stay in that namespace. Tests that need
// them skip with the reason where the process is not root or iproute2 is missing (TFTP_SKIP_MISSING: under
// TFTP_REQUIRE_PEERS=1 they fail instead).
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "support/requirements.hpp"

namespace tftp::test {

// Why namespaces cannot be made here, or empty when they can.
inline std::string netns_unavailable() {
  if (::geteuid() != 0) return "network namespaces need root";
  if (std::system("command -v ip >/dev/null 2>&1") != 0) return "ip (iproute2) is not installed";
  return "";
}

// A namespace named tftp-<tag>-<pid>, with its loopback up; deleted with the object (a killed earlier run's
// namespace of the same name is deleted first).
class TestNamespace {
 public:
  explicit TestNamespace(const std::string& tag) : name_("tftp-" + tag + "-" + std::to_string(::getpid())) {
    static_cast<void>(std::system(("ip netns del " + name_ + " 2>/dev/null").c_str()));
    created_ = std::system(("ip netns add " + name_).c_str()) == 0 && run("ip link set lo up");
  }
  ~TestNamespace() { static_cast<void>(std::system(("ip netns del " + name_ + " 2>/dev/null").c_str())); }
  TestNamespace(const TestNamespace&) = delete;
  TestNamespace& operator=(const TestNamespace&) = delete;

  bool created() const noexcept { return created_; }
  const std::string& name() const noexcept { return name_; }
  std::string path() const { return "/run/netns/" + name_; }
  // Runs a shell command inside; true when it exits 0.
  bool run(const std::string& command) const {
    return std::system(("ip netns exec " + name_ + " sh -c '" + command + "' >/dev/null 2>&1").c_str()) == 0;
  }

 private:
  std::string name_;
  bool created_ = false;
};

// A namespace whose loopback also holds 10.9.0.1 (for the server) to 10.9.0.9, and fd00:9::1 to ::9 in one
// /64: addresses outside 127/8 and ::1, so the server counts clients there as remote hosts (its per-client
// limit holds them; loopback is exempt).
class RemoteHosts {
 public:
  RemoteHosts() : netns_("hosts") {
    ready_ = netns_.created() &&
             netns_.run("for i in 1 2 3 4 5 6 7 8 9; do ip addr add 10.9.0.$i/24 dev lo && "
                        "ip -6 addr add fd00:9::$i/64 dev lo nodad || exit 1; done");
  }
  bool ready() const noexcept { return ready_; }
  const TestNamespace& netns() const noexcept { return netns_; }
  static std::string address(int n) { return "10.9.0." + std::to_string(n); }
  static std::string address6(int n) { return "fd00:9::" + std::to_string(n); }

 private:
  TestNamespace netns_;
  bool ready_ = false;
};

// This thread enters a network namespace; leaving restores the thread's own.
class InNamespace {
 public:
  explicit InNamespace(const std::string& path) : own_(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) {
    const int target = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    entered_ = own_ >= 0 && target >= 0 && ::setns(target, CLONE_NEWNET) == 0;
    if (target >= 0) ::close(target);
  }
  ~InNamespace() {
    if (entered_) ::setns(own_, CLONE_NEWNET);
    if (own_ >= 0) ::close(own_);
  }
  InNamespace(const InNamespace&) = delete;
  InNamespace& operator=(const InNamespace&) = delete;
  bool entered() const noexcept { return entered_; }

 private:
  int own_;
  bool entered_ = false;
};

}  // namespace tftp::test
