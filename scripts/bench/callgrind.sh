#!/usr/bin/env bash
# Instructions per message on the script's thread of a sender and of a
# receiver, counted by callgrind: repeatable on a busy machine, where wall
# time is not. Each mode runs twice (N1 and N2 messages of 64 bytes) and the
# figure is the difference divided by N2 - N1, so that joining and leaving
# cancel out. The "lua" columns are the part of each figure executed inside
# the Lua library (the interpreter running the script's loop, and the C API
# calls that make tables, strings and userdata): what the same script would
# cost with a proxy that took no time at all. Not part of the test suite.
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

# The instructions of a process's main thread, and those of them inside
# liblua: callgrind writes one file per thread (-NN); thread 01 is the
# script's. Every function line of callgrind_annotate ends with its object.
main_thread() {
  local total
  total=$(awk '/^totals:/ {print $2}' "$1"-01)
  callgrind_annotate --auto=no --threshold=100 --tree=none "$1"-01 |
    awk -v total="$total" '/\[[^]]*liblua[^]]*\]$/ { gsub(",", "", $1); lua += $1 }
                           END { printf "%d %d\n", total, lua }'
}

run() { # mode n -> "sender sender_lua receiver receiver_lua"
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

per() { echo $(( ($2 - $1) / (n2 - n1) )); }

echo "instructions per 64-byte message on the script's thread (callgrind; N $n1 -> $n2)"
printf '%-10s %9s %7s %9s %7s %9s %7s\n' mode sender lua receiver lua total lua
for mode in "${modes[@]}"; do
  read -r s1 sl1 r1 rl1 < <(run "$mode" "$n1")
  read -r s2 sl2 r2 rl2 < <(run "$mode" "$n2")
  s=$(per "$s1" "$s2") sl=$(per "$sl1" "$sl2") r=$(per "$r1" "$r2") rl=$(per "$rl1" "$rl2")
  printf '%-10s %9d %7d %9d %7d %9d %7d\n' "$mode" "$s" "$sl" "$r" "$rl" $((s + r)) $((sl + rl))
done
