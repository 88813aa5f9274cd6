#!/usr/bin/env bash
# Runs one example group: a private Redis, the workers and the master, each a
# separate marohost process in a fresh group. The examples' run.sh call this:
#
#   examples/run-example.sh NAME [--workers COUNT SCRIPT [ARGS...]]... --master SCRIPT [ARGS...]
#
# Waits for the master (at most EXAMPLE_TIMEOUT seconds, default 60), then
# stops the workers with SIGTERM (each leaves the group) and exits with the
# master's status.
#
# Environment: MAROHOST  the marohost binary (default: build/marohost of this
#                        repository, built first when missing)
#              EXAMPLE_TIMEOUT  seconds the master may run (default 60)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
  echo "usage: $0 NAME [--workers COUNT SCRIPT [ARGS...]]... --master SCRIPT [ARGS...]" >&2
  exit 2
}

# Every example gets its own Redis: re-run this script under with-redis.sh.
if [ -z "${MARO_EXAMPLE_REDIS_STARTED:-}" ]; then
  export MARO_EXAMPLE_REDIS_STARTED=1
  exec "$root/scripts/with-redis.sh" "$0" "$@"
fi

[ $# -ge 3 ] || usage
name=$1
shift

if [ -n "${MAROHOST:-}" ]; then
  marohost=$MAROHOST
  [ -x "$marohost" ] || { echo "$0: MAROHOST=$marohost is not an executable" >&2; exit 2; }
else
  marohost=$root/build/marohost
  if [ ! -x "$marohost" ]; then
    echo "$name: building $marohost" >&2
    cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$root/build" --target marohost -j"$(nproc)" >/dev/null
  fi
fi
# A binary built before the proxy existed fails in every process at once;
# one clear line is kinder.
if ! "$marohost" -e 'assert(require("maro").Proxy)' 2>/dev/null; then
  echo "$name: $marohost has no maro.Proxy; rebuild it (cmake --build $(dirname "$marohost"))" >&2
  exit 2
fi

# Worker specs arrive as groups of words; each group is kept as one line
# "COUNT<TAB>SCRIPT<TAB>ARG..." so that scripts and arguments may contain spaces.
worker_specs=()
master=()
while [ $# -gt 0 ]; do
  case $1 in
    --workers)
      [ $# -ge 3 ] || usage
      spec="$2"$'\t'"$3"
      shift 3
      while [ $# -gt 0 ] && [ "$1" != --workers ] && [ "$1" != --master ]; do
        spec+=$'\t'"$1"
        shift
      done
      worker_specs+=("$spec")
      ;;
    --master)
      [ $# -ge 2 ] || usage
      shift
      master=("$@")
      break
      ;;
    *) usage ;;
  esac
done
[ ${#master[@]} -gt 0 ] || usage

# A fresh group per run, so that nothing left over from another run (in this
# or any Redis) is counted as a peer.
export MARO_GROUP="example-$name-$$-$RANDOM"

worker_pids=()
master_pid=
stop_workers() {
  local pid
  for pid in "${worker_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  # Bounded wait for them to leave the group; whatever is still alive then is killed.
  local deadline=$((SECONDS + 5))
  for pid in "${worker_pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.05; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "$name: worker $pid did not stop on SIGTERM; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  worker_pids=()
}
# shellcheck disable=SC2317  # run by a trap
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$master_pid" ]; then kill -TERM "$master_pid" 2>/dev/null || true; fi
  stop_workers
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "$name: group $MARO_GROUP, Redis $MARO_REDIS"
for spec in "${worker_specs[@]}"; do
  IFS=$'\t' read -r -a words <<<"$spec"
  count=${words[0]}
  for ((i = 0; i < count; i++)); do
    "$marohost" "${words[@]:1}" &
    worker_pids+=($!)
  done
done

timeout --kill-after=5 "${EXAMPLE_TIMEOUT:-60}" "$marohost" "${master[@]}" <&0 &
master_pid=$!
status=0
wait "$master_pid" || status=$?
master_pid=
if [ "$status" -eq 124 ]; then echo "$name: the master did not finish within ${EXAMPLE_TIMEOUT:-60}s" >&2; fi
stop_workers
echo "$name: master exited with status $status"
exit "$status"
