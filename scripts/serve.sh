#!/usr/bin/env bash
# Installs what is needed, builds a release, and starts tftp-server on 127.0.0.1:6969 serving ./tftp-root
# (created with a sample file). Pass other server options after the script name.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset release >/dev/null && cmake --build --preset release >/dev/null
root=${TFTP_ROOT:-$PWD/tftp-root}
mkdir -p "$root"
[[ -e $root/hello.txt ]] || echo "Hello from tftp-server" > "$root/hello.txt"
echo "serving $root on 127.0.0.1:6969 (try: tftp-client get 127.0.0.1:6969 hello.txt -)"
exec ./build/release/tftp-server/tftp-server --listen 127.0.0.1:6969 "$@" "$root"
