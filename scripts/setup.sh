#!/usr/bin/env bash
# Installs everything that building, testing, fuzzing, interop and benchmarks need, from Debian 12
# packages. Idempotent: packages already present are skipped by apt; safe to run again.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build git pkg-config
  libasio-dev libcli11-dev libfmt-dev googletest libgtest-dev
  # tftp-server --metrics (Prometheus endpoint)
  libcpp-httplib-dev
  # tftp-server --origin (HTTP fetches on the event loop) and the origin nginx its tests run
  libcurl4-openssl-dev nginx-light
  # the chat demos: the file-send header
  nlohmann-json3-dev
  # fuzz preset: clang 14 and libFuzzer
  clang-14 libclang-rt-14-dev
  # interop peers (tftpd-hpa comes below as a bare binary: its package conflicts with atftpd)
  tftp-hpa atftp atftpd busybox dnsmasq-base curl
  # loss simulation in network namespaces
  iproute2 iptables
  # tests and benchmarks (matplotlib: bench/storm.py's chart)
  python3 procps python3-matplotlib
  # packaging: man pages, unit checks (systemd-analyze)
  scdoc systemd dpkg-dev
)

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup.sh: run as root or install sudo" >&2; exit 1; }
  sudo_cmd=(sudo)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  # Peers are installed as programs, not as running services.
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# tftpd-hpa: the bare in.tftpd binary, unpacked beside the other peers (PEERS.md).
peers_dir=${TFTP_PEERS_DIR:-/opt/tftp-peers}
if [[ ! -x $peers_dir/tftpd-hpa/usr/sbin/in.tftpd ]]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download tftpd-hpa >/dev/null 2>&1) || {
    "${sudo_cmd[@]}" apt-get update -qq
    (cd "$tmp" && apt-get download tftpd-hpa >/dev/null)
  }
  "${sudo_cmd[@]}" mkdir -p "$peers_dir/tftpd-hpa"
  "${sudo_cmd[@]}" dpkg -x "$tmp"/tftpd-hpa_*.deb "$peers_dir/tftpd-hpa"
  rm -rf "$tmp"
fi
# atftpd's package may have started a daemon on port 69; the tests start their own peers.
"${sudo_cmd[@]}" pkill -x atftpd 2>/dev/null || true
echo "setup.sh: dependencies installed"
