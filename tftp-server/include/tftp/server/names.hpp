#pragma once
// The steps between the name a client sends and the name confined beneath ROOT, for the firmware that
// network boot meets, and the block size an interface MTU allows. Pure functions, tested without sockets.
//
// The server applies them in this order (the order is part of the contract, since map files are written
// against it):
//   1. strip_pxe_garbage: trailing 0xFF bytes go. Some UEFI PXE ROMs send "bootx64.efi\xFF\xFF" before the
//      NUL; no real file name ends in 0xFF, so this is always on. Other trailing bytes are a map file's job
//      (`r [^[:print:]]+$`): this step runs first, so rules see the clean name.
//   2. the --map-file rules (remap.hpp), leading slashes of their result dropped;
//   3. fold_to_lower_case when --lowercase: after the rules, so that a rule's \U or a literal upper-case
//      replacement is folded too and the tree on disk can simply be lower case (dnsmasq folds the name
//      it received; it has no rules);
//   4. strip_leading_separators: "/boot/x" and "\boot\x" name ROOT/boot/x, as under tftpd-hpa -s (Debian's
//      default, chrooted to ROOT) and dnsmasq. A backslash is a separator everywhere (root.hpp), so a
//      leading one is dropped like a slash;
//   5. confinement (root.hpp) beneath ROOT/client_directory_name(client)/ when --unique-root finds that
//      directory, else beneath ROOT (ip; a name whose first component is an address is refused there:
//      names_client_directory) or ROOT/default/ (ip-strict).

#include <cstdint>
#include <string>
#include <string_view>

#include <asio/ip/address.hpp>

namespace tftp::server {

void strip_pxe_garbage(std::string& name);
// ASCII only: the C locale's tolower, as dnsmasq does it; bytes >= 0x80 are left alone.
void fold_to_lower_case(std::string& name);
void strip_leading_separators(std::string& name);

// The per-client directory's name (dnsmasq's tftp-unique-root=ip): IPv4 dotted ("192.0.2.7"), also for an
// IPv4 client seen as ::ffff:192.0.2.7 on a dual-stack socket; IPv6 in RFC 5952 form, as inet_ntop writes it
// ("2001:db8::7"), with "%INTERFACE" after a link-local address with a scope ("fe80::7%eth0"), as dnsmasq's
// prettyprint_addr writes it.
std::string client_directory_name(const asio::ip::address& client);

// Whether a name's first component (up to the first / or \) is an IPv4 or IPv6 address, i.e. names a
// client's own directory beneath ROOT under --unique-root: another client's, when it is not served from it.
bool names_client_directory(std::string_view name);

// block_size_for_mtu (the largest block an MTU carries) is the endpoint's: tftp/server_endpoint.hpp.

}  // namespace tftp::server
