#!/usr/bin/env bash
# check_package.sh BUILD_DIR SOURCE_DIR: builds the .deb and checks it the way an administrator would use it.
set -euo pipefail
build=$1
source=$2
# A missing tool skips (77), or fails under TFTP_REQUIRE_PEERS=1 (CI, where scripts/setup.sh installed it).
for tool in cpack dpkg-deb systemd-analyze python3; do
  command -v "$tool" >/dev/null && continue
  if [[ ${TFTP_REQUIRE_PEERS:-} == 1 ]]; then
    echo "FAIL: $tool missing (TFTP_REQUIRE_PEERS=1; scripts/setup.sh installs it)"
    exit 1
  fi
  echo "SKIP: $tool missing (scripts/setup.sh installs it)"
  exit 77
done
work=$(mktemp -d /tmp/tftp-package-XXXXXX)
server_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

echo "== cpack"
(cd "$build" && cpack -G DEB -B "$work/deb" >/dev/null)
deb=$(ls "$work"/deb/tftp-suite_*.deb)
echo "built $(basename "$deb")"

echo "== control data"
# Listings are read whole before they are searched: with pipefail, grep -q leaving early would fail the
# writer with SIGPIPE and the check with it.
[[ $(dpkg-deb --field "$deb" Package) == tftp-suite ]] || fail "package name"
depends=$(dpkg-deb --field "$deb" Depends)
echo "Depends: $depends"
[[ $depends == *libc6* ]] || fail "shlibdeps did not add libc6"
control_files=$(dpkg-deb --ctrl-tarfile "$deb" | tar -t)
grep -qx './conffiles' <<<"$control_files" || fail "no conffiles"

echo "== files"
root=$work/root
dpkg-deb -x "$deb" "$root"
for f in usr/sbin/tftp-server usr/bin/tftp-client usr/share/man/man8/tftp-server.8 usr/share/man/man1/tftp-client.1 \
         usr/lib/systemd/system/tftp-server.service usr/lib/systemd/system/tftp-server.socket etc/default/tftp-server \
         usr/include/tftp/codec.hpp; do
  [[ -e $root/$f ]] || fail "missing /$f"
done
[[ -n $(find "$root/usr/lib" -path '*/cmake/tftp/tftpConfig.cmake') ]] || fail "missing the CMake package (tftpConfig.cmake)"
! ls "$root"/usr/include/tftp/asio 2>/dev/null || fail "internal asio headers installed"
# The chat demos' framing and file-send header belong to demos/, not to the library.
for header in frame.hpp json_header.hpp; do
  [[ ! -e $root/usr/include/tftp/$header ]] || fail "demo header /usr/include/tftp/$header installed"
done

echo "== installed server and client against each other"
mkdir -p "$work/srv" "$work/dl"
head -c 300000 /dev/urandom > "$work/srv/boot.img"
printf 'upload\n' > "$work/up.txt"
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Started as root, the server drops to nobody: the upload directory must be nobody's.
[[ $(id -u) != 0 ]] || chown nobody "$work/srv"
"$root/usr/sbin/tftp-server" --listen "127.0.0.1:$port" --create --quiet "$work/srv" &
server_pid=$!
python3 "$source/tests/interop/interop.py" --probe 127.0.0.1 "$port" || fail "installed server does not answer"
"$root/usr/bin/tftp-client" get --quiet "127.0.0.1:$port" boot.img "$work/dl/boot.img"
cmp "$work/srv/boot.img" "$work/dl/boot.img" || fail "download differs"
"$root/usr/bin/tftp-client" put --quiet "127.0.0.1:$port" "$work/up.txt" up.txt
cmp "$work/up.txt" "$work/srv/up.txt" || fail "upload differs"
code=0
"$root/usr/bin/tftp-client" get --quiet "127.0.0.1:$port" missing.bin "$work/dl/missing.bin" 2>/dev/null || code=$?
[[ $code == 1 ]] || fail "missing file: exit $code, expected 1"
[[ ! -e $work/dl/missing.bin ]] || fail "failed download left a file"
if [[ $(id -u) == 0 ]]; then
  [[ $(ps -o user= -p "$server_pid") == nobody ]] || fail "started as root, the server did not drop to nobody"
fi
echo "get, put and a refused get behave"

echo "== find_package(tftp) against the installed library"
cmake -S "$source/tests/consumer/project" -B "$work/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$root/usr" >/dev/null
cmake --build "$work/consumer" >/dev/null
consumer_output=$("$work/consumer/consumer")
grep -q "ack 4242" <<<"$consumer_output" || fail "consumer output"
echo "consumer built and ran"

echo "== systemd-analyze verify"
# The units as installed, with ExecStart pointing into the unpacked tree (verify checks it is executable).
mkdir -p "$work/units"
cp "$root"/usr/lib/systemd/system/tftp-server.socket "$work/units/"
sed "s#/usr/sbin/tftp-server#$root/usr/sbin/tftp-server#" "$root"/usr/lib/systemd/system/tftp-server.service \
  > "$work/units/tftp-server.service"
systemd-analyze verify --man=no "$work/units/tftp-server.socket" "$work/units/tftp-server.service" 2>&1 \
  | tee "$work/verify.log"
! grep -q . "$work/verify.log" || fail "systemd-analyze reported problems"
echo "units verified"

echo "== man pages and --help name the same options"
for prog in usr/sbin/tftp-server:usr/share/man/man8/tftp-server.8 usr/bin/tftp-client:usr/share/man/man1/tftp-client.1; do
  bin=$root/${prog%%:*}
  man=$root/${prog##*:}
  help_opts=$({ "$bin" --help; "$bin" get --help 2>/dev/null || true; } | grep -oE -- '--[a-z][a-z0-9-]+' | sort -u)
  man_opts=$(sed 's/\\-/-/g' "$man" | grep -oE -- '--[a-z][a-z0-9-]+' | sort -u)
  only_help=$(comm -23 <(echo "$help_opts") <(echo "$man_opts"))
  only_man=$(comm -13 <(echo "$help_opts") <(echo "$man_opts"))
  [[ -z $only_help ]] || fail "$(basename "$bin"): in --help but not in the man page: $only_help"
  [[ -z $only_man ]] || fail "$(basename "$bin"): in the man page but not in --help: $only_man"
done
echo "man pages agree with --help"
echo "PASS"
