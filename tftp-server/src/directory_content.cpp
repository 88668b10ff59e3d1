#include "tftp/server/directory_content.hpp"

#include <sys/statvfs.h>

#include <stdexcept>
#include <utility>

#include "tftp/asio/address.hpp"
#include "tftp/posix/file_io.hpp"
#include "tftp/server/names.hpp"
#include "tftp/codec.hpp"

namespace tftp::server {

namespace {

// --unique-root ip-strict: the tree for clients without a directory of their own.
constexpr const char* strict_default_directory = "default";

// The largest netascii file whose wire size is counted for tsize (about 4 ms of the event loop).
constexpr std::uint64_t netascii_tsize_limit = std::uint64_t{1} << 20;

Refusal refused(ErrorCode code, std::string message, std::string name) {
  return Refusal{Error{code, std::move(message)}, std::move(name)};
}

Refusal refused(Error error, std::string name) { return Refusal{std::move(error), std::move(name)}; }

// An upload: the temporary file beside its destination, committed by finish(), gone on abort(). Blocks of
// 8 KiB and more are written after their ACK went out (write-behind, as tftpd-hpa does), so the write
// overlaps the client's next DATA.
class FileUpload final : public UploadSink {
 public:
  FileUpload(posix::UniqueFd directory, posix::AtomicFile file, Mode mode, std::optional<std::uint64_t> limit)
      : directory_(std::move(directory)), file_(std::move(file)), sink_(file_, mode, limit) {
    sink_.hold_large_blocks(true);
  }

  std::optional<Error> write_block(std::uint64_t index, std::span<const std::byte> bytes) override {
    return sink_.write_block(index, bytes);
  }
  std::optional<Error> finish() override { return sink_.finish(); }
  std::optional<Error> after_transmit() override { return sink_.write_held(); }
  void abort() noexcept override { file_.discard(); }

 private:
  posix::UniqueFd directory_;  // the destination's directory, open while the file is written
  posix::AtomicFile file_;
  posix::FileSink sink_;
};

// An upload announcing (tsize) more than the file system has free for us is refused before any data.
std::optional<Error> refuse_beyond_free_space(int directory, std::optional<std::uint64_t> announced) {
  struct statvfs fs {};
  if (!announced || ::fstatvfs(directory, &fs) != 0) return std::nullopt;
  const std::uint64_t free = std::uint64_t{fs.f_bavail} * fs.f_frsize;
  if (*announced <= free) return std::nullopt;
  return Error{ErrorCode::disk_full, "Disk full: " + std::to_string(*announced) + " bytes announced, " +
                                         std::to_string(free) + " free"};
}

}  // namespace

DirectoryContent::DirectoryContent(const ServerConfig& config, ServerLog& log)
    : config_(config), log_(log), root_(config.root) {
  if (config_.map_file) {
    auto loaded = RemapRules::load(*config_.map_file);
    if (!loaded) throw std::runtime_error(loaded.error().to_string());
    rules_ = std::make_shared<const RemapRules>(std::move(loaded).value());
  }
}

// The name steps of server_names.hpp, in their order. The map file's result goes through the same checks
// as any name; a result with leading slashes means the same file as without (tftpd-hpa runs chrooted).
std::optional<Refusal> DirectoryContent::resolve_name(const ContentRequest& request, bool is_put,
                                                            std::string& name) const {
  strip_pxe_garbage(name);
  if (const auto rules = rules_in_force()) {
    auto mapped = rules->apply(name, RemapContext{is_put, net::to_asio(request.client.ip)});
    if (!mapped) return refused(ErrorCode::access_violation, mapped.error().message, name);
    auto& result = *mapped;
    const auto start = result.find_first_not_of('/');
    result.erase(0, start == std::string::npos ? result.size() : start);
    if (result != name && config_.verbosity == Verbosity::verbose) {
      log_.write(LogEvent{LogLevel::debug, "remapped", {}}.add("from", name).add("to", result));
    }
    name = std::move(result);
  }
  if (config_.lowercase) fold_to_lower_case(name);
  strip_leading_separators(name);
  return std::nullopt;
}

// ROOT, or ROOT/<client address>/ under --unique-root when that directory is there. A client without one
// is served from ROOT (ip), where the other clients' directories are, so a name that starts with an
// address is refused; or from ROOT/default/ (ip-strict), or not at all. `holder` keeps a per-client root
// open while the caller uses it.
const posix::Root* DirectoryContent::root_for(const ContentRequest& request, const std::string& name,
                                       std::optional<posix::Root>& holder, std::optional<Refusal>& refusal) const {
  if (config_.unique_root == UniqueRoot::none) return &root_;
  auto found = root_.subdirectory(client_directory_name(net::to_asio(request.client.ip)));
  if (!found) {
    const auto error = found.error();
    refusal = refused(error.code, "per-client directory: " + error.message, name);
    return nullptr;
  }
  if (*found) return &holder.emplace(std::move(**found));
  if (config_.unique_root == UniqueRoot::ip_strict) {
    auto fallback = root_.subdirectory(strict_default_directory);
    if (fallback && *fallback) return &holder.emplace(std::move(**fallback));
    refusal = refused(ErrorCode::access_violation, "no directory for this client", name);
    return nullptr;
  }
  if (names_client_directory(name)) {
    refusal = refused(ErrorCode::access_violation, "another client's directory", name);
    return nullptr;
  }
  return &root_;
}

ReadOpening DirectoryContent::open_read(const ContentRequest& request) {
  std::string name = request.name;
  if (auto refusal = resolve_name(request, false, name)) return std::move(*refusal);
  std::optional<posix::Root> holder;
  std::optional<Refusal> refusal;
  const posix::Root* root = root_for(request, name, holder, refusal);
  if (root == nullptr) return std::move(*refusal);
  auto opened = root->open_for_read(name);
  if (!opened) return refused(opened.error(), name);
  auto source = std::make_unique<posix::FileSource>(shared_files_.share(std::move(*opened)), request.mode);
  // The netascii size is known only by reading the file once, on the thread that serves everyone: pay for
  // that only when asked, and only for a small file (a 256 MiB file took a second); a larger one's OACK
  // leaves tsize out, as RFC 2349 allows.
  if (request.mode == Mode::netascii && request.size_wanted &&
      source->file_size().value_or(netascii_tsize_limit + 1) <= netascii_tsize_limit) {
    static_cast<void>(source->count_netascii());
  }
  const auto size = source->tsize();
  return ReadContent{std::move(source), size, std::move(name)};
}

Result<WriteContent, Refusal> DirectoryContent::open_write(const ContentRequest& request) {
  std::string name = request.name;
  if (auto refusal = resolve_name(request, true, name)) return std::move(*refusal);
  std::optional<posix::Root> holder;
  std::optional<Refusal> refusal;
  const posix::Root* root = root_for(request, name, holder, refusal);
  if (root == nullptr) return std::move(*refusal);
  auto opened = root->open_for_upload(name);
  if (!opened) return refused(opened.error(), name);
  auto& target = *opened;
  if (auto room = refuse_beyond_free_space(target.directory.get(), request.announced_size)) {
    return Refusal{std::move(*room), name};
  }
  if (target.exists && !config_.allow_overwrite) return refused(ErrorCode::file_exists, "file already exists", name);
  if (!target.exists && !config_.allow_create) {
    return refused(ErrorCode::access_violation, "creating files is not allowed", name);
  }
  std::error_code ec;
  // Synced before the final ACK: a client told "done" must not lose the file to a power cut.
  const posix::AtomicFile::Options options{.overwrite = config_.allow_overwrite,
                                            .mode = static_cast<mode_t>(0666U & ~config_.umask),
                                            .sync = true};
  auto file = posix::AtomicFile::create(target.directory.get(), target.leaf, options, ec);
  if (ec) return Refusal{posix::error_for(ec), name};
  auto sink = std::make_unique<FileUpload>(std::move(target.directory), std::move(file), request.mode,
                                           config_.policy.max_upload);
  return WriteContent{std::move(sink), std::move(name)};
}

std::size_t DirectoryContent::remove_stale_uploads() {
  if (!config_.allow_create && !config_.allow_overwrite) return 0;
  return posix::remove_stale_temporaries(root_.fd());
}

std::string DirectoryContent::reload_map_file() {
  if (!config_.map_file) return {};
  auto loaded = RemapRules::load(*config_.map_file);
  if (!loaded) {
    const auto reason = loaded.error().to_string();
    log_.write(LogEvent{LogLevel::error, "map-file", {}}.add("error", reason).add("kept", "previous rules"));
    return reason;
  }
  auto rules = std::make_shared<const RemapRules>(std::move(loaded).value());
  const auto count = rules->size();
  {
    const std::lock_guard lock(rules_mutex_);
    rules_ = std::move(rules);
  }
  log_.write(LogEvent{LogLevel::info, "map-file", {}}.add("file", *config_.map_file).add("rules", std::to_string(count)));
  return {};
}

std::shared_ptr<const RemapRules> DirectoryContent::rules_in_force() const {
  const std::lock_guard lock(rules_mutex_);
  return rules_;
}

}  // namespace tftp::server
