#pragma once
// Whole files in tests. A file that cannot be read or written throws, so a test fails on it instead of
// comparing against empty contents: a test that expects no file says so with std::filesystem::exists.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "support/bytes.hpp"

namespace tftp::test {

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) throw std::runtime_error("cannot read " + path.string());
  return text;
}

inline Bytes read_file(const std::filesystem::path& path) { return bytes_of(read_text(path)); }

// Creates or replaces the file, and the directories it is in.
inline void write_file(const std::filesystem::path& path, std::span<const std::byte> bytes) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

inline void write_file(const std::filesystem::path& path, std::string_view text) { write_file(path, byte_view(text)); }

// The names in a directory, sorted; a temporary file left behind (a dot file too) shows up here.
inline std::vector<std::string> list_dir(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace tftp::test
