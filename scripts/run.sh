#!/usr/bin/env bash
# Sets up (packages + build) and runs the main example job: a master and four
# workers started by marohost launch, with a private Redis (examples/job).
#   scripts/run.sh [WORKERS [N]]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec build/marohost launch examples/job/job.lua "$@"
