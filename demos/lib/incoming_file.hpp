#pragma once
// A file arriving over the chat, stored so that no one sees it half written and nothing is overwritten:
// the bytes go to a hidden temporary file in the target directory, and only a complete file is linked
// under its final name. link(2) fails when the name exists, so two senders racing for one name cannot
// overwrite each other (rename(2) would replace silently).

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <variant>

#include "json_header.hpp"

namespace demos {

class IncomingFile {
 public:
  // The file named by the header in directory, or why it is refused (unsafe name, exists, too large, I/O).
  static std::variant<IncomingFile, std::string> open(const std::filesystem::path& directory,
                                                      const FileHeader& header, std::uint64_t max_size);

  IncomingFile(IncomingFile&&) noexcept;
  IncomingFile& operator=(IncomingFile&&) noexcept;
  ~IncomingFile();  // an unfinished file leaves nothing behind

  // An empty string, or why the bytes could not be stored (more than the header announced, I/O error).
  std::string write(std::span<const std::byte> bytes);
  std::uint64_t remaining() const noexcept { return remaining_; }

  // Once remaining() is 0: links the file under its name. An empty string, or why not.
  std::string commit();

  const std::string& name() const noexcept { return name_; }

 private:
  IncomingFile(int fd, std::filesystem::path temporary, std::filesystem::path final_path, std::string name,
               std::uint64_t size) noexcept;
  void discard() noexcept;

  int fd_ = -1;
  std::filesystem::path temporary_;
  std::filesystem::path final_;
  std::string name_;
  std::uint64_t remaining_ = 0;
};

}  // namespace demos
