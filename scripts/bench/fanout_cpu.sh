#!/usr/bin/env bash
# Where a broadcast round's time goes: the CPU time (user and system, all
# threads) that one round of "64 bytes to K peers, one reply from each"
# costs the master and the peers, raw libzmq (bench_zmq_raw fanout) against
# marohost (proxy_fanout.lua and K proxy_echo.lua), with marohost's workers
# split into their script threads and their ZeroMQ I/O threads. With more
# processes than cores a round takes about its CPU time divided by the cores,
# so this says which part of the stack a faster round has to come from.
# Figures, never pass/fail; not part of the test suite.
#
#   scripts/bench/fanout_cpu.sh [--runs R] [--workers K] [--n1 N1] [--n2 N2] [--build-dir DIR]
#     Each run measures N1 and N2 rounds (defaults 300 and 2300) and takes the
#     difference over N2 - N1, so that starting, joining and warming up cancel
#     out; the table gives the median of R runs (default 3), raw and marohost
#     alternating, K workers (default 32).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bench_dir=$root/scripts/bench
runs=3 workers=32 n1=300 n2=2300
build_dir=${MARO_BUILD_DIR:-$root/build}
. "$bench_dir/options.sh"
while [ $# -gt 0 ]; do
  case $1 in
    --runs) positive "$1" "${2:-}"; runs=$2; shift 2 ;;
    --workers) positive "$1" "${2:-}"; workers=$2; shift 2 ;;
    --n1) positive "$1" "${2:-}"; n1=$2; shift 2 ;;
    --n2) positive "$1" "${2:-}"; n2=$2; shift 2 ;;
    --build-dir) build_dir=${2:?--build-dir needs a directory}; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "$0: unknown option $1" >&2; usage ;;
  esac
done
[ "$n2" -gt "$n1" ] || { echo "$0: --n2 must be larger than --n1" >&2; exit 2; }

if [ -z "${MARO_REDIS:-}" ]; then
  cmake --build "$build_dir" --target marohost bench_zmq_raw -j"$(nproc)" >/dev/null
  exec "$root/scripts/with-redis.sh" "${BASH_SOURCE[0]}" --runs "$runs" --workers "$workers" \
    --n1 "$n1" --n2 "$n2" --build-dir "$build_dir"
fi
marohost=$build_dir/marohost
raw=$build_dir/bench/bench_zmq_raw
tick=$(getconf CLK_TCK)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-fanout-cpu.XXXXXX")
worker_pids=()
cleanup() {
  local pid
  for pid in "${worker_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# "user system" seconds of a command and everything it waited for.
cpu_of() {
  ( "$@" >"$tmp/out" 2>"$tmp/err"; times ) | tail -1 |
    sed -E 's/([0-9]+)m([0-9.]+)s/\1 \2/g' | awk '{ printf "%.4f %.4f\n", $1 * 60 + $2, $3 * 60 + $4 }'
}

# The seconds the workers' script and ZeroMQ I/O threads have used so far,
# as "name value" lines.
workers_cpu() {
  local pid task
  for pid in "${worker_pids[@]}"; do
    for task in /proc/"$pid"/task/*; do
      # comm may hold spaces: the fields after its closing parenthesis.
      echo "${task##*/} $pid $(cat "$task/comm") $(sed 's/^.*) //' "$task/stat" | cut -d' ' -f12,13)"
    done
  done | awk -v tick="$tick" '
    $1 == $2 { su += $(NF - 1); ss += $NF }
    $3 ~ /^ZMQbg\/IO/ { iu += $(NF - 1); is += $NF }
    END { printf "lua_script_user %.4f\nlua_script_sys %.4f\nlua_io_user %.4f\nlua_io_sys %.4f\n",
                 su / tick, ss / tick, iu / tick, is / tick }'
}

# Each run prints "name value" lines: CPU seconds of the whole run, and the
# median round in microseconds.
raw_run() { # N
  "$raw" fanout -n "$1" -s 64 -k "$workers" | awk '
    $1 == "fanout_cpu_master_s" { print "raw_master_user", $2; print "raw_master_sys", $3 }
    $1 == "fanout_cpu_peers_s" { print "raw_peers_user", $2; print "raw_peers_sys", $3 }
    $1 == "fanout_median_us" { print "raw_median_us", $2 }'
}

lua_run() { # N, with the workers already in the group
  local before master
  before=$(workers_cpu)
  master=$(cpu_of "$marohost" "$bench_dir/proxy_fanout.lua" "$1" 64 "$workers") ||
    { cat "$tmp/err" >&2; exit 1; }
  echo "$master" | awk '{ print "lua_master_user", $1; print "lua_master_sys", $2 }'
  workers_cpu | awk 'NR == FNR { was[$1] = $2; next } { print $1, $2 - was[$1] }' \
    <(echo "$before") -
  awk '$1 == "fanout_median_us" { print "lua_median_us", $2 }' "$tmp/out"
}

export MARO_GROUP="fanout-cpu-$$"
for ((i = 1; i <= workers; i++)); do
  "$marohost" "$bench_dir/proxy_echo.lua" "$tmp/join.$i" >/dev/null 2>>"$tmp/workers.err" &
  worker_pids+=($!)
done
# The workers join once a master is there: a first short run, not counted,
# leaves them joined and idle for the measured ones.
lua_run 20 >/dev/null
[ "$(cat "$tmp"/join.* 2>/dev/null | wc -l)" -eq "$workers" ] ||
  { cat "$tmp/workers.err" >&2; echo "$0: not every worker joined" >&2; exit 1; }

echo "CPU time per broadcast round: 64 B to $workers peers, a reply from each" \
  "(runs of $n1 and $n2 rounds, median of $runs)" >&2
: >"$tmp/rows"
for ((r = 1; r <= runs; r++)); do
  echo "run $r of $runs" >&2
  { raw_run "$n1"; lua_run "$n1"; } >"$tmp/short"
  { raw_run "$n2"; lua_run "$n2"; } >"$tmp/long"
  # Per round: the difference of the two runs; the median round of the long one.
  awk -v d=$((n2 - n1)) -v r="$r" 'NR == FNR { short[$1] = $2; next }
    { print r, $1, $1 ~ /_median_us$/ ? $2 : ($2 - short[$1]) / d * 1000 }' \
    "$tmp/short" "$tmp/long" >>"$tmp/rows"
done

awk '
  { v[$2] = v[$2] " " $3 }
  function med(k,   a, n, i, j, t) {
    n = split(v[k], a, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  END {
    printf "%-34s %10s %10s %7s\n", "ms of CPU per round", "raw libzmq", "marohost", "ratio"
    row("master, user", med("raw_master_user"), med("lua_master_user"))
    row("master, system", med("raw_master_sys"), med("lua_master_sys"))
    wu = med("lua_script_user") + med("lua_io_user"); ws = med("lua_script_sys") + med("lua_io_sys")
    row("peers, user", med("raw_peers_user"), wu)
    row("  script threads", "", med("lua_script_user"))
    row("  ZeroMQ I/O threads", "", med("lua_io_user"))
    row("peers, system", med("raw_peers_sys"), ws)
    row("  script threads", "", med("lua_script_sys"))
    row("  ZeroMQ I/O threads", "", med("lua_io_sys"))
    rt = med("raw_master_user") + med("raw_master_sys") + med("raw_peers_user") + med("raw_peers_sys")
    lt = med("lua_master_user") + med("lua_master_sys") + wu + ws
    row("total", rt, lt)
    printf "%-34s %10.1f %10.1f %6.2fx\n", "round, median of the " '"$n2"' "-round run (us)",
      med("raw_median_us"), med("lua_median_us"), med("lua_median_us") / med("raw_median_us")
  }
  function row(name, a, b) {
    if (a == "") printf "%-34s %10s %10.3f\n", name, "", b
    else printf "%-34s %10.3f %10.3f %6.2fx\n", name, a, b, (a > 0 ? b / a : 0)
  }' "$tmp/rows"
