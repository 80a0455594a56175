#!/usr/bin/env bash
# A fresh clone's `npm install` must leave package-lock.json as committed (issue 12, item 9).
# Clones the committed HEAD of this repository into a temporary folder, installs, and fails if
# git sees any change.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
git clone --quiet "$repo" "$dir/clone"
cd "$dir/clone"
npm install --no-audit --no-fund --ignore-scripts >/dev/null
if [ -n "$(git status --porcelain)" ]; then
  echo "npm install in a fresh clone changed:" >&2
  git status --short >&2
  git --no-pager diff --stat >&2
  exit 1
fi
echo "fresh clone: npm install left the lockfile unchanged"
