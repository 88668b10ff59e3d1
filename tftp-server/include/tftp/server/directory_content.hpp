#pragma once
// The served directory as the endpoint's ContentProvider: a requested name goes through the name steps
// (server_names.hpp: trailing 0xFF dropped, --map-file rules, --lowercase, leading separators dropped), then
// --unique-root picks the tree, then confinement (root.hpp) opens a regular file beneath it. Uploads follow
// --create / --overwrite, land in a temporary file committed atomically once complete (fsynced first: a
// client told "done" must not lose the file to a power cut), and are refused up front when they announce
// more than --max-upload or than the file system has free.

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "tftp/server/remap.hpp"
#include "tftp/posix/root.hpp"
#include "tftp/posix/shared_files.hpp"
#include "tftp/server/config.hpp"
#include "tftp/server/log.hpp"
#include "tftp/server_endpoint.hpp"

namespace tftp::server {

class DirectoryContent final : public ContentProvider {
 public:
  // Opens ROOT and reads the map file; throws (std::system_error, std::runtime_error) when either fails.
  DirectoryContent(const ServerConfig& config, ServerLog& log);

  ReadOpening open_read(const ContentRequest& request) override;
  Result<WriteContent, Refusal> open_write(const ContentRequest& request) override;

  const std::string& root_path() const noexcept { return root_.path(); }
  // Removes the temporaries of uploads that a killed server left (where O_TMPFILE could not be used);
  // returns how many. Only where uploads are allowed.
  std::size_t remove_stale_uploads();
  // Re-reads the map file (SIGHUP). A bad file keeps the rules in use; the reason ("FILE:LINE: why") is
  // logged and returned. Without a map file: nothing to do, empty string.
  std::string reload_map_file();
  // The name steps alone (no confinement, no file system): `name` becomes the name to look for; a map-file
  // rule may refuse it.
  std::optional<Refusal> resolve_name(const ContentRequest& request, bool is_put, std::string& name) const;

 private:
  const posix::Root* root_for(const ContentRequest& request, const std::string& name, std::optional<posix::Root>& holder,
                       std::optional<Refusal>& refusal) const;

  ServerConfig config_;
  ServerLog& log_;
  posix::Root root_;
  std::shared_ptr<const RemapRules> rules_in_force() const;

  posix::SharedFiles shared_files_;  // one descriptor per file being read, whatever the number of readers
  mutable std::mutex rules_mutex_;  // the workers resolve names on their own threads while SIGHUP replaces them
  std::shared_ptr<const RemapRules> rules_;  // null without --map-file; replaced whole on SIGHUP
};

}  // namespace tftp::server
