#!/usr/bin/env bash
# Installs what is needed, builds, and runs every test: the dev build (g++, strict warnings, all labels),
# the asan build (unit, machine and fuzz-corpus replay under AddressSanitizer + UBSan), the clang build,
# then a short libFuzzer run of every fuzz target, then the release build with its .deb checks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --workflow --preset dev
cmake --workflow --preset asan
# clang 14 with libstdc++: everything the g++ build has (programs, demos with Asio coroutines, tests), under
# the same warnings; its unit, machine and fuzz-replay tests run.
cmake --workflow --preset clang
# Every libFuzzer target (clang 14) for a bounded time from its seed corpus; a crash or a property
# violation fails the run and prints where the input was kept.
cmake --workflow --preset fuzz
bash fuzz/run_fuzzers.sh -t "${TFTP_FUZZ_SECONDS:-20}"
# The release build for /usr: the .deb built, unpacked and its installed programs, library, units and
# man pages checked (tests/package, label package).
cmake --workflow --preset release
