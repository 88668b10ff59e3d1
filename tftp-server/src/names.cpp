#include "tftp/server/names.hpp"

#include <algorithm>

#include "tftp/options.hpp"

namespace tftp::server {

void strip_pxe_garbage(std::string& name) {
  while (!name.empty() && static_cast<unsigned char>(name.back()) == 0xFF) name.pop_back();
}

void fold_to_lower_case(std::string& name) {
  for (char& c : name) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
}

void strip_leading_separators(std::string& name) {
  const auto start = name.find_first_not_of("/\\");
  name.erase(0, start == std::string::npos ? name.size() : start);
}

std::string client_directory_name(const asio::ip::address& client) {
  if (client.is_v6() && client.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, client.to_v6()).to_string();
  }
  // asio writes inet_ntop's form, and "%NAME" (if_indextoname) after a scoped link-local address.
  return client.to_string();
}

bool names_client_directory(std::string_view name) {
  const std::string first(name.substr(0, name.find_first_of("/\\")));
  std::error_code ec;
  static_cast<void>(asio::ip::make_address(first, ec));  // dotted IPv4, IPv6, IPv6 with %scope
  return !ec;
}

}  // namespace tftp::server
