#!/usr/bin/env bash
# Fuzzes the wire decoders (spec/fuzz/fuzz_wire_decode.c) for a bounded time.
#   scripts/fuzz.sh [SECONDS] [libFuzzer options...]     SECONDS defaults to 60
# Builds with clang in build-fuzz/ (libFuzzer + ASan + UBSan), seeds the corpus
# from spec/fuzz/make_seeds.lua and spec/fuzz/regressions/ (inputs that once
# failed), runs one fuzzing process, and prints the executions, the coverage
# and the findings. The corpus in build-fuzz/corpus is kept between runs;
# findings go to build-fuzz/findings/ and make the script exit non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
case $seconds in
  '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS] [libFuzzer options...]" >&2; exit 2 ;;
esac

dir=build-fuzz
command -v clang >/dev/null || { echo "fuzz: clang is needed (apt-get install clang)" >&2; exit 1; }
cmake -S . -B "$dir" -DMARO_FUZZ=ON -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  >/dev/null
cmake --build "$dir" --target fuzz_wire_decode marohost -j2 >/dev/null

mkdir -p "$dir/seeds" "$dir/corpus" "$dir/findings"
rm -f "$dir"/seeds/*
"$dir/marohost" spec/fuzz/make_seeds.lua "$dir/seeds" >/dev/null

log="$dir/fuzz.log"
before=$(find "$dir/findings" -type f | wc -l)
set +e
# The sanitizers report leaks and errors as findings; -timeout catches hangs.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
"$dir/fuzz_wire_decode" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -max_len=4096 -dict=spec/fuzz/wire.dict -print_final_stats=1 \
  -artifact_prefix="$dir/findings/" "$@" "$dir/corpus" "$dir/seeds" spec/fuzz/regressions >"$log" 2>&1
status=$?
set -e

after=$(find "$dir/findings" -type f | wc -l)
last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
runs=$(grep -Eo '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1 || true)
echo "fuzz: ${runs:-no summary (see $log)}"
echo "fuzz: last status: ${last:-none}"
grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" | sed 's/^/fuzz: /' || true
echo "fuzz: corpus $(find "$dir/corpus" -type f | wc -l) inputs; findings this run: $((after - before))"
if [ "$status" -ne 0 ] || [ "$after" -gt "$before" ]; then
  grep -E 'ERROR|runtime error|check failed|SUMMARY' "$log" | head -20 || true
  echo "fuzz: FAILED (exit $status); inputs in $dir/findings/, log in $log"
  exit 1
fi
echo "fuzz: ok, nothing found"
