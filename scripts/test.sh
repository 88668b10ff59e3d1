#!/usr/bin/env bash
# Installs what is needed, builds, and runs every test: the dev build (g++, strict warnings, all labels)
# and the asan build (unit, machine and fuzz-corpus replay under AddressSanitizer + UBSan).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --workflow --preset dev
cmake --workflow --preset asan
