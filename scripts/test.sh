#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine:
#   1. installs what is missing and builds (scripts/setup.sh)
#   2. runs every spec (spec/*_spec.lua) under build/marohost
#   3. builds with AddressSanitizer + UndefinedBehaviorSanitizer and runs every spec again
#   4. fuzzes the wire decoder for FUZZ_SECONDS (default 60; 0 skips)
# Ends with a line "tests: N passed, N failed" and exits non-zero on any failure.
#   scripts/test.sh [--quick] [busted args...]   --quick: steps 1-2 only
set -uo pipefail
cd "$(dirname "$0")/.."

quick=0
if [ "${1:-}" = "--quick" ]; then quick=1; shift; fi

scripts/setup.sh || { echo "tests: 0 passed, 1 failed"; exit 1; }

passed=0
failed=0
log=$(mktemp)
failures=$(mktemp)
trap 'rm -f "$log" "$failures"' EXIT

# run_specs LABEL MAROHOST: busted under that binary; adds its counts to the totals.
run_specs() {
  local label=$1 host=$2
  shift 2
  echo "== specs ($label)"
  MAROHOST="$PWD/$host" busted --lua="$PWD/$host" -o plainTerminal "$@" spec 2>&1 | tee "$log"
  local status=${PIPESTATUS[0]}
  local summary
  summary=$(grep -E '^[0-9]+ successes? / [0-9]+ failures? / [0-9]+ errors? / [0-9]+ pending' "$log" | tail -1)
  if [ -z "$summary" ]; then
    echo "specs ($label): busted printed no summary (exit $status)"
    failed=$((failed + 1))
    return
  fi
  read -r ok _ _ bad _ _ err _ <<<"$summary"
  # The head of each failure, kept for the end: a long log's tail must name what failed.
  awk -v label="$label" '/^(Failure|Error) -> /{n=8; print "[" label "] " $0; next}
                          n>0{print "    " substr($0, 1, 300); n--}' "$log" >>"$failures"
  passed=$((passed + ok))
  failed=$((failed + bad + err))
  if [ "$status" -ne 0 ] && [ $((bad + err)) -eq 0 ]; then failed=$((failed + 1)); fi
}

run_specs release build/marohost "$@"
if cmake --build build --target benches -j"$(nproc)" >/dev/null; then passed=$((passed + 1)); else echo "benchmarks do not build"; failed=$((failed + 1)); fi

if [ "$quick" -eq 0 ]; then
  echo "== sanitizer build (ASan + UBSan)"
  if cmake -S . -B build-asan -DMARO_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null &&
     cmake --build build-asan -j"$(nproc)" >/dev/null; then
    # Leak checks stay on: everything the host allocates must be freed at exit.
    ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
      run_specs sanitizer build-asan/marohost "$@"
  else
    echo "sanitizer build failed"
    failed=$((failed + 1))
  fi

  if [ "${FUZZ_SECONDS:-60}" -gt 0 ] && [ -x scripts/fuzz.sh ]; then
    echo "== fuzzing the wire decoder for ${FUZZ_SECONDS:-60} s"
    if scripts/fuzz.sh "${FUZZ_SECONDS:-60}"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  fi
fi

if [ -s "$failures" ]; then
  echo "== what failed"
  cat "$failures"
fi
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
