#!/usr/bin/env bash
# The broadcast example: a master broadcasts to 5 workers, every worker
# replies, and the master names each replier.
#   examples/broadcast/run.sh [--immediate]
# Starts a private Redis, the workers and the master (marohost processes) and
# exits with the master's status. MAROHOST picks the binary (default build/marohost).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec "$here/../run-example.sh" broadcast \
  --workers 5 "$here/worker.lua" \
  --master "$here/master.lua" "$@"
