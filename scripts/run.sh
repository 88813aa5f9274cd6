#!/usr/bin/env bash
# Sets up (packages + build) and runs the main example job.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec build/marohost examples/messages/messages.lua
