#!/usr/bin/env bash
# The release specs N times in a row (default 5) while one busy loop per core
# keeps the machine loaded: a spec that passes only on an idle machine fails
# here. Needs a build (scripts/setup.sh). Prints each run's summary line and
# the head of each failure; exits non-zero if any run failed.
#   scripts/specs_under_load.sh [N] [busted args...]
set -uo pipefail
cd "$(dirname "$0")/.."

runs=${1:-5}
[ $# -gt 0 ] && shift
case $runs in '' | *[!0-9]*) echo "usage: $0 [N] [busted args...]" >&2; exit 2 ;; esac

busy=()
trap 'kill "${busy[@]}" 2>/dev/null' EXIT
for _ in $(seq "$(nproc)"); do
  yes >/dev/null &
  busy+=($!)
done

log=$(mktemp)
failed=0
for i in $(seq "$runs"); do
  start=$(date +%s)
  MAROHOST="$PWD/build/marohost" busted --lua="$PWD/build/marohost" -o plainTerminal "$@" spec \
    >"$log" 2>&1
  status=$?
  echo "run $i of $runs: exit $status, $(($(date +%s) - start)) s:" \
       "$(grep -E '^[0-9]+ successes? /' "$log" | tail -1)"
  if [ "$status" -ne 0 ]; then
    failed=$((failed + 1))
    awk '/^(Failure|Error) -> /{n=8; print "  " $0; next} n>0{print "    " substr($0, 1, 300); n--}' "$log"
  fi
done
rm -f "$log"
echo "under load: $((runs - failed)) of $runs runs passed"
[ "$failed" -eq 0 ]
