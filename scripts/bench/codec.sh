#!/usr/bin/env bash
# Codec benchmark: builds a Release tree and runs bench_codec (C) and
# codec.lua (Lua, under marohost) RUNS times, then prints the median of each
# figure over the runs (each run already reports medians of its repeats).
#   scripts/bench/codec.sh [RUNS, default 3] [seconds per measurement, default 0.2]
# Environment: BUILD_DIR (default build-bench).
# Targets: encode and decode of the small message under 1 us each;
# the 1 MiB payload costs no more than one copy each way.
set -euo pipefail
cd "$(dirname "$0")/../.."

runs=${1:-3}
seconds=${2:-0.2}
dir=${BUILD_DIR:-build-bench}

cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$dir" --target marohost bench_codec -j2 >/dev/null

out=$(mktemp)
trap 'rm -f "$out"' EXIT
for ((i = 1; i <= runs; i++)); do
  "$dir/bench/bench_codec" "$seconds" 5 >>"$out"
  "$dir/marohost" scripts/bench/codec.lua "$seconds" 5 >>"$out"
done

# Medians over the runs, per case and figure; the last run's sizes.
awk -v runs="$runs" '
  function median(name, cnt,   i, j, t, a) {
    for (i = 1; i <= cnt; i++) a[i] = vals[name, i] + 0
    for (i = 1; i <= cnt; i++) for (j = i + 1; j <= cnt; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return a[int((cnt + 1) / 2)]
  }
  /^(bench_codec|codec\.lua):/ { next }
  /^[a-zA-Z0-9]+: / {
    cs = $1; sub(":", "", cs)
    if (!(cs in seen)) { seen[cs] = 1; order[++n] = cs }
    line = $0; sub("^[^:]*: ", "", line); sizes[cs] = sizes[cs] (cs in sized ? "" : line); sized[cs] = 1
    next
  }
  /us\/msg$/ {
    name = cs " " $1 " " $2
    if (!(name in count)) { figs[cs, ++nf[cs]] = name }
    vals[name, ++count[name]] = $(NF - 1)
    next
  }
  /memcpy of the payload/ { name = cs " memcpy"; vals[name, ++count[name]] = $5 }
  END {
    printf "codec benchmark: medians over %d runs\n", runs
    for (c = 1; c <= n; c++) {
      cs = order[c]
      printf "%s: %s\n", cs, sizes[cs]
      for (k = 1; k <= nf[cs]; k++) {
        name = figs[cs, k]; split(name, parts, " ")
        t = median(name, count[name])
        med[name] = t
        printf "  %-9s %-15s %10.3f us/msg %12.0f msg/s\n", parts[2], parts[3], t, 1e6 / t
      }
      name = cs " memcpy"
      if (name in count) {
        cp = median(name, count[name])
        printf "  memcpy of the payload %.3f us; cost in copies: codec encode %.2f, codec decode %.2f, message encode %.2f, message decode %.2f\n", \
          cp, med[cs " codec encode"] / cp, med[cs " codec decode"] / cp, med[cs " message encode"] / cp, med[cs " message decode"] / cp
      }
    }
  }' "$out"
