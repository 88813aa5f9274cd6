#!/usr/bin/env bash
# Runs a command next to a private, throw-away Redis:
#   scripts/with-redis.sh CMD [ARGS...]
# Starts redis-server on a free 127.0.0.1 port with persistence off, in a
# temporary directory; waits until it answers PING; runs CMD with
# MARO_REDIS=127.0.0.1:PORT (and MARO_REDIS_PORT=PORT) in its environment;
# stops Redis and removes the directory on any exit. Exits with CMD's status
# (128+N when a signal N ended the run).
#
# Environment: REDIS_SERVER, REDIS_CLI (default: from PATH),
#              WITH_REDIS_START_TIMEOUT (seconds per start attempt, default 10).
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi

redis_server=${REDIS_SERVER:-redis-server}
redis_cli=${REDIS_CLI:-redis-cli}
start_timeout=${WITH_REDIS_START_TIMEOUT:-10}
for tool in "$redis_server" "$redis_cli"; do
  command -v "$tool" >/dev/null || { echo "$0: $tool not found (install redis-server)" >&2; exit 2; }
done

dir=
redis_pid=
cmd_pid=
port=

# shellcheck disable=SC2317  # run by a trap
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$cmd_pid" ] && kill -0 "$cmd_pid" 2>/dev/null; then
    # The command gets a bounded time to stop on SIGTERM, so that Redis is
    # never left behind by a command that ignores it.
    kill -TERM "$cmd_pid" 2>/dev/null || true
    local deadline=$((SECONDS + 10))
    while kill -0 "$cmd_pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.05; done
    kill -KILL "$cmd_pid" 2>/dev/null || true
    wait "$cmd_pid" 2>/dev/null || true
  fi
  if [ -n "$redis_pid" ]; then
    # SHUTDOWN NOSAVE is the clean way; the signal is the fallback when it
    # does not answer.
    "$redis_cli" -p "$port" shutdown nosave >/dev/null 2>&1 || kill -TERM "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
  fi
  if [ -n "$dir" ]; then rm -rf "$dir"; fi
  exit "$status"
}
trap cleanup EXIT
# The command runs in the background (so that these traps run at once), and a
# background job of a script ignores SIGINT: forward both signals as SIGTERM.
# shellcheck disable=SC2317  # run by a trap
on_signal() {
  trap - INT TERM
  if [ -n "$cmd_pid" ]; then kill -TERM "$cmd_pid" 2>/dev/null || true; fi
  exit "$1"
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
dir=$(mktemp -d "${TMPDIR:-/tmp}/with-redis.XXXXXX")

# Starts redis-server on $1 and returns 0 once it answers, 1 if it exited
# (the port was taken) and 2 if it neither answered nor exited in time.
try_start() {
  port=$1
  "$redis_server" --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly no \
    --daemonize no --protected-mode yes --logfile "$dir/redis.log" &
  redis_pid=$!
  local deadline=$((SECONDS + start_timeout))
  while [ "$SECONDS" -le "$deadline" ]; do
    if [ "$("$redis_cli" -p "$port" ping 2>/dev/null)" = PONG ]; then return 0; fi
    if ! kill -0 "$redis_pid" 2>/dev/null; then
      wait "$redis_pid" 2>/dev/null || true
      redis_pid=
      return 1
    fi
    sleep 0.05
  done
  return 2
}

# A port that is free now may be taken a moment later, so the proof is Redis
# itself binding it: try random ports in the ephemeral-free range until one
# works.
started=0
for _attempt in 1 2 3 4 5 6 7 8 9 10; do
  candidate=$((20000 + RANDOM % 30000))
  # A port something already listens on would answer the PING for us.
  if (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then continue; fi
  rc=0
  try_start "$candidate" || rc=$?
  if [ "$rc" -eq 0 ]; then started=1; break; fi
  if [ "$rc" -eq 2 ]; then
    echo "$0: redis-server on port $candidate did not answer within ${start_timeout}s; log:" >&2
    tail -n 20 "$dir/redis.log" >&2 || true
    exit 1
  fi
done
if [ "$started" -ne 1 ]; then
  echo "$0: could not start redis-server on a free port; last log:" >&2
  tail -n 20 "$dir/redis.log" >&2 || true
  exit 1
fi

export MARO_REDIS="127.0.0.1:$port"
export MARO_REDIS_PORT="$port"
# An explicit redirection keeps the terminal's stdin, which a background job
# would otherwise lose.
"$@" <&0 &
cmd_pid=$!
status=0
wait "$cmd_pid" || status=$?
cmd_pid=
exit "$status"
