#!/usr/bin/env bash
# Runs libFuzzer targets for a bounded time each and fails if any of them finds a crash or a property
# violation. The repository corpus is copied to a temporary directory first, so new inputs do not land in
# the repository; the crashing input, if any, is kept and its path printed.
#
#   fuzz/run_fuzzers.sh [-t SECONDS] [-b BUILD_DIR] [NAME...]      (NAME: packet, options, ...; default all)
#
# BUILD_DIR is a fuzz-preset build (default build/fuzz: cmake --workflow --preset fuzz).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
seconds=20
build="$here/../build/fuzz"
while getopts "t:b:" flag; do
  case "$flag" in
    t) seconds="$OPTARG" ;;
    b) build="$OPTARG" ;;
    *) echo "usage: $0 [-t SECONDS] [-b BUILD_DIR] [NAME...]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))

if [ "$#" -eq 0 ]; then
  set -- $(cd "$here" && ls *_fuzzer.cpp | sed 's/_fuzzer\.cpp$//')
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/tftp-fuzz.XXXXXX")"
failed=()
for name in "$@"; do
  binary="$build/fuzz/${name}_fuzzer"
  if [ ! -x "$binary" ]; then
    echo "run_fuzzers: $binary is missing (build the fuzz preset first)" >&2
    failed+=("$name")
    continue
  fi
  mkdir -p "$work/$name/corpus" "$work/$name/artifacts"
  cp -r "$here/corpus/$name/." "$work/$name/corpus/"
  echo "== $name: ${seconds}s"
  if ! "$binary" -max_total_time="$seconds" -timeout=10 -max_len=2048 -print_final_stats=1 \
      -dict="$here/tftp.dict" -artifact_prefix="$work/$name/artifacts/" \
      "$work/$name/corpus" >"$work/$name/log" 2>&1; then
    tail -n 60 "$work/$name/log" >&2
    echo "run_fuzzers: $name FAILED; input kept in $work/$name/artifacts/" >&2
    failed+=("$name")
    continue
  fi
  # The last status line has the coverage and speed reached.
  grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$work/$name/log" | tail -n 1 || true
  grep -E 'stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' "$work/$name/log" || true
done

if [ "${#failed[@]}" -ne 0 ]; then
  echo "run_fuzzers: failed: ${failed[*]}" >&2
  exit 1
fi
rm -rf "$work"
