#!/usr/bin/env bash
# Installs what marohost needs on Debian 12 (as root, or through sudo) and
# builds it into build/. Safe to run again: it installs only what is missing.
#   scripts/setup.sh            packages + release build
#   scripts/setup.sh --deps     packages only
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake pkg-config
  liblua5.4-dev lua5.4 libzmq3-dev libhiredis-dev uuid-dev libmsgpack-dev libsodium-dev  # build
  lua-busted redis-server                                                   # tests
  iproute2 python3-yaml tcpdump    # tests: network namespaces, manifests, captured traffic
  clang libclang-rt-14-dev valgrind                                         # fuzzing, sanitizers
)

# kubectl for the manifest checks, unless one is installed already (another
# package may provide it).
command -v kubectl >/dev/null 2>&1 || packages+=(kubernetes-client)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The packaged redis-server starts a system instance; tests start their own.

[ "${1:-}" = "--deps" ] && exit 0
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
echo "setup: built build/marohost and build/lua/maro/core.so"
