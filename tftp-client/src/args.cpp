#include "tftp/client/args.hpp"

#include <fmt/format.h>

namespace tftp::client {
namespace {

constexpr std::string_view stdio_name = "-";

struct Server {
  HostPort server;
  std::string remote;  // from a URL; empty for HOST[:PORT]
  std::optional<Mode> mode;
};

Result<Server, UsageError> parse_server(std::string_view text) {
  if (is_tftp_url(text)) {
    auto url = parse_tftp_url(text);
    if (!url) return UsageError{fmt::format("bad URL \"{}\": {}", text, describe(url.error()))};
    auto& value = *url;
    return Server{std::move(value.server), std::move(value.file), value.mode};
  }
  auto host_port = parse_host_port(text);
  if (!host_port) return UsageError{fmt::format("bad HOST[:PORT] \"{}\": {}", text, describe(host_port.error()))};
  return Server{std::move(*host_port), {}, std::nullopt};
}

Result<std::string, UsageError> default_name(std::string_view from, std::string_view what) {
  const auto name = from == stdio_name ? std::string_view{} : base_name(from);
  if (name.empty()) return UsageError{fmt::format("cannot derive {} from \"{}\": name it", what, from)};
  return std::string(name);
}

// Arguments after the server: for get [REMOTE] [LOCAL] (REMOTE only when not in the URL), for put LOCAL [REMOTE].
Result<Target, UsageError> complete(Operation operation, Server server, std::vector<std::string> rest) {
  Target target{std::move(server.server), std::move(server.remote), {}, server.mode};
  const bool remote_known = !target.remote.empty();
  if (operation == Operation::get) {
    if (!remote_known) {
      if (rest.empty()) return UsageError{"get needs REMOTE (or a tftp:// URL)"};
      target.remote = std::move(rest.front());
      rest.erase(rest.begin());
    }
    if (rest.size() > 1) return UsageError{"get takes HOST[:PORT] REMOTE [LOCAL] or URL [LOCAL]"};
    if (!rest.empty()) {
      target.local = std::move(rest.front());
    } else {
      auto name = default_name(target.remote, "LOCAL");
      if (!name) return name.error();
      target.local = std::move(*name);
    }
    return target;
  }
  if (rest.empty()) return UsageError{"put needs LOCAL"};
  target.local = std::move(rest.front());
  rest.erase(rest.begin());
  if (rest.size() > (remote_known ? 0U : 1U)) return UsageError{"put takes HOST[:PORT] LOCAL [REMOTE] or LOCAL URL"};
  if (!rest.empty()) {
    target.remote = std::move(rest.front());
  } else if (!remote_known) {
    auto name = default_name(target.local, "REMOTE");
    if (!name) return name.error();
    target.remote = std::move(*name);
  }
  if (target.remote.empty()) return UsageError{"REMOTE is empty"};
  return target;
}

}  // namespace

std::string_view exit_code_summary() noexcept {
  return "0 success; 1 the server answered with a TFTP ERROR; 2 usage; 3 timed out; 4 local file error; "
         "5 protocol violation by the server";
}

Result<Target, UsageError> resolve_target(Operation operation, const std::vector<std::string>& positionals) {
  if (positionals.empty()) return UsageError{"missing HOST[:PORT] or tftp:// URL"};
  // put LOCAL tftp://HOST/REMOTE: the URL comes second.
  std::size_t server_index = 0;
  if (operation == Operation::put && positionals.size() >= 2 && !is_tftp_url(positionals[0]) &&
      is_tftp_url(positionals[1])) {
    server_index = 1;
  }
  auto server = parse_server(positionals[server_index]);
  if (!server) return server.error();
  std::vector<std::string> rest;
  for (std::size_t i = 0; i < positionals.size(); ++i) {
    if (i != server_index) rest.push_back(positionals[i]);
  }
  return complete(operation, std::move(*server), std::move(rest));
}

}  // namespace tftp::client
