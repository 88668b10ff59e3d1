#pragma once
// What a server process does to itself at start: more open files for its sessions, and no root once its
// sockets are bound and its directory is open.

#include <cstdint>
#include <string>

namespace tftp::posix {

// Raises the soft open-files limit towards `wanted` (up to the hard limit; root may raise that too);
// returns the soft limit now.
std::uint64_t raise_open_files_limit(std::uint64_t wanted);

// initgroups + setgid + setuid to the user; throws std::system_error or std::runtime_error.
void drop_privileges(const std::string& user);
// Makes `user` the owner of a directory the server writes to after it dropped to that user (a cache),
// and of the files directly in it (symlinks are not followed). Throws like drop_privileges.
void give_directory_to(const std::string& directory, const std::string& user);

}  // namespace tftp::posix
