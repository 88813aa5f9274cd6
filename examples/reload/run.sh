#!/usr/bin/env bash
# The reload example: a worker whose handler file you edit while it runs.
#   examples/reload/run.sh [SECONDS]   a master ticks the worker for SECONDS (default 60);
#                                      edit examples/reload/handlers.lua meanwhile
#   examples/reload/run.sh --demo      the master edits a copy of the file itself and
#                                      checks that the new handler answers within 1 s
# Starts a private Redis, the worker and the master (marohost processes) and
# exits with the master's status. MAROHOST picks the binary (default build/marohost).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ "${1:-}" = --demo ]; then
  copy=$(mktemp -d "${TMPDIR:-/tmp}/maro-reload.XXXXXX")
  trap 'rm -rf "$copy"' EXIT
  cp "$here/handlers.lua" "$copy/handlers.lua"
  "$here/../run-example.sh" reload \
    --workers 1 "$here/worker.lua" "$copy/handlers.lua" \
    --master "$here/master.lua" --demo "$copy/handlers.lua"
else
  exec "$here/../run-example.sh" reload \
    --workers 1 "$here/worker.lua" \
    --master "$here/master.lua" "$@"
fi
