#!/usr/bin/env bash
# Instructions per message on the script's thread of a sender and of a
# receiver, counted by callgrind: repeatable on a busy machine, where wall
# time is not. Each mode runs twice (N1 and N2 messages of 64 bytes) and the
# figure is the difference divided by N2 - N1, so that joining and leaving
# cancel out. Not part of the test suite.
#   scripts/bench/callgrind.sh [MODE...]   modes of proxy_thr.lua: new session fast
#                                          (default: session fast)
# Environment: BUILD_DIR (default build), N1 (default 20000), N2 (default 60000).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
# Everything runs next to one private Redis.
[ -n "${MARO_REDIS:-}" ] || exec scripts/with-redis.sh "$0" "$@"
build=${BUILD_DIR:-build}
n1=${N1:-20000} n2=${N2:-60000}
modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(session fast)
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is needed" >&2; exit 1; }
cmake --build "$build" --target marohost -j2 >/dev/null

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# The instructions of a process's main thread: callgrind writes one file per
# thread (-NN) with a "totals:" line; thread 01 is the script's.
main_thread() {
  awk '/^totals:/ {print $2}' "$1"-01
}

run() { # mode n -> "sender receiver"
  local mode=$1 n=$2
  local group="cg_$$_$RANDOM"
  MARO_GROUP=$group valgrind --tool=callgrind --separate-threads=yes \
    --callgrind-out-file="$dir/recv.%p" "$build/marohost" scripts/bench/proxy_thr.lua \
    receiver "$n" 64 "$mode" >"$dir/recv.out" 2>&1 &
  local rpid=$!
  MARO_GROUP=$group valgrind --tool=callgrind --separate-threads=yes \
    --callgrind-out-file="$dir/send.%p" "$build/marohost" scripts/bench/proxy_thr.lua \
    sender "$n" 64 "$mode" >"$dir/send.out" 2>&1 &
  local spid=$!
  wait "$spid" "$rpid"
  echo "$(main_thread "$dir/send.$spid") $(main_thread "$dir/recv.$rpid")"
  rm -f "$dir"/send.* "$dir"/recv.*
}

echo "instructions per 64-byte message on the script's thread (callgrind; N $n1 -> $n2)"
printf '%-10s %12s %12s %12s\n' mode sender receiver total
for mode in "${modes[@]}"; do
  read -r s1 r1 < <(run "$mode" "$n1")
  read -r s2 r2 < <(run "$mode" "$n2")
  s=$(( (s2 - s1) / (n2 - n1) )) r=$(( (r2 - r1) / (n2 - n1) ))
  printf '%-10s %12d %12d %12d\n' "$mode" "$s" "$r" $((s + r))
done
