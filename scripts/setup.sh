#!/usr/bin/env bash
# One-step setup on a fresh machine: host packages (Debian/Ubuntu, via apt; skipped
# elsewhere with a note), npm dependencies (without Electron's binary download, which needs
# the outside network), and a build.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v apt-get >/dev/null 2>&1; then
  mapfile -t pkgs < <(grep -v '^\s*#' scripts/host-packages.txt | grep -v '^\s*$')
  missing=()
  for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ "${#missing[@]}" -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "setup: installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
else
  echo "setup: not a Debian/Ubuntu host; install QEMU (>= 6.2), OVMF, swtpm and SeaBIOS with your package manager."
  echo "setup: without QEMU, Maru runs 32-bit guests on its embedded v86 engine."
fi

if [ -d node_modules ] && [ "${MARU_SETUP_FORCE_CI:-0}" != 1 ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
  echo "setup: node_modules is up to date"
else
  ELECTRON_SKIP_BINARY_DOWNLOAD=1 npm ci
fi
npm run build
