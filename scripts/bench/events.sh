#!/usr/bin/env bash
# events.sh: benchmarks the conditional-event register table (docs/events.md,
# "Speed"): 1,000 registered events over 100 tags and 1,000 peer names, each
# push satisfying one unit event; pushes per second from C (the matcher
# alone) and from Lua (maro.RegisterTable under marohost), with and without
# handlers, and the cost per push with 1,000 events against 10 (ratio); then
# the cost of rt:clear() with 10,000 registered events against 10.
#
#   scripts/bench/events.sh [PUSHES] [RUNS]    defaults: 2000000 5
#
# Builds marohost and bench_events in $MARO_BUILD_DIR when set (as it is
# configured), else in build-bench/ as a Release build.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
pushes=${1:-2000000}
runs=${2:-5}

if [ -n "${MARO_BUILD_DIR:-}" ]; then
  build=$MARO_BUILD_DIR
  cmake -S "$root" -B "$build" >/dev/null
else
  build=$root/build-bench
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DMARO_SANITIZE=OFF >/dev/null
fi
cmake --build "$build" --target marohost bench_events -j"$(nproc)" >/dev/null
type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")

echo "== conditional events: $(uname -m), $(nproc) CPUs, build $build (${type:-default})"
"$build/bench/bench_events" -n "$((pushes * 2))" -r "$runs"
"$build/marohost" "$root/scripts/bench/events_bench.lua" "$pushes" "$runs"
