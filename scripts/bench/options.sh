# options.sh: what the benchmark scripts' command lines share. Sourced;
# usage prints the header comment of the script that was run.
usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"; exit "${1:-2}"; }
positive() { [[ $2 =~ ^[1-9][0-9]*$ ]] || { echo "$0: $1 wants a positive integer, got '$2'" >&2; exit 2; }; }
seconds() { [[ $2 =~ ^[0-9]*\.?[0-9]+$ ]] || { echo "$0: $1 wants seconds, got '$2'" >&2; exit 2; }; }
