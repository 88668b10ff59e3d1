#!/usr/bin/env bash
# Installs what is needed, builds, and runs every test: the dev build (g++, strict warnings, all labels)
# and the asan build (unit, machine and fuzz-corpus replay under AddressSanitizer + UBSan), then a short
# libFuzzer run of every fuzz target, then the release build with its .deb checks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --workflow --preset dev
cmake --workflow --preset asan
# Every libFuzzer target (clang 14) for a bounded time from its seed corpus; a crash or a property
# violation fails the run and prints where the input was kept.
cmake --workflow --preset fuzz
bash fuzz/run_fuzzers.sh -t "${TFTP_FUZZ_SECONDS:-20}"
# The release build for /usr: the .deb built, unpacked and its installed programs, library, units and
# man pages checked (tests/package, label package).
cmake --workflow --preset release
