#!/usr/bin/env bash
# The scatter example: a master scatters sum tasks to 5 sum workers and product
# tasks to 5 product workers and checks the totals.
#   examples/scatter/run.sh [--immediate]
# Starts a private Redis, the 10 workers and the master (marohost processes) and
# exits with the master's status. MAROHOST picks the binary (default build/marohost).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec "$here/../run-example.sh" scatter \
  --workers 5 "$here/worker.lua" sum \
  --workers 5 "$here/worker.lua" product \
  --master "$here/master.lua" "$@"
