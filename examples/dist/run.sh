#!/usr/bin/env bash
# The dist example: a master runs the "rollout" loop with 3 dist workers.
#   examples/dist/run.sh [EPISODES]
# Starts a private Redis, the workers and the master (marohost processes) and
# exits with the master's status. MAROHOST picks the binary (default build/marohost).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec "$here/../run-example.sh" dist \
  --workers 3 "$here/worker.lua" \
  --master "$here/master.lua" 3 "$@"
