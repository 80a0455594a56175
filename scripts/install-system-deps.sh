#!/usr/bin/env bash
# Debian packages the tests use: redis-server (many-nodes tests), python3-websockets (a client from
# another stack) and chromium (the browser test). Installs only what is missing.
set -euo pipefail
packages=(redis-server python3-websockets chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
