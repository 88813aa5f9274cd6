#!/usr/bin/env bash
# The scale benchmark: one master and N members in one group, every one its
# own marohost process, started at once by `marohost launch` with its
# private Redis (scripts/bench/scale_job.lua). Prints what joining took,
# what the group costs Redis once everyone has joined, and what a member
# costs its machine. Figures are reported, never asserted: the exit status
# only says whether the run completed (and nothing was left running).
#
#   scripts/bench/scale.sh [options]
#     --members N     members besides the master (default 200)
#     --sample S      seconds of steady state sampled (default 10)
#     --settle S      seconds waited after the last join before sampling (default 3)
#     --timeout S     seconds allowed for joining (default 300)
#     --heartbeat-interval S, --heartbeat-expiry S, --peer-refresh-interval S
#                     Proxy options of every instance (default: the Proxy's,
#                     1 s, 3 s and 1 s)
#     --build-dir DIR build directory (default: $MARO_BUILD_DIR, else build)
#
# Environment: MAROHOST (the marohost binary; default DIR/marohost),
#              REDIS_CLI (default: redis-cli from PATH).
#
# What is measured:
#   joining     from the first script start (maro.now() at the top of the
#               earliest script, normally the master's) to the master's
#               return from maro.Proxy{} (it expects the N members), and to
#               the last member's return (each expects the master); also
#               when the last member script started, and Redis's commands
#               while everyone joined.
#   Redis       over the sample: commands per second as Redis counts them
#               (total_commands_processed, which counts the commands that
#               scripts run too), EVALs per second (the commands the members
#               send), the time Redis spent in them and its own CPU time;
#               connected clients per process (the master counts as one).
#   processes   VmRSS, open files and threads of the members (median) and of
#               the master, from /proc once everyone has joined.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bench_dir=$root/scripts/bench

members=200 sample=10 settle=3 join_timeout=300
build_dir=${MARO_BUILD_DIR:-$root/build}
. "$bench_dir/options.sh"
while [ $# -gt 0 ]; do
  case $1 in
    --members) positive "$1" "${2:-}"; members=$2; shift 2 ;;
    --sample) positive "$1" "${2:-}"; sample=$2; shift 2 ;;
    --settle) positive "$1" "${2:-}"; settle=$2; shift 2 ;;
    --timeout) positive "$1" "${2:-}"; join_timeout=$2; shift 2 ;;
    --heartbeat-interval) seconds "$1" "${2:-}"; export SCALE_HEARTBEAT_INTERVAL=$2; shift 2 ;;
    --heartbeat-expiry) seconds "$1" "${2:-}"; export SCALE_HEARTBEAT_EXPIRY=$2; shift 2 ;;
    --peer-refresh-interval) seconds "$1" "${2:-}"; export SCALE_PEER_REFRESH_INTERVAL=$2; shift 2 ;;
    --build-dir) build_dir=${2:?--build-dir needs a directory}; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "$0: unknown option $1" >&2; usage ;;
  esac
done
marohost=${MAROHOST:-$build_dir/marohost}
redis_cli=${REDIS_CLI:-redis-cli}
[ -x "$marohost" ] || { echo "$0: no marohost at $marohost (build first)" >&2; exit 2; }
command -v "$redis_cli" >/dev/null || { echo "$0: $redis_cli not found (install redis-tools)" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/maro-scale.XXXXXX")
launcher=
port=

progress() { echo "$*" >&2; }

# Every instance printed its pid; whatever is still alive at the end is
# reported and killed, by pid.
leftovers() {
  local pid left=()
  while read -r pid; do
    if kill -0 "$pid" 2>/dev/null; then left+=("$pid"); fi
  done < <(awk '$3 == "started" { print $5 }' "$tmp/out" 2>/dev/null)
  if [ -n "$launcher" ] && kill -0 "$launcher" 2>/dev/null; then left+=("$launcher"); fi
  echo "${left[@]}"
}

# shellcheck disable=SC2317  # run by a trap
cleanup() {
  local status=$? left
  trap - EXIT INT TERM
  if [ -n "$launcher" ] && kill -0 "$launcher" 2>/dev/null; then
    touch "$tmp/stop"
    local deadline=$((SECONDS + 30))
    while kill -0 "$launcher" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
    # SIGTERM stops every instance (and SIGKILLs them after the job's grace)
    # and the private Redis.
    kill -TERM "$launcher" 2>/dev/null || true
    wait "$launcher" 2>/dev/null || true
  fi
  left=$(leftovers)
  if [ -n "$left" ]; then
    echo "$0: still running at the end, killed: $left" >&2
    # shellcheck disable=SC2086
    kill -KILL $left 2>/dev/null || true
    status=1
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
  echo "$0: $1" >&2
  [ -f "${2:-}" ] && grep -v ' info: ' "$2" | tail -20 >&2
  exit 1
}

info() { "$redis_cli" -p "$port" info "$1" | tr -d '\r'; }
field() { awk -F: -v k="$2" '$1 == k { print $2 }' <<<"$1"; }
# calls and usec of one command in an INFO commandstats text
cmdstat() { awk -F'[:=,]' -v c="cmdstat_$2" -v f="$3" '$1 == c { for (i = 2; i < NF; i += 2) if ($i == f) print $(i + 1) }' <<<"$1"; }

intervals="heartbeat_interval ${SCALE_HEARTBEAT_INTERVAL:-1} s, heartbeat_expiry ${SCALE_HEARTBEAT_EXPIRY:-3} s, peer_refresh_interval ${SCALE_PEER_REFRESH_INTERVAL:-1} s"
progress "scale: a master and $members members, started by marohost launch"
: >"$tmp/out"
: >"$tmp/err"
"$marohost" launch "$bench_dir/scale_job.lua" "$members" "$tmp/stop" >"$tmp/out" 2>"$tmp/err" &
launcher=$!

deadline=$((SECONDS + 30))
until port=$(sed -n 's/.*private Redis at 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$tmp/err") && [ -n "$port" ]; do
  kill -0 "$launcher" 2>/dev/null || fail "the launcher has exited" "$tmp/err"
  [ "$SECONDS" -lt "$deadline" ] || fail "no private Redis within 30 s" "$tmp/err"
  sleep 0.1
done
progress "  private Redis on port $port"

expected=$((members + 1))
deadline=$((SECONDS + join_timeout))
while :; do
  joined=$(grep -c ' | joined ' "$tmp/out" || true)
  [ "$joined" -ge "$expected" ] && break
  kill -0 "$launcher" 2>/dev/null || fail "the launcher has exited ($joined of $expected joined)" "$tmp/err"
  [ "$SECONDS" -lt "$deadline" ] || fail "only $joined of $expected joined within $join_timeout s" "$tmp/err"
  sleep 0.2
done
join_stats=$(info stats)
join_cmds=$(info commandstats)
progress "  all $expected joined"

# "NAME | started T PID" and "NAME | joined T": the times, relative to the
# first start.
read -r t_master t_members t_last_start < <(awk '
  $3 == "started" { if (first == "" || $4 < first) first = $4; if ($4 > last) last = $4 }
  $3 == "joined" && $1 ~ /^master/ { master = $4 }
  $3 == "joined" && $1 ~ /^member/ { if ($4 > members) members = $4 }
  END { printf "%.2f %.2f %.2f\n", master - first, members - first, last - first }' "$tmp/out")

progress "  steady state: settling $settle s, then sampling $sample s"
sleep "$settle"
# Memory, files and threads: the members' median, and the master.
proc_figures() {
  local pid=$1 rss fds threads
  rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || return 0
  threads=$(awk '/^Threads:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || return 0
  fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
  echo "$rss $fds $threads"
}
median_col() { sort -n -k"$1" | awk -v k="$1" '{ v[NR] = $k } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
master_pid=$(awk '$1 ~ /^master/ && $3 == "started" { print $5 }' "$tmp/out")
: >"$tmp/members.proc"
while read -r pid; do
  proc_figures "$pid" >>"$tmp/members.proc"
done < <(awk '$1 ~ /^member/ && $3 == "started" { print $5 }' "$tmp/out")
read -r master_rss master_fds master_threads < <(proc_figures "$master_pid")
member_rss=$(median_col 1 <"$tmp/members.proc")
member_fds=$(median_col 2 <"$tmp/members.proc")
member_threads=$(median_col 3 <"$tmp/members.proc")

s0=$(info stats) c0=$(info commandstats) u0=$(info cpu) t0=$(date +%s.%N)
sleep "$sample"
s1=$(info stats) c1=$(info commandstats) u1=$(info cpu) t1=$(date +%s.%N)
clients=$(field "$(info clients)" connected_clients)
used_memory=$(field "$(info memory)" used_memory)

# Between the two samples; the INFO commands of this script are left out.
elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
total=$(( $(field "$s1" total_commands_processed) - $(field "$s0" total_commands_processed) - 3 ))
evals=$(( $(cmdstat "$c1" eval calls) - $(cmdstat "$c0" eval calls) ))
eval_usec=$(( $(cmdstat "$c1" eval usec) - $(cmdstat "$c0" eval usec) ))
cpu=$(awk -v a="$(field "$u0" used_cpu_sys)" -v b="$(field "$u0" used_cpu_user)" \
          -v c="$(field "$u1" used_cpu_sys)" -v d="$(field "$u1" used_cpu_user)" \
          'BEGIN { print (c + d) - (a + b) }')
join_total=$(field "$join_stats" total_commands_processed)
join_evals=$(cmdstat "$join_cmds" eval calls)
join_publish=$(cmdstat "$join_cmds" publish calls)

procs=$expected
awk -v n="$members" -v procs="$procs" -v el="$elapsed" -v total="$total" -v evals="$evals" \
    -v eval_usec="$eval_usec" -v cpu="$cpu" -v clients="$clients" -v mem="$used_memory" \
    -v tm="$t_master" -v tall="$t_members" -v tls="$t_last_start" \
    -v iv="$intervals" -v jt="$join_total" -v je="$join_evals" -v jp="${join_publish:-0}" \
    -v mrss="$member_rss" -v mfds="$member_fds" -v mthr="$member_threads" \
    -v Mrss="$master_rss" -v Mfds="$master_fds" -v Mthr="$master_threads" 'BEGIN {
  printf "scale: 1 master + %d members, one group, private Redis on loopback\n", n
  printf "  %s\n", iv
  printf "joining (from the first script start)\n"
  printf "  last member script started        %8.2f s\n", tls
  printf "  master joined (expects %d)       %8.2f s\n", n, tm
  printf "  every member joined               %8.2f s\n", tall
  printf "  Redis commands while joining      %8d (%d EVAL, %d PUBLISH; %.0f EVAL per process)\n", jt, je, jp, je / procs
  printf "steady state (%.1f s sampled)\n", el
  printf "  Redis commands/s                  %8.0f (%.1f per process, with the commands that scripts run)\n", total / el, total / el / procs
  printf "  Redis EVAL/s                      %8.0f (%.2f per process)\n", evals / el, evals / el / procs
  printf "  Redis time in EVAL                %8.1f ms/s (%.1f us per EVAL)\n", eval_usec / el / 1000, evals ? eval_usec / evals : 0
  printf "  Redis CPU                         %8.1f %% of a core\n", 100 * cpu / el
  printf "  Redis connections                 %8d (%.2f per process)\n", clients - 1, (clients - 1) / procs
  printf "  Redis memory                      %8.2f MiB\n", mem / 1048576
  printf "processes (from /proc, once everyone had joined)\n"
  printf "  member: VmRSS %.1f MiB, %d open files, %d threads (medians)\n", mrss / 1024, mfds, mthr
  printf "  master: VmRSS %.1f MiB, %d open files, %d threads\n", Mrss / 1024, Mfds, Mthr
}'

touch "$tmp/stop"
status=0
wait "$launcher" || status=$?
launcher_done=$launcher
launcher=
stopped=$(sed -n 's/^master\.1 *| stopped \([0-9]*\)$/\1/p' "$tmp/out")
left=$(leftovers)
if [ "$status" -ne 0 ] || [ -n "$left" ]; then
  fail "the job (launcher $launcher_done) ended with status $status${left:+; still running: $left}" "$tmp/err"
fi
progress "  the master stopped ${stopped:-?} members; the job ended with status 0, nothing left running"
