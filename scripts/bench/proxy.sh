#!/usr/bin/env bash
# The Proxy benchmark: builds marohost and the raw libzmq baseline
# (bench_zmq_raw), runs both on the same work in this invocation, against a
# private Redis, and prints one table of medians, ratios to raw and the
# targets the proxy is held to. Timings are reported, never asserted: the exit
# status only says whether every run completed.
#
#   scripts/bench/proxy.sh [options]
#     --runs R        repetitions of every measurement; medians are quoted (default 5)
#     --n N           64-byte messages per throughput run (default 2000000: long
#                     enough that both sides run in their steady state; raw
#                     moves 200000 in under 50 ms, where scheduling noise and
#                     warm-up decide the figure)
#     --n-bw N        1 MiB messages per bandwidth run (default 200)
#     --n-rtt N       round trips per run (default 2000)
#     --n-fanout N    broadcast rounds per run (default 200)
#     --workers K     peers for fan-out, broadcast and joining (default 32)
#     --build-dir DIR build directory (default: $MARO_BUILD_DIR, else build)
#     --quick         small counts, one run: a smoke test of the harness
#     --raw-only      only the raw baseline (no Redis, no marohost runs)
#
# Environment: MAROHOST (the marohost binary; default DIR/marohost),
#              BENCH_PROCESS_TIMEOUT (seconds any one run may take, default 120).
#
# What each row measures (every peer is its own process, all over tcp://127.0.0.1):
#   throughput  raw: PUSH -> PULL, 64-byte frames; marohost: proxy_thr.lua,
#               both timed at the receiver from the first message to the last.
#               The headline row is the standard path as scripts write it:
#               the sender isends a new SessionMessage (NOTIFICATION) per
#               payload, the receiver reads msg.tag and msg.payload. Indented:
#               a new Message per isend; one Message object isent N times
#               (what building costs, by difference); and raw libzmq moving
#               the two frames a lone marohost message is (its header frame,
#               then the 66-byte payload frame) one message at a time, where
#               marohost streams them in batches (docs/protocol.md,
#               "Batches"). Then the fast path: isend_to and receive_values.
#               The "paired" lines give each run's own ratio, to show the
#               spread of the ratios of medians in the table.
#   round trip  raw: a PULL-bound node per side and a PUSH to the other, as a
#               proxy has; marohost: proxy:send() to proxy_echo.lua. Median.
#   bandwidth   as throughput, with 1 MiB payloads. Raw copies each payload
#               once per side (zmq_send, zmq_recv), as the proxy must between
#               Lua strings and frames; the indented row compares with
#               libzmq's zero-copy ceiling (bench_zmq_raw thr -z).
#   broadcast   raw: one message to K peers (zmq_msg_copy) and one reply from
#               each; marohost: proxy:broadcast() to K proxy_echo.lua. Median.
#   join        K workers, then the master, started at once: from the latest
#               script start to the latest return of maro.Proxy{} (maro.now()).
#   idle RSS    VmRSS of the K workers once the master has left (median).
#   closed      the throughput (a new Message per isend) and round trip rows again in
#               a closed group (a group key: CURVE on every connection), as a
#               ratio to the open group's figures of the same invocation.
#   bytes       what the loopback interface received during a 64 B throughput
#               run, divided by the messages: TCP/IP headers, acknowledgements,
#               Redis and joining included (the machine's other loopback
#               traffic too: run it on a quiet machine).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bench_dir=$root/scripts/bench

runs=5 n_thr=2000000 n_bw=200 n_rtt=2000 n_fanout=200 workers=32 raw_only=0
build_dir=${MARO_BUILD_DIR:-$root/build}
. "$bench_dir/options.sh"
while [ $# -gt 0 ]; do
  case $1 in
    --runs) positive "$1" "${2:-}"; runs=$2; shift 2 ;;
    --n) positive "$1" "${2:-}"; n_thr=$2; shift 2 ;;
    --n-bw) positive "$1" "${2:-}"; n_bw=$2; shift 2 ;;
    --n-rtt) positive "$1" "${2:-}"; n_rtt=$2; shift 2 ;;
    --n-fanout) positive "$1" "${2:-}"; n_fanout=$2; shift 2 ;;
    --workers) positive "$1" "${2:-}"; workers=$2; shift 2 ;;
    --build-dir) build_dir=${2:?--build-dir needs a directory}; shift 2 ;;
    --quick) runs=1 n_thr=20000 n_bw=20 n_rtt=200 n_fanout=20; shift ;;
    --raw-only) raw_only=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "$0: unknown option $1" >&2; usage ;;
  esac
done
build_dir=$(mkdir -p "$build_dir" && cd "$build_dir" && pwd)
marohost=${MAROHOST:-$build_dir/marohost}
raw=$build_dir/bench/bench_zmq_raw
limit=${BENCH_PROCESS_TIMEOUT:-120}
if [ "$n_thr" -lt 2 ] || [ "$n_bw" -lt 2 ]; then
  echo "$0: --n and --n-bw must be at least 2" >&2
  exit 2
fi

# The marohost runs need a Redis: run the rest of this script under
# with-redis.sh, once everything is built.
if [ -z "${MARO_BENCH_INNER:-}" ]; then
  echo "building marohost and bench_zmq_raw in $build_dir" >&2
  build_log=$(mktemp)
  if ! { [ -f "$build_dir/CMakeCache.txt" ] ||
         cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release; } >"$build_log" 2>&1 ||
     ! cmake --build "$build_dir" --target marohost bench_zmq_raw -j"$(nproc)" >>"$build_log" 2>&1; then
    cat "$build_log" >&2
    rm -f "$build_log"
    echo "$0: the build failed" >&2
    exit 1
  fi
  rm -f "$build_log"
  export MARO_BENCH_INNER=1
  inner=("${BASH_SOURCE[0]}" --runs "$runs" --n "$n_thr" --n-bw "$n_bw" --n-rtt "$n_rtt"
         --n-fanout "$n_fanout" --workers "$workers" --build-dir "$build_dir")
  if [ "$raw_only" -eq 1 ]; then exec "${inner[@]}" --raw-only; fi
  exec "$root/scripts/with-redis.sh" "${inner[@]}"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-proxy.XXXXXX")
pids=()
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  stop_pids "${pids[@]}"
  rm -rf "$tmp"
  exit "$status"
}
# SIGTERM first, so that proxies leave their group; whatever is still alive
# after a bounded wait is killed.
stop_pids() {
  local pid deadline=$((SECONDS + 5))
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "$@"; do
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

results=$tmp/results   # lines: "metric side value"
failures=0
run_seq=0

record() { echo "$1 $2 $3" >>"$results"; }
# value NAME FILE: the number after "NAME " in a script's output.
value() { awk -v k="$1" '$1 == k { print $2; found = 1 } END { exit !found }' "$2"; }
fail() {
  echo "FAILED: $1" >&2
  shift
  local f
  for f in "$@"; do [ -s "$f" ] && tail -n 15 "$f" | sed 's/^/  | /' >&2; done
  failures=$((failures + 1))
}
progress() { printf '%s\n' "$*" >&2; }

# ---- raw libzmq ------------------------------------------------------------

raw_run() { # METRIC_KEY RECORD_AS ARGS...
  local key=$1 as=$2
  shift 2
  local out=$tmp/raw.out
  local v
  if timeout -k 5 "$limit" "$raw" "$@" >"$out" 2>"$tmp/raw.err" && v=$(value "$key" "$out"); then
    record "$as" raw "$v"
    progress "  raw $as: $v"
  else
    fail "bench_zmq_raw $*" "$tmp/raw.err"
  fi
}

# ---- marohost --------------------------------------------------------------

new_group() { run_seq=$((run_seq + 1)); export MARO_GROUP="bench-$$-$run_seq"; }

# Bytes the loopback interface has received so far (every packet, headers
# included: what a receiving kernel gets).
lo_rx_bytes() { awk -F'[: ]+' '$2 == "lo" { print $3 }' /proc/net/dev; }

lua_thr() { # RECORD_AS KEY N SIZE new|reuse|session|fast
  local as=$1 key=$2 n=$3 size=$4 build=$5 out=$tmp/thr.out
  local rx_before
  rx_before=$(lo_rx_bytes)
  new_group
  timeout -k 5 "$limit" "$marohost" "$bench_dir/proxy_thr.lua" receiver "$n" "$size" \
    >"$out" 2>"$tmp/thr.recv.err" &
  local receiver=$!
  timeout -k 5 "$limit" "$marohost" "$bench_dir/proxy_thr.lua" sender "$n" "$size" "$build" \
    >/dev/null 2>"$tmp/thr.send.err" &
  local sender=$!
  pids=("$receiver" "$sender")
  local rs=0 ss=0
  wait "$receiver" || rs=$?
  wait "$sender" || ss=$?
  pids=()
  local v
  if [ "$rs" -eq 0 ] && [ "$ss" -eq 0 ] && v=$(value "$key" "$out"); then
    record "$as" lua "$v"
    progress "  marohost $as: $v"
    # Joining, Redis and leaving add a few kilobytes: nothing per message.
    local wire
    wire=$(awk -v a="$rx_before" -v b="$(lo_rx_bytes)" -v n="$n" 'BEGIN { printf "%.1f", (b - a) / n }')
    record "wire_$as" lua "$wire"
  else
    fail "proxy_thr.lua $n x $size bytes (receiver status $rs, sender status $ss)" \
      "$tmp/thr.recv.err" "$tmp/thr.send.err"
  fi
}

# Starts COUNT echo workers in the current group; their pids go to worker_pids.
start_echo_workers() { # COUNT JOIN_PREFIX
  local i
  worker_pids=()
  : >"$tmp/workers.err"
  for ((i = 1; i <= $1; i++)); do
    "$marohost" "$bench_dir/proxy_echo.lua" "$2$i" >/dev/null 2>>"$tmp/workers.err" &
    worker_pids+=($!)
  done
  pids=("${worker_pids[@]}")
}

# Masters run in the background and are waited for, so that a signal to this
# script is handled at once (and stops them) rather than after they finish.
wait_master() {
  pids+=("$1")
  local st=0
  wait "$1" || st=$?
  unset 'pids[-1]'
  return "$st"
}

lua_rtt() { # [RECORD_AS]
  local as=${1:-rtt} out=$tmp/rtt.out
  new_group
  start_echo_workers 1 "$tmp/join.rtt."
  timeout -k 5 "$limit" "$marohost" "$bench_dir/proxy_rtt.lua" "$n_rtt" 64 \
    >"$out" 2>"$tmp/rtt.err" &
  local st=0
  wait_master $! || st=$?
  stop_pids "${worker_pids[@]}"
  pids=()
  local v
  if [ "$st" -eq 0 ] && v=$(value rtt_median_us "$out"); then
    record "$as" lua "$v"
    progress "  marohost $as: $v"
  else
    fail "proxy_rtt.lua (status $st)" "$tmp/rtt.err" "$tmp/workers.err"
  fi
}

# Broadcast rounds, joining and idle memory come from one group of a master
# and K workers. The workers start first and the master last, as the
# original's examples start them; joining is timed from the latest process
# start to the latest "joined" (maro.now() is CLOCK_MONOTONIC, shared by all
# processes).
lua_fanout() {
  local out=$tmp/fanout.out
  new_group
  rm -f "$tmp"/join.fan.*
  start_echo_workers "$workers" "$tmp/join.fan.w"
  timeout -k 5 "$limit" "$marohost" "$bench_dir/proxy_fanout.lua" "$n_fanout" 64 "$workers" \
    "$tmp/join.fan.m" >"$out" 2>"$tmp/fanout.err" &
  local st=0
  wait_master $! || st=$?
  # The master has left; the workers now sit idle in receive().
  local pid rss=()
  for pid in "${worker_pids[@]}"; do
    local kb
    kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) && [ -n "$kb" ] && rss+=("$kb")
  done
  stop_pids "${worker_pids[@]}"
  pids=()
  local v
  if [ "$st" -eq 0 ] && v=$(value fanout_median_us "$out"); then
    record fanout lua "$v"
    progress "  marohost fanout: $v"
  else
    fail "proxy_fanout.lua with $workers workers (status $st)" "$tmp/fanout.err" "$tmp/workers.err"
  fi
  local joined
  if joined=$(cat "$tmp"/join.fan.* 2>/dev/null |
      awk -v want=$((workers + 1)) '{ if ($1 > s) s = $1; if ($2 > j) j = $2; n++ }
                                    END { if (n != want) exit 1; printf "%.3f\n", j - s }'); then
    record join lua "$joined"
    progress "  marohost join: $joined s"
  else
    fail "joining: only $(cat "$tmp"/join.fan.* 2>/dev/null | wc -l) of $((workers + 1)) processes joined"
  fi
  if [ ${#rss[@]} -gt 0 ]; then
    local mib
    mib=$(printf '%s\n' "${rss[@]}" | sort -n | awk '{ v[NR] = $1 }
      END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f\n", m / 1024 }')
    record rss lua "$mib"
    progress "  marohost idle worker RSS: $mib MiB (median of ${#rss[@]})"
  else
    fail "idle RSS: no worker was alive after the master finished" "$tmp/workers.err"
  fi
}

# ---- the runs --------------------------------------------------------------

# Raw and marohost runs alternate, so that a change in the machine's load
# during the benchmark falls on both sides alike.
if [ "$raw_only" -eq 1 ]; then
  progress "raw libzmq baseline only ($runs runs)"
else
  progress "raw libzmq and marohost with maro.Proxy, alternating ($runs runs, Redis $MARO_REDIS)"
fi
# The header frame of the throughput runs' messages, for the raw row that
# moves the same frames: the names and group have the same lengths.
header_bytes=$("$marohost" -e "group = 'bench-$$-1'" -e 'local maro = require("maro")
  local m = maro.Message{ tag = "data", source = "sender_" .. ("0"):rep(32),
                          destination = "receiver_" .. ("0"):rep(32), payload = ("x"):rep(64) }
  io.write(#maro.wire.encode(m, group))')

group_key=$tmp/group.key
[ "$raw_only" -eq 1 ] || "$marohost" keygen "$group_key" >/dev/null

for ((r = 1; r <= runs; r++)); do
  progress "run $r of $runs"
  raw_run thr_msgs_per_s thr thr -n "$n_thr" -s 64
  raw_run thr_msgs_per_s thr_frames thr -n "$n_thr" -s 66 -H "$header_bytes"
  [ "$raw_only" -eq 1 ] || lua_thr thr thr_msgs_per_s "$n_thr" 64 new
  [ "$raw_only" -eq 1 ] || lua_thr thr_reuse thr_msgs_per_s "$n_thr" 64 reuse
  [ "$raw_only" -eq 1 ] || lua_thr thr_session thr_msgs_per_s "$n_thr" 64 session
  [ "$raw_only" -eq 1 ] || lua_thr thr_fast thr_msgs_per_s "$n_thr" 64 fast
  if [ "$raw_only" -eq 0 ]; then
    export MARO_GROUP_KEY_FILE=$group_key
    lua_thr thr_closed thr_msgs_per_s "$n_thr" 64 new
    lua_rtt rtt_closed
    unset MARO_GROUP_KEY_FILE
  fi
  raw_run thr_mib_per_s bw thr -n "$n_bw" -s 1048576
  raw_run thr_mib_per_s bw_zc thr -n "$n_bw" -s 1048576 -z
  [ "$raw_only" -eq 1 ] || lua_thr bw thr_mib_per_s "$n_bw" 1048576 new
  raw_run rtt_median_us rtt rtt -n "$n_rtt" -s 64
  [ "$raw_only" -eq 1 ] || lua_rtt
  raw_run fanout_median_us fanout fanout -n "$n_fanout" -s 64 -k "$workers"
  [ "$raw_only" -eq 1 ] || lua_fanout
done

# ---- the table -------------------------------------------------------------

# median METRIC SIDE: the median of the recorded runs, or "-" when none.
median() {
  awk -v m="$1" -v s="$2" '$1 == m && $2 == s { print $3 }' "$results" 2>/dev/null | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) { print "-"; exit }
           print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
all_runs() {
  awk -v m="$1" -v s="$2" '$1 == m && $2 == s { printf "%s%s", sep, $3; sep = " " }' "$results" 2>/dev/null
}
# paired RAW_METRIC METRIC: marohost / raw of each run in %, and their median. Both sides
# of a run are measured back to back, so these ratios show the spread that the
# machine's noise gives the ratio of the medians in the table.
paired() {
  local ratios
  ratios=$(awk -v r="$1" -v m="$2" '$1 == r && $2 == "raw" { raw[++nr] = $3 }
                          $1 == m && $2 == "lua" { lua[++nl] = $3 }
                          END { for (i = 1; i <= nr && i <= nl; i++)
                                  if (raw[i] > 0) printf "%.0f\n", 100 * lua[i] / raw[i] }' \
             "$results" 2>/dev/null)
  if [ -z "$ratios" ]; then
    echo "(none)"
    return
  fi
  echo "[$(echo "$ratios" | paste -sd ' ')] %, median $(echo "$ratios" | sort -g |
    awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }') %"
}

# row LABEL METRIC KIND TARGET_TEXT TARGET_VALUE [RAW_METRIC]
#   KIND share:   ratio = marohost / raw as %, met when >= target
#        times:   ratio = marohost / raw as x, met when <= target
#        max:     no raw; met when marohost <= target
#        below:   no raw; met when marohost < target
#        info:    ratio as %, no target
row() {
  local label=$1 metric=$2 kind=$3 target_text=$4 target=$5 raw_metric=${6:-$2}
  print_row "$label" "$(median "$raw_metric" raw)" "$(median "$metric" lua)" "$kind" \
    "$target_text" "$target"
}

# vs LABEL METRIC BASE TARGET_TEXT KIND TARGET: marohost against marohost.
vs() {
  print_row "$1" "$(median "$3" lua)" "$(median "$2" lua)" "$5" "$4" "$6"
}

# print_row LABEL BASE VALUE KIND TARGET_TEXT TARGET: one line of the table,
# VALUE against BASE ("-" when there is none), as row() describes KIND.
print_row() {
  awk -v label="$1" -v r="$2" -v l="$3" -v kind="$4" -v tt="$5" -v t="$6" '
    function num(x) { return x == "-" ? "-" : (x >= 1e6 ? sprintf("%.2f M", x / 1e6) : (x >= 100 ? sprintf("%.0f", x) : sprintf("%.3g", x))) }
    BEGIN {
      ratio = "-"; met = "-"
      if (l != "-") {
        if ((kind == "share" || kind == "info") && r != "-" && r > 0) { q = 100 * l / r; ratio = sprintf("%.0f %%", q); if (kind == "share") met = q >= t ? "yes" : "no" }
        if (kind == "times" && r != "-" && r > 0) { q = l / r; ratio = sprintf("%.2f x", q); met = q <= t ? "yes" : "no" }
        if (kind == "max") met = l <= t ? "yes" : "no"
        if (kind == "below") met = l < t ? "yes" : "no"
      }
      printf "%-44s %12s %12s %9s  %-22s %s\n", label, num(r), num(l), ratio, tt, met
    }'
}

echo
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build_dir/CMakeCache.txt" 2>/dev/null)
echo "maro.Proxy vs raw libzmq: medians of $runs run(s); $workers workers; $(nproc) CPUs;" \
  "${build_type:-default} build; $(date -u '+%Y-%m-%d %H:%M UTC')"
printf '%-44s %12s %12s %9s  %-22s %s\n' metric raw marohost ratio target met
printf '%s\n' "$(printf '%.0s-' {1..110})"
row "64 B, SessionMessage per isend (msg/s)" thr_session share ">= 30 % (aim 40 %)" 30 thr
row "  a Message per isend" thr info "(for comparison)" 0 thr
row "  one Message isent N times" thr_reuse info "(for comparison)" 0 thr
row "  a Message, against raw $header_bytes + 66 B frames" thr info "(for comparison)" 0 thr_frames
row "64 B, isend_to/receive_values (msg/s)" thr_fast share ">= 60 % (aim 80 %)" 60 thr
row "send() round trip, 64 B, median (us)" rtt times "<= 1.2 x" 1.2
row "1 MiB payload bandwidth (MiB/s)" bw share ">= 70 %" 70
row "  the same, against zero-copy raw" bw info "(for comparison)" 0 bw_zc
row "broadcast + $workers replies, median (us)" fanout times "<= 1.3 x" 1.3
row "join, master + $workers workers (s)" join max "<= 1 s" 1
row "idle worker RSS (MiB)" rss below "< 10 MiB" 10
row "bytes on loopback per 64 B Message" wire_thr max "<= 100" 100
row "bytes on loopback per 64 B SessionMessage" wire_thr_session max "<= 100" 100
row "bytes on loopback per 64 B isend_to" wire_thr_fast max "<= 100" 100
echo
printf '%-44s %12s %12s %9s  %-22s %s\n' "closed group (group key)" open closed ratio target met
vs "64 B isend->receive throughput (msg/s)" thr_closed thr ">= 70 % of open" share 70
vs "send() round trip, 64 B, median (us)" rtt_closed rtt "<= 1.2 x open" times 1.2
echo
echo "per run: thr raw [$(all_runs thr raw)] raw two frames [$(all_runs thr_frames raw)]"
echo "         thr marohost [$(all_runs thr lua)] reused [$(all_runs thr_reuse lua)]"
echo "         session [$(all_runs thr_session lua)] fast [$(all_runs thr_fast lua)]"
echo "         closed thr [$(all_runs thr_closed lua)] rtt [$(all_runs rtt_closed lua)]"
echo "         rtt raw [$(all_runs rtt raw)] marohost [$(all_runs rtt lua)]"
echo "         bw raw [$(all_runs bw raw)] zero-copy raw [$(all_runs bw_zc raw)] marohost [$(all_runs bw lua)]"
echo "         fanout raw [$(all_runs fanout raw)] marohost [$(all_runs fanout lua)]"
echo "         join [$(all_runs join lua)] rss [$(all_runs rss lua)]"
echo "paired: marohost/raw per run: SessionMessage $(paired thr thr_session)"
echo "        Message $(paired thr thr) fast path $(paired thr thr_fast)"
echo "instructions per message: scripts/bench/callgrind.sh (not timed here)"
echo "counts: --n $n_thr --n-bw $n_bw --n-rtt $n_rtt --n-fanout $n_fanout"

if [ "$failures" -gt 0 ]; then
  echo "$failures run(s) failed; see the FAILED lines above" >&2
  exit 1
fi
