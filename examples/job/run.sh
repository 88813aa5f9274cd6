#!/usr/bin/env bash
# The job example: a master sums 1..N with the help of WORKERS workers, all
# started by `marohost launch` with a private Redis.
#   examples/job/run.sh [WORKERS [N]]        (defaults: 4 workers, N = 1000)
# Exits with the launcher's status: 0 when the master printed the right sum.
# MAROHOST picks the binary (default build/marohost, built when missing).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
marohost=${MAROHOST:-$root/build/marohost}
if [ ! -x "$marohost" ]; then
  cmake -S "$root" -B "$root/build" >/dev/null && cmake --build "$root/build" -j"$(nproc)" >/dev/null
fi
exec "$marohost" launch "$here/job.lua" "$@"
