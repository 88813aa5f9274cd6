#!/usr/bin/env bash
# The send example: a master sends a task to one worker and waits for the reply.
#   examples/send/run.sh [--immediate]
# Starts a private Redis, the worker and the master (marohost processes) and
# exits with the master's status. MAROHOST picks the binary (default build/marohost).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec "$here/../run-example.sh" send \
  --workers 1 "$here/worker.lua" \
  --master "$here/master.lua" "$@"
